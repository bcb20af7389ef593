"""Sample-rate conversion for speech (numpy only): low-pass, then interpolate."""
from __future__ import annotations

import numpy as np


def _lowpass(samples: np.ndarray, cutoff: float, taps: int = 63) -> np.ndarray:
    """Windowed-sinc FIR low-pass; ``cutoff`` is a fraction of the sample rate (0–0.5)."""
    n = np.arange(taps) - (taps - 1) / 2
    kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
    kernel /= kernel.sum()
    return np.convolve(samples, kernel, mode="same")


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Convert float samples from ``src_rate`` to ``dst_rate`` Hz.

    Down-sampling filters below the new Nyquist frequency first, so 44.1/48 kHz audio
    does not alias into the speech band; up-sampling (8 kHz telephony) interpolates.
    """
    if src_rate == dst_rate or samples.size == 0:
        return samples.astype(np.float32)
    data = samples.astype(np.float64)
    if dst_rate < src_rate:
        data = _lowpass(data, 0.5 * dst_rate / src_rate * 0.95)
    duration = len(data) / src_rate
    count = max(1, int(round(duration * dst_rate)))
    positions = np.arange(count) * (src_rate / dst_rate)
    out: np.ndarray = np.interp(positions, np.arange(len(data)), data).astype(np.float32)
    return out


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as signed 16-bit little-endian PCM bytes (clipped)."""
    return bytes((np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())


class StreamResampler:
    """Resample a stream block by block, keeping the filter's state between blocks, so
    block boundaries leave no artefacts (soxr's streaming resampler, high quality).

    ``process`` takes float32 blocks of shape (frames, channels) and returns what is
    ready; ``flush`` returns the rest at the end of the stream.
    """

    def __init__(self, src_rate: int, dst_rate: int, channels: int = 1) -> None:
        self.same = src_rate == dst_rate
        self.channels = channels
        if not self.same:
            import soxr

            self._stream = soxr.ResampleStream(src_rate, dst_rate, channels, dtype="float32", quality="HQ")

    def process(self, block: np.ndarray) -> np.ndarray:
        """Resample one block (frames × channels)."""
        block = np.ascontiguousarray(block, dtype=np.float32).reshape(-1, self.channels)
        if self.same:
            return block
        out: np.ndarray = self._stream.resample_chunk(block, last=False).reshape(-1, self.channels)
        return out

    def flush(self) -> np.ndarray:
        """The samples still inside the filter, at the end of the stream."""
        if self.same:
            return np.zeros((0, self.channels), np.float32)
        out: np.ndarray = self._stream.resample_chunk(np.zeros((0, self.channels), np.float32), last=True).reshape(-1, self.channels)
        return out
