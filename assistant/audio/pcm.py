"""Raw 16-bit little-endian PCM from a byte stream (stdin, a PBX audio fork, a pipe)."""
from __future__ import annotations

from typing import Iterator, Mapping, Protocol

import numpy as np

from assistant.audio.resample import StreamResampler, to_pcm16
from assistant.audio.wav import resolve_channel_map
from assistant.constants import TARGET_RATE
from assistant.errors import AudioFormatError
from assistant.events import AudioChunk, as_speaker


class Readable(Protocol):
    """What a raw PCM source reads from: a pipe, a socket file, ``sys.stdin.buffer``."""

    def read(self, size: int = -1, /) -> bytes: ...


class PcmStreamSource:
    """Yield :class:`AudioChunk` events from interleaved signed 16-bit PCM read as it arrives.

    Bytes that do not yet make a whole frame are kept for the next read, so nothing is lost
    between reads; a stream that ends mid-frame raises :class:`AudioFormatError` after the
    complete audio has been yielded.
    """

    def __init__(
        self,
        stream: Readable,
        sample_rate: int = TARGET_RATE,
        channels: int = 1,
        channel_map: Mapping[int, str] | None = None,
        *,
        target_rate: int = TARGET_RATE,
        chunk_seconds: float = 0.2,
    ) -> None:
        if sample_rate < 8000:
            raise AudioFormatError(f"sample rate {sample_rate} Hz is too low for speech (need at least 8000 Hz)")
        if channels < 1:
            raise AudioFormatError("channels must be at least 1")
        self.stream = stream
        self.sample_rate = sample_rate
        self.channels = channels
        self.channel_map = resolve_channel_map(channel_map, channels, "PCM stream", "stream")
        self.target_rate = target_rate
        self.frames_per_read = max(1, int(chunk_seconds * sample_rate))

    def __iter__(self) -> Iterator[AudioChunk]:
        frame = 2 * self.channels
        pending = b""
        channels = list(self.channel_map)
        # one streaming resampler for the mapped channels: its filter state runs on from read to
        # read, so a read boundary leaves no seam (a fresh filter per read would click at each)
        resampler = StreamResampler(self.sample_rate, self.target_rate, len(channels))
        sent = 0  # samples yielded so far per speaker (at the target rate): the next chunk's start
        while True:
            data = self.stream.read(self.frames_per_read * frame)
            if not data:
                break
            pending += data
            usable = len(pending) - len(pending) % frame
            if usable == 0:
                continue
            block, pending = pending[:usable], pending[usable:]
            samples = np.frombuffer(block, dtype="<i2").reshape(-1, self.channels).astype(np.float32) / 32768.0
            out = resampler.process(samples[:, channels])
            yield from self._chunks(out, sent)
            sent += len(out)
        yield from self._chunks(resampler.flush(), sent)
        if pending:
            raise AudioFormatError(
                f"the stream ended mid-frame ({len(pending)} stray byte(s)): is it really {self.channels}-channel 16-bit PCM?"
            )

    def _chunks(self, out: np.ndarray, sent: int) -> Iterator[AudioChunk]:
        if len(out) == 0:
            return
        start = sent / self.target_rate
        for k, speaker in enumerate(self.channel_map.values()):
            yield AudioChunk(as_speaker(speaker), to_pcm16(out[:, k]), self.target_rate, start)
