"""WAV files as an audio source: any common rate, mono or one party per channel."""
from __future__ import annotations

import struct
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np

from assistant.audio.resample import resample, to_pcm16
from assistant.errors import AudioFormatError
from assistant.events import AudioChunk

TARGET_RATE = 16_000
DEFAULT_CHANNELS: dict[int, str] = {0: "agent", 1: "customer"}
_WIDTHS = {1: "8-bit", 2: "16-bit", 3: "24-bit", 4: "32-bit"}


@dataclass(frozen=True)
class WavAudio:
    """Decoded audio: float samples in [-1, 1] per channel, at the file's own rate."""

    channels: tuple[np.ndarray, ...]
    sample_rate: int
    truncated: bool = False

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.channels[0]) / self.sample_rate if self.channels else 0.0


def resolve_channel_map(channel_map: Mapping[int, str] | None, channels: int, name: str, kind: str) -> dict[int, str]:
    """The channel → speaker map to use: the given one, checked, or the default
    (a mono recording is the agent's; otherwise left agent, right customer)."""
    mapping = dict(channel_map) if channel_map is not None else ({0: "agent"} if channels == 1 else dict(DEFAULT_CHANNELS))
    bad = [k for k in mapping if k >= channels]
    if bad:
        raise AudioFormatError(f"{name}: channel map names channel {bad[0]} but the {kind} has {channels} channel(s)")
    for speaker in mapping.values():
        if speaker not in ("agent", "customer"):
            raise AudioFormatError(f"channel map: unknown speaker {speaker!r} (use agent or customer)")
    return mapping


def _to_float(raw: bytes, width: int) -> np.ndarray:
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return v.astype(np.float32) / float(1 << 23)
    return np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)


def read_wav(path: str | Path, allow_truncated: bool = False) -> WavAudio:
    """Decode a PCM WAV file, with a clear :class:`AudioFormatError` for anything else.

    A file whose data is shorter than its header says is *truncated*: refused unless
    ``allow_truncated``, in which case everything that is there is returned.
    """
    path = Path(path)
    try:
        handle = wave.open(str(path), "rb")
    except FileNotFoundError as exc:
        raise AudioFormatError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise AudioFormatError(f"{path} is a directory: pass one WAV file") from exc
    except (wave.Error, EOFError, struct.error) as exc:
        head = path.read_bytes()[:12] if path.exists() else b""
        if not (head.startswith(b"RIFF") and head[8:12] == b"WAVE"):
            raise AudioFormatError(f"{path}: not a WAV file (convert it, e.g. `sox in.mp3 -b 16 out.wav`)") from exc
        raise AudioFormatError(f"{path}: unsupported or damaged WAV ({exc}); only PCM is read: `sox in.wav -e signed -b 16 out.wav`") from exc
    with handle:
        width, nchannels, rate, nframes = handle.getsampwidth(), handle.getnchannels(), handle.getframerate(), handle.getnframes()
        if width not in _WIDTHS:
            raise AudioFormatError(f"{path}: {width * 8}-bit samples are not supported (use 8/16/24/32-bit PCM)")
        if rate < 8000:
            raise AudioFormatError(f"{path}: sample rate {rate} Hz is too low for speech (need at least 8000 Hz)")
        raw = handle.readframes(nframes)
    frame = width * nchannels
    got = len(raw) // frame
    truncated = got < nframes
    if truncated and not allow_truncated:
        raise AudioFormatError(
            f"{path}: truncated: the header announces {nframes / rate:.2f} s but the file holds {got / rate:.2f} s "
            "(use --allow-truncated to use what is there)"
        )
    if got == 0:
        raise AudioFormatError(f"{path}: the file holds no audio frames")
    samples = _to_float(raw[: got * frame], width).reshape(-1, nchannels)
    return WavAudio(tuple(samples[:, k].copy() for k in range(nchannels)), rate, truncated)


class WavFileSource:
    """Yield :class:`AudioChunk` events from a WAV file, one stream per speaker channel.

    ``channel_map`` maps channel index → speaker (default: left agent, right customer; a
    mono file is the agent's). Audio is resampled to ``target_rate`` 16-bit PCM. With
    ``realtime=True`` chunks are paced like a live call (``clock``/``sleep`` injectable).
    """

    def __init__(
        self,
        path: str | Path,
        channel_map: Mapping[int, str] | None = None,
        *,
        target_rate: int = TARGET_RATE,
        chunk_seconds: float = 0.2,
        realtime: bool = False,
        allow_truncated: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.audio = read_wav(path, allow_truncated=allow_truncated)
        self.channel_map = resolve_channel_map(channel_map, len(self.audio.channels), str(path), "file")
        self.target_rate = target_rate
        self.chunk_seconds = chunk_seconds
        self.realtime = realtime
        self._clock, self._sleep = clock, sleep

    def pcm(self) -> dict[str, bytes]:
        """The whole file as 16-bit PCM at the target rate, per speaker."""
        out = {}
        for channel, speaker in self.channel_map.items():
            data = resample(self.audio.channels[channel], self.audio.sample_rate, self.target_rate)
            out[speaker] = to_pcm16(data)
        return out

    def __iter__(self) -> Iterator[AudioChunk]:
        streams = self.pcm()
        step = int(self.chunk_seconds * self.target_rate) * 2
        length = max(len(b) for b in streams.values())
        began = self._clock()
        for pos in range(0, length, step):
            start = pos / 2 / self.target_rate
            if self.realtime:
                wait = start - (self._clock() - began)
                if wait > 0:
                    self._sleep(wait)
            for speaker, data in streams.items():
                if pos < len(data):
                    yield AudioChunk(speaker, data[pos : pos + step], self.target_rate, start)  # type: ignore[arg-type]
