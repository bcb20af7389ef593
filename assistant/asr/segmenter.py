"""Turn recogniser results into :class:`Partial` and :class:`Utterance` events."""
from __future__ import annotations

import re

from assistant.asr.base import AsrResult
from assistant.events import Partial, Utterance, Word, as_speaker
from assistant.text.normalize import CJK_CHARS, CJK_PUNCT

_CJK = CJK_CHARS + CJK_PUNCT
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")


def join_cjk(text: str) -> str:
    """Remove the spaces Vosk puts between Chinese words; keep them between Latin words."""
    return _SPACE_BETWEEN_CJK.sub("", text.strip())


class Segmenter:
    """Numbers the final utterances of one call (across speakers) and cleans their text."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.seq = 0

    def feed(self, speaker: str, result: AsrResult) -> list[Partial | Utterance]:
        """Events for one recogniser result of ``speaker``; empty results yield nothing."""
        text = join_cjk(result.text)
        if not text:
            return []
        words = tuple(Word(w.w, w.start, w.end, w.conf) for w in result.words)
        if not result.final:
            return [Partial(self.call_id, as_speaker(speaker), text, result.start, result.end, words)]
        self.seq += 1
        return [Utterance(self.call_id, self.seq, as_speaker(speaker), result.start, result.end, text, words)]
