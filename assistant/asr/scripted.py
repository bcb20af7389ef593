"""A recogniser that replays a timed transcript — every layer above ASR is testable
without a speech model (like httpx's MockTransport)."""
from __future__ import annotations

from pathlib import Path

from assistant.asr.base import AsrResult
from assistant.errors import CallassistError
from assistant.events import AudioChunk, Utterance, Word
from assistant.jsonl import json_objects


class TranscriptError(CallassistError):
    """A timed transcript line that cannot be used."""

    code = "E011"


def row_words(row: dict) -> tuple[Word, ...]:
    """A transcript row's words: its own, or evenly spread over its time span when it has none."""
    if row.get("words"):
        return tuple(Word(w["w"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0))) for w in row["words"])
    tokens = row["text"].split() or [row["text"]]
    if len(tokens) == 1 and any("\u4e00" <= ch <= "\u9fff" for ch in tokens[0]):
        text = tokens[0]  # unspaced Chinese: two characters per pseudo-word, so partials grow
        tokens = [text[k : k + 2] for k in range(0, len(text), 2)]
    start, end = float(row["start"]), float(row["end"])
    step = (end - start) / len(tokens)
    return tuple(Word(t, start + k * step, start + (k + 1) * step, float(row.get("conf", 1.0))) for k, t in enumerate(tokens))


def load_transcript(path: str | Path) -> tuple[dict, list[dict]]:
    """Read a timed transcript (TAXONOMY.md format): ``(call metadata, utterance rows)``."""
    meta: dict = {}
    rows: list[dict] = []
    for no, row in json_objects(path, TranscriptError):
        if "call" in row and "text" not in row:
            meta = dict(row["call"])
            continue
        missing = [k for k in ("speaker", "start", "end", "text") if k not in row]
        if missing:
            raise TranscriptError(f"{path}:{no}: missing {', '.join(missing)}")
        if row["speaker"] not in ("agent", "customer"):
            raise TranscriptError(f"{path}:{no}: unknown speaker {row['speaker']!r}")
        rows.append(row)
    return meta, rows


def transcript_utterances(call_id: str, rows: list[dict]) -> list[Utterance]:
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

    def __init__(self, rows: list[dict], speaker: str, sample_rate: int = 16_000) -> None:
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
            words = row_words(row)
            out.append(AsrResult(True, row["text"], words, words[0].start, words[-1].end))
            self._last_partial = ""
        if self.queue and float(self.queue[0]["start"]) <= now:
            spoken = [w for w in row_words(self.queue[0]) if w.start < now]
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
