"""Vocabulary shared by every layer, at the bottom of the import graph (imports nothing)."""
from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("zh", "en")
SPEAKERS: tuple[str, ...] = ("agent", "customer")
TARGET_RATE = 16_000  # Hz: what every audio source delivers to the recognisers
FORMATS: tuple[str, ...] = ("jsonl", "text", "srt")  # transcript output formats
MAX_CHARS = 10_000  # the longest utterance `check` and the checker accept by default
