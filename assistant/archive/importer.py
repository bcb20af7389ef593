"""Record a whole call from a timed transcript: check every line, archive it, seal it.

Everything is validated before anything is written (the transcript's lines and header,
the case file, the audio), and the call is written in one transaction: an import either
records the whole call, sealed, or nothing. A call left interrupted (by a live session
that died, or an earlier version) can be finished under the same id with ``resume=True``;
the resumption is a chained record that the archive log vouches for.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from assistant import __version__
from assistant._values import parse_time
from assistant.archive.store import Archive
from assistant.asr.scripted import load_transcript, transcript_language, transcript_utterances
from assistant.errors import ArchiveError, InputValidationError
from assistant.events import CallStarted, Finding, LowConfidence
from assistant.files import file_digest, fingerprint, load_case_mapping
from assistant.pipeline import CallPipeline
from assistant.pipeline.sinks import ArchiveSink
from assistant.rules.loader import lexicon_root
from assistant.text import detect_language

AUDIO_SLACK = 1.0  # seconds a transcript may run past the end of its recording (rounding, trailing silence)


def ruleset_fingerprint(lang: str) -> str:
    """SHA-256 over the language's rule files and the meaning model: which rules judged a call."""
    root = lexicon_root()
    return fingerprint([*sorted((root / lang).glob("*.yaml")), *sorted((root / lang / "call").glob("*.yaml")), root / "meaning_model.npz"])


def load_case(path: str | Path) -> dict[str, Any]:
    """A case file (YAML): ``id`` plus debtor name, institution, amount due, days overdue …"""
    data = load_case_mapping(path, ArchiveError)
    if not data.get("id") or not isinstance(data["id"], (str, int)):
        raise ArchiveError(f"{path}: a case file is a mapping with at least an `id`")
    data["id"] = str(data["id"])
    return data


@dataclass
class ImportResult:
    """What one import recorded."""

    call_id: str
    utterances: int = 0
    findings: Counter[str] = field(default_factory=Counter)
    head: str = ""
    resumed_after: int | None = None  # utterances already recorded when an interrupted call was resumed
    warnings: list[str] = field(default_factory=list)


def _check_language(lang: str, rows: list[dict[str, Any]], source: str) -> None:
    """Refuse a language that the transcript plainly is not in (``--lang en`` on a Chinese call)."""
    text = " ".join(r["text"] for r in rows[:50])
    if len(text.strip()) < 20:
        return
    seen = detect_language(text)
    if seen != lang:
        names = {"zh": "Chinese", "en": "English"}
        raise InputValidationError(f"{source} reads as {names.get(seen, seen)}, not {names.get(lang, lang)}: "
                                   f"check --lang (or the header's `lang`); the call was not recorded")


@dataclass
class PreparedCall:
    """A transcript read, validated and checked, ready to be recorded (nothing written yet)."""

    path: Path
    call_id: str
    lang: str
    meta: dict[str, Any]
    judged: list[tuple[Any, list[Any]]]  # (utterance, its findings and low-confidence mark), in order
    warnings: list[str]
    audio: Path | None = None
    audio_info: Any = None
    audio_sha256: str = ""
    case: dict[str, Any] = field(default_factory=dict)  # what the call rules read: the case given, else the header's inline `case`

    def contact_findings(self, archive: Archive | None) -> list[Finding]:
        """The contact rules the call broke when it was made (its ``started_at``), given the
        case's other calls in ``archive``; none without a case or a start time."""
        started = parse_time(self.meta.get("started_at"))
        if not self.case or started is None:
            return []
        from assistant.archive.history import contact_findings

        return [replace(f, call_id=self.call_id) for f in contact_findings(archive, self.case, started, self.lang, exclude=self.call_id)]


def prepare_import(transcript: str | Path, *, audio: str | Path | None = None, call_id: str | None = None, lang: str | None = None,
                   checker: Any = None, progress: Callable[[int, int], None] | None = None, case: Mapping[str, Any] | None = None) -> PreparedCall:
    """Everything that can go wrong before the archive is touched: read and validate the
    transcript, check its language and the audio against it, and check every line (and the
    call rules, which read the ``case``: callee role, agency, initial communication …; when
    none is given, the transcript header's inline ``case``)."""
    from assistant.audio.wav import wav_info
    from assistant.checker import Checker

    path = Path(transcript)
    warnings: list[str] = []
    meta, rows = load_transcript(path, warnings)
    checker = checker or Checker()
    use_lang, declared = transcript_language(meta, rows, lang)
    if declared:
        _check_language(use_lang, rows, str(path))
    cid = call_id or str(meta.get("id") or path.stem)
    if case is None and meta.get("case") is not None:
        if not isinstance(meta["case"], dict):
            raise InputValidationError(f"{path}:1: the header's `case` must be a mapping of case details")
        case = meta["case"]
    prepared = PreparedCall(path, cid, use_lang, meta, [], warnings, case=dict(case or {}))
    if audio is not None:
        apath = Path(audio)
        info = wav_info(apath)
        last = max(float(r["end"]) for r in rows)
        if last > info.duration + AUDIO_SLACK:
            raise InputValidationError(f"{path} runs to {last:.1f} s but {apath.name} lasts {info.duration:.1f} s: "
                                       "is this the recording of this call? nothing was recorded")
        digest = file_digest(apath)
        if meta.get("audio_sha256") and meta["audio_sha256"] != digest:
            raise InputValidationError(f"{apath.name} is not the recording the transcript names (its SHA-256 differs): nothing was recorded")
        prepared.audio, prepared.audio_info, prepared.audio_sha256 = apath, info, digest
    utterances = transcript_utterances(cid, rows)
    pipeline = CallPipeline(cid, use_lang, checker=checker, suggest=False, case=case,  # a past call: nobody is shown suggestions
                            meta={"channel": str(meta.get("channel") or "")})
    for utt in utterances:  # check every line first: a checker failure must not leave half a call behind
        events = pipeline.feed(utt)
        prepared.judged.append((utt, [e for e in events if isinstance(e, (Finding, LowConfidence))]))
        if progress:
            progress(utt.seq, len(utterances))
    if prepared.judged:  # what the call still owed at its end (call rules), recorded after its last line
        prepared.judged[-1][1].extend(pipeline.call_findings())
    return prepared


def record_import(archive: Archive, prepared: PreparedCall, *, case: dict[str, Any] | None = None, agent_id: str = "",
                  resume: bool = False) -> ImportResult:
    """Write a prepared call to the archive in one transaction and seal it (all or nothing).
    ``case`` defaults to the one the call was checked with."""
    cid, meta, judged, path = prepared.call_id, prepared.meta, prepared.judged, prepared.path
    case = case if case is not None else (prepared.case or None)
    result = ImportResult(cid, warnings=prepared.warnings)
    sink = ArchiveSink(archive)  # the live pipeline's archive sink: one way of recording a call
    with archive.transaction():
        status = archive.status(cid)
        existing = archive.records(cid) if status is not None else []
        skip = 0
        if status is not None:
            if status == "interrupted" and resume:
                skip = archive.reopen(cid, f"import resumed from {path.name} by callassist {__version__}")
                recorded = [r for t, r in existing if t == "utterances"]
                for row, (utt, _) in zip(recorded, judged):
                    if row["seq"] != utt.seq or row["text"] != utt.text:
                        raise InputValidationError(f"call {cid}: utterance {row['seq']} in the archive differs from line {utt.seq} of {path.name}: "
                                                   "this is not the transcript of that call; nothing was recorded")
                if skip > len(judged):
                    raise InputValidationError(f"call {cid} already holds {skip} utterances, more than {path.name} has: nothing was recorded")
                result.resumed_after = skip
            elif status == "interrupted":
                raise ArchiveError(f"call {cid!r} was interrupted earlier: add --resume to finish it under the same id "
                                   "(the resumption is recorded in its chain), or choose another --call-id")
            else:
                raise ArchiveError(f"call {cid!r} is already in the archive ({status}); choose another --call-id")
        else:
            sink.handle(CallStarted(cid, prepared.lang, {
                "case": case, "agent_id": agent_id or str(meta.get("agent_id", "")), "agent_name": str(meta.get("agent_name", "")),
                "direction": str(meta.get("direction", "outbound")), "started_at": meta.get("started_at"),
                "channel_map": meta.get("channels") or meta.get("channel_map") or {}, "asr_model": str(meta.get("model", "reference transcript")),
                "ruleset_version": __version__, "ruleset_hash": ruleset_fingerprint(prepared.lang), "source": str(path)}))
            for f in prepared.contact_findings(archive):  # was the call allowed then, given the case's earlier calls?
                sink.handle(f)
                result.findings[f.category] += 1
        if prepared.audio is not None and not any(t == "audio_files" for t, _ in existing):
            info = prepared.audio_info
            archive.add_audio(cid, prepared.audio, sha256=prepared.audio_sha256, duration=info.duration, sample_rate=info.sample_rate,
                              channels=info.channels)
        for utt, events in judged[skip:]:
            sink.handle(utt)
            for event in events:
                sink.handle(event)
                if isinstance(event, Finding):
                    result.findings[event.category] += 1
            result.utterances += 1
        result.head = archive.seal(cid)
    return result


def import_transcript(archive: Archive, transcript: str | Path, *, audio: str | Path | None = None, case: dict[str, Any] | None = None,
                      call_id: str | None = None, agent_id: str = "", lang: str | None = None, checker: Any = None,
                      progress: Callable[[int, int], None] | None = None, resume: bool = False) -> ImportResult:
    """Check and archive every line of a timed transcript, then seal the call (all or nothing)."""
    prepared = prepare_import(transcript, audio=audio, call_id=call_id, lang=lang, checker=checker, progress=progress, case=case)
    return record_import(archive, prepared, case=case, agent_id=agent_id, resume=resume)
