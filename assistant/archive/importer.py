"""Record a whole call from a timed transcript: check every line, archive it, seal it.

The same writer (:class:`~assistant.archive.store.Archive`) the live session uses.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from assistant import __version__
from assistant.asr.scripted import load_transcript, transcript_utterances
from assistant.archive.store import Archive, ArchiveError
from assistant.checker import Checker
from assistant.files import file_digest, fingerprint, load_mapping
from assistant.rules.loader import lexicon_root


def ruleset_fingerprint(lang: str) -> str:
    """SHA-256 over the language's rule files and the meaning model: which rules judged a call."""
    root = lexicon_root()
    return fingerprint([*sorted((root / lang).glob("*.yaml")), root / "meaning_model.npz"])


def load_case(path: str | Path) -> dict[str, Any]:
    """A case file (YAML): ``id`` plus debtor name, institution, amount due, days overdue …"""
    data = load_mapping(path, "case file", ArchiveError)
    if not data.get("id"):
        raise ArchiveError(f"{path}: a case file is a mapping with at least an `id`")
    return data


@dataclass
class ImportResult:
    """What one import recorded."""

    call_id: str
    utterances: int = 0
    findings: Counter = field(default_factory=Counter)
    head: str = ""


def import_transcript(archive: Archive, transcript: str | Path, *, audio: str | Path | None = None, case: dict[str, Any] | None = None,
                      call_id: str | None = None, agent_id: str = "", lang: str | None = None, checker: Checker | None = None,
                      progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Check and archive every line of a timed transcript, then seal the call."""
    path = Path(transcript)
    meta, rows = load_transcript(path)
    checker = checker or Checker()
    use_lang = lang or meta.get("lang")
    if use_lang not in ("zh", "en"):  # no usable language in the header: detect it from the first lines
        use_lang = checker.resolve_lang(" ".join(r["text"] for r in rows[:5]), None)
    cid = call_id or str(meta.get("id") or path.stem)
    channels = meta.get("channels") or meta.get("channel_map") or {}
    cid = archive.start_call(cid, case=case, agent_id=agent_id or str(meta.get("agent_id", "")), agent_name=str(meta.get("agent_name", "")),
                             direction=str(meta.get("direction", "outbound")), started_at=meta.get("started_at"), lang=use_lang,
                             channel_map=channels, asr_model=str(meta.get("model", "reference transcript")),
                             ruleset_version=__version__, ruleset_hash=ruleset_fingerprint(use_lang), source=str(path))
    result = ImportResult(cid)
    if audio is not None:
        from assistant.audio.wav import read_wav

        apath = Path(audio)
        wav = read_wav(apath)
        archive.add_audio(cid, apath, sha256=file_digest(apath), duration=wav.duration, sample_rate=wav.sample_rate, channels=len(wav.channels))
    rule_versions = {r.id: r.version for r in checker.lexicon(use_lang).rules}
    utterances = transcript_utterances(cid, rows)
    for utt in utterances:
        archive.add_utterance(cid, utt)
        for finding in checker.check(utt.text, utt.speaker, lang=use_lang):
            archive.add_finding(cid, utt.seq, finding, rule_versions.get(finding.rule_id, 1))
            result.findings[finding.category] += 1
        result.utterances += 1
        if progress:
            progress(utt.seq, len(utterances))
    result.head = archive.seal(cid)
    return result
