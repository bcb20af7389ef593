"""A recogniser that replays a timed transcript — every layer above ASR is testable
without a speech model (like httpx's MockTransport)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant._jsonl import json_objects
from assistant._values import finite, near_miss, parse_time, span_problem
from assistant.asr.base import AsrResult
from assistant.constants import LANGUAGES
from assistant.errors import TranscriptError
from assistant.events import AudioChunk, Utterance, Word
from assistant.text.normalize import is_cjk

ROW_KEYS = ("speaker", "start", "end", "text", "words", "conf", "partial", "id", "seq", "lang", "findings", "error")
HEADER_KEYS = ("id", "lang", "title", "audio", "audio_sha256", "channels", "channel_map", "sample_rate", "source", "model", "speakers",
               "agent_id", "agent_name", "direction", "started_at", "case_id",
               "case", "channel", "expect", "note")  # case: inline case details; channel: e.g. voicemail; expect: call-level gold
WORD_KEYS = ("w", "start", "end", "conf")


def _keys(obj: dict[str, Any], known: tuple[str, ...], where: str, warnings: list[str] | None) -> None:
    """Unknown keys: an error when one is a near miss of a known key (``speeker``), else a warning."""
    for key in obj:
        if key in known:
            continue
        near = near_miss(key, known)
        if near:
            raise TranscriptError(f"{where}: unknown key {key!r}: did you mean {near!r}?")
        if warnings is not None:
            warnings.append(f"{where}: unknown key {key!r} ignored")


def _check_text(value: Any, where: str, what: str = "text") -> str:
    if not isinstance(value, str):  # (lone surrogates are refused by json_objects already)
        raise TranscriptError(f"{where}: `{what}` must be a string")
    return value


def _check_row(row: dict[str, Any], where: str, warnings: list[str] | None) -> None:
    """A transcript line fit for the archive: known keys, finite times with 0 ≤ start ≤ end, text, words."""
    _keys(row, ROW_KEYS, where, warnings)
    missing = [k for k in ("speaker", "start", "end", "text") if k not in row]
    if missing:
        raise TranscriptError(f"{where}: missing {', '.join(missing)}")
    if row["speaker"] not in ("agent", "customer"):
        raise TranscriptError(f"{where}: unknown speaker {row['speaker']!r} (use agent or customer)")
    problem = span_problem(row["start"], row["end"])
    if problem:
        raise TranscriptError(f"{where}: {problem}")
    if not _check_text(row["text"], where).strip():
        raise TranscriptError(f"{where}: empty `text`")
    if "conf" in row and not (finite(row["conf"]) and 0 <= row["conf"] <= 1):
        raise TranscriptError(f"{where}: `conf` must be a number from 0 to 1")
    words = row.get("words")
    if words is None:
        return
    if not isinstance(words, list):
        raise TranscriptError(f"{where}: `words` must be a list of {{w, start, end, conf}}")
    for k, word in enumerate(words, 1):
        at = f"{where}, word {k}"
        if not isinstance(word, dict):
            raise TranscriptError(f"{at}: a word is an object {{w, start, end, conf}}")
        _keys(word, WORD_KEYS, at, warnings)
        _check_text(word.get("w"), at, "w")
        problem = span_problem(word.get("start"), word.get("end"))
        if problem:
            raise TranscriptError(f"{at}: {problem}")
        if "conf" in word and not (finite(word["conf"]) and 0 <= word["conf"] <= 1):
            raise TranscriptError(f"{at}: `conf` must be a number from 0 to 1")


def _check_header(meta: Any, where: str, warnings: list[str] | None) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise TranscriptError(f"{where}: `call` must be an object of call details")
    _keys(meta, HEADER_KEYS, where, warnings)
    for key in ("id", "agent_id", "agent_name", "direction", "case_id", "audio", "audio_sha256"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], (str, int)):
            raise TranscriptError(f"{where}: `{key}` must be text")
    if meta.get("lang") not in (None, "zh", "en", "auto"):
        raise TranscriptError(f"{where}: unknown language {meta['lang']!r} (use zh or en)")
    started = meta.get("started_at")
    if started is not None and parse_time(started) is None:
        raise TranscriptError(f"{where}: started_at {started!r} is not an ISO 8601 date and time (e.g. 2026-11-20T14:05:00+08:00)")
    return dict(meta)


def row_words(row: dict[str, Any]) -> tuple[Word, ...]:
    """A transcript row's words as the recogniser gave them (none when it gave none)."""
    return tuple(Word(w["w"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0))) for w in row.get("words") or ())


def paced_words(row: dict[str, Any]) -> tuple[Word, ...]:
    """A row's words, or, when it has none, pseudo-words spread evenly over its time span
    (so a replayed transcript grows partials). Only for replay: never archived."""
    if row.get("words"):
        return row_words(row)
    tokens = row["text"].split() or [row["text"]]
    if len(tokens) == 1 and any(is_cjk(ch) for ch in tokens[0]):
        text = tokens[0]  # unspaced Chinese: two characters per pseudo-word, so partials grow
        tokens = [text[k : k + 2] for k in range(0, len(text), 2)]
    start, end = float(row["start"]), float(row["end"])
    step = (end - start) / len(tokens)
    return tuple(Word(t, start + k * step, start + (k + 1) * step, float(row.get("conf", 1.0))) for k, t in enumerate(tokens))


def load_transcript(path: str | Path, warnings: list[str] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read and validate a timed transcript (TAXONOMY.md format): ``(call metadata, utterance rows)``.

    Every line is checked before any is used: finite times with 0 ≤ start ≤ end, text,
    words, a parsable ``started_at``; a near-miss key (``speeker``) is an error naming the
    right one, other unknown keys are appended to ``warnings`` with their line. Partial
    hypotheses (``"partial": true``) are skipped. A transcript without utterances is an error.
    """
    meta: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for no, row in json_objects(path, TranscriptError):
        where = f"{path}:{no}"
        if "call" in row and "text" not in row:
            meta = _check_header(row["call"], where, warnings)
            continue
        if row.get("partial") is True:
            continue
        _check_row(row, where, warnings)
        rows.append(row)
    if not rows:
        raise TranscriptError(f"{path}: no utterances (a transcript has one JSON object per line with speaker, start, end and text)")
    return meta, rows


def transcript_language(meta: dict[str, Any], rows: list[dict[str, Any]], lang: str | None = None) -> tuple[str, bool]:
    """The call's language: ``lang``, else the header's, else detected from the first lines;
    and whether it was declared (a declared language can be checked against the text)."""
    declared = lang or (meta.get("lang") if meta.get("lang") in LANGUAGES else None)
    if declared:
        return declared, True
    from assistant.text import detect_language

    return detect_language(" ".join(r["text"] for r in rows[:5])), False


def transcript_utterances(call_id: str, rows: list[dict[str, Any]]) -> list[Utterance]:
    """A transcript's rows as numbered :class:`Utterance` events, in order of start time."""
    ordered = sorted(rows, key=lambda r: float(r["start"]))
    return [
        Utterance(call_id, seq, row["speaker"], float(row["start"]), float(row["end"]), row["text"], row_words(row))
        for seq, row in enumerate(ordered, 1)
    ]


class ScriptedRecognizer:
    """Replays one speaker's utterances as audio time advances.

    While audio time is inside an utterance, each chunk yields a partial with the words
    spoken so far; once it passes the utterance's end, a final result with word times.
    """

    def __init__(self, rows: list[dict[str, Any]], speaker: str, sample_rate: int = 16_000) -> None:
        self.sample_rate = sample_rate
        self.queue = sorted((r for r in rows if r["speaker"] == speaker), key=lambda r: float(r["start"]))
        self._last_partial = ""

    @classmethod
    def from_file(cls, path: str | Path, speaker: str) -> "ScriptedRecognizer":
        """A recogniser for ``speaker``'s lines of a timed transcript file."""
        return cls(load_transcript(path)[1], speaker)

    def advance(self, now: float) -> list[AsrResult]:
        """Results due by audio time ``now`` (seconds)."""
        out: list[AsrResult] = []
        while self.queue and float(self.queue[0]["end"]) <= now:
            row = self.queue.pop(0)
            words = paced_words(row)
            out.append(AsrResult(True, row["text"], words, words[0].start, words[-1].end))
            self._last_partial = ""
        if self.queue and float(self.queue[0]["start"]) <= now:
            spoken = [w for w in paced_words(self.queue[0]) if w.start < now]
            text = " ".join(w.w for w in spoken)
            if text and text != self._last_partial:
                self._last_partial = text
                out.append(AsrResult(False, text, tuple(spoken), spoken[0].start, spoken[-1].end))
        return out

    def accept(self, chunk: AudioChunk) -> list[AsrResult]:
        """Advance to the end of ``chunk``."""
        return self.advance(chunk.start + chunk.duration)

    def finish(self) -> list[AsrResult]:
        """Flush every remaining utterance as final."""
        return self.advance(float("inf"))
