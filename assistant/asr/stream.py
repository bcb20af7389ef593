"""Wire an audio source to one recogniser per speaker and a segmenter."""
from __future__ import annotations

from typing import Iterable, Iterator, Mapping

from assistant.asr.base import AsrResult, Recognizer
from assistant.asr.segmenter import Segmenter
from assistant.events import AudioChunk, Partial, Utterance


def recognise(
    source: Iterable[AudioChunk],
    recognizers: Mapping[str, Recognizer],
    segmenter: Segmenter,
) -> Iterator[Partial | Utterance]:
    """Stream :class:`Partial` and :class:`Utterance` events as the audio arrives.

    Chunks of a speaker without a recogniser are skipped. At the end of the audio each
    recogniser's last utterance is flushed, in order of start time.
    """
    for chunk in source:
        recognizer = recognizers.get(chunk.speaker)
        if recognizer is None:
            continue
        for result in recognizer.accept(chunk):
            yield from segmenter.feed(chunk.speaker, result)
    for speaker, result in flush(recognizers):
        yield from segmenter.feed(speaker, result)


def flush(recognizers: Mapping[str, Recognizer]) -> list[tuple[str, AsrResult]]:
    """End of audio: every recogniser's last results, ``(speaker, result)`` in order of start time."""
    tail = [(speaker, result) for speaker, rec in recognizers.items() for result in rec.finish()]
    return sorted(tail, key=lambda item: item[1].start)
