"""What every recogniser (Vosk, scripted) produces for one speaker channel."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from assistant.events import AudioChunk, Word


@dataclass(frozen=True)
class AsrResult:
    """A partial hypothesis (``final=False``, may change) or a final result with word times."""

    final: bool
    text: str
    words: tuple[Word, ...] = ()
    start: float = 0.0
    end: float = 0.0


class Recognizer(Protocol):
    """Streaming speech-to-text for one channel: feed audio, get partial and final results."""

    sample_rate: int

    def accept(self, chunk: AudioChunk) -> list[AsrResult]:
        """Feed the next chunk of this channel's audio; return any new results."""
        ...

    def finish(self) -> list[AsrResult]:
        """End of audio: flush the last utterance as a final result."""
        ...
