"""WAV files as an audio source: any common rate, mono or one party per channel."""
from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np

from assistant.audio.resample import StreamResampler, to_pcm16
from assistant.constants import TARGET_RATE  # noqa: E402 - re-exported
from assistant.errors import AudioFormatError
from assistant.events import AudioChunk, as_speaker

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


@dataclass(frozen=True)
class WavInfo:
    """What a WAV file's header says, and where its samples are (nothing decoded yet)."""

    path: Path
    sample_rate: int
    channels: int
    width: int  # bytes per sample
    frames: int  # frames actually in the file
    declared_frames: int  # frames the header announces
    data_offset: int

    @property
    def truncated(self) -> bool:
        """The file holds fewer frames than its header announces."""
        return self.frames < self.declared_frames

    @property
    def duration(self) -> float:
        """Length of the audio that is there, in seconds."""
        return self.frames / self.sample_rate


def resolve_channel_map(channel_map: Mapping[int, str] | None, channels: int, name: str, kind: str) -> dict[int, str]:
    """The channel → speaker map to use: the given one, checked, or the default
    (a mono recording is the agent's; a stereo one left agent, right customer). With more
    than two channels there is no safe default: the map must be given."""
    if channel_map is None and channels > 2:
        raise AudioFormatError(f"{name} has {channels} channels: say which carries whom with --channels, "
                               f"e.g. agent,customer{',_' * (channels - 2)} (`_` skips a channel)")
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
    return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)


_PCM = 0x0001
_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE
_MAX_FMT = 1 << 16  # a fmt chunk is tens of bytes; more is damage


def _not_wav(path: Path) -> AudioFormatError:
    return AudioFormatError(f"{path}: not a WAV file (convert it, e.g. `sox in.mp3 -b 16 out.wav`)")


def wav_info(path: str | Path) -> WavInfo:
    """Read a WAV file's header: plain PCM or WAVE_FORMAT_EXTENSIBLE (as sox writes 24/32-bit
    and multi-channel files), 8/16/24/32-bit, any chunks (LIST, fact, …) skipped however large.
    Nothing but the header is read, so this is cheap for an hour of audio."""
    path = Path(path)
    if path.is_dir():
        raise AudioFormatError(f"{path} is a directory: pass one WAV file")
    try:
        fh = path.open("rb")
    except FileNotFoundError as exc:
        raise AudioFormatError(f"{path}: no such file") from exc
    except OSError as exc:
        raise AudioFormatError(f"{path}: cannot open ({exc.strerror})") from exc
    with fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise _not_wav(path)
        fmt: tuple[int, int, int, int, int] | None = None
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                raise AudioFormatError(f"{path}: damaged WAV: no audio data chunk ({'no format chunk either' if fmt is None else 'cut short?'})")
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                if csize < 16 or csize > _MAX_FMT:
                    raise AudioFormatError(f"{path}: damaged WAV: a format chunk of {csize} bytes")
                body = fh.read(csize + (csize & 1))
                if len(body) < 16:
                    raise AudioFormatError(f"{path}: damaged WAV: the format chunk is cut short")
                tag, nch, rate, _, align, bits = struct.unpack("<HHIIHH", body[:16])
                if tag == _EXTENSIBLE and csize >= 40:
                    tag = struct.unpack("<H", body[24:26])[0]  # the sub-format GUID starts with the real format tag
                fmt = (tag, nch, rate, align, bits)
            elif cid == b"data":
                if fmt is None:
                    raise AudioFormatError(f"{path}: damaged WAV: the audio data comes before its format chunk")
                offset = fh.tell()
                available = size - offset
                declared = available if csize in (0, 0xFFFFFFFF) else csize  # 0/0xFFFFFFFF: written while streaming
                return _info(path, fmt, offset, declared, min(declared, available))
            else:
                fh.seek(csize + (csize & 1), os.SEEK_CUR)


def _info(path: Path, fmt: tuple[int, int, int, int, int], offset: int, declared: int, available: int) -> WavInfo:
    tag, nch, rate, align, bits = fmt
    if tag == _FLOAT:
        raise AudioFormatError(f"{path}: floating-point samples: only PCM is read: `sox in.wav -e signed -b 16 out.wav`")
    if tag != _PCM:
        raise AudioFormatError(f"{path}: unsupported WAV encoding (format 0x{tag:04x}); only PCM is read: `sox in.wav -e signed -b 16 out.wav`")
    if nch < 1:
        raise AudioFormatError(f"{path}: damaged WAV: {nch} channels")
    width = (bits + 7) // 8
    if width not in _WIDTHS or align != width * nch:
        raise AudioFormatError(f"{path}: {bits}-bit samples are not supported (use 8/16/24/32-bit PCM)")
    if rate < 8000:
        raise AudioFormatError(f"{path}: sample rate {rate} Hz is too low for speech (need at least 8000 Hz)")
    if rate > 384_000:
        raise AudioFormatError(f"{path}: sample rate {rate} Hz is not an audio rate: the header is damaged")
    return WavInfo(path, rate, nch, width, available // align, declared // align, offset)


def wav_blocks(info: WavInfo, frames_per_block: int = 1 << 16) -> Iterator[np.ndarray]:
    """The file's samples as float32 blocks of shape (frames, channels): bounded memory."""
    frame = info.width * info.channels
    left = info.frames
    with info.path.open("rb") as fh:
        fh.seek(info.data_offset)
        while left > 0:
            count = min(frames_per_block, left)
            raw = fh.read(count * frame)
            got = len(raw) // frame
            if got == 0:
                return
            left -= got
            yield _to_float(raw[: got * frame], info.width).reshape(-1, info.channels)


def read_wav(path: str | Path, allow_truncated: bool = False) -> WavAudio:
    """Decode a whole PCM WAV file, with a clear :class:`AudioFormatError` for anything else.

    A file whose data is shorter than its header says is *truncated*: refused unless
    ``allow_truncated``, in which case everything that is there is returned. (For long
    recordings use :class:`WavFileSource`, which streams.)
    """
    info = _checked_info(path, allow_truncated)
    samples = np.concatenate(list(wav_blocks(info)))  # _checked_info refused a file without frames
    return WavAudio(tuple(samples[:, k].copy() for k in range(info.channels)), info.sample_rate, info.truncated)


def _checked_info(path: str | Path, allow_truncated: bool) -> WavInfo:
    info = wav_info(path)
    if info.truncated and not allow_truncated:
        raise AudioFormatError(
            f"{info.path}: truncated: the header announces {info.declared_frames / info.sample_rate:.2f} s but the file holds "
            f"{info.frames / info.sample_rate:.2f} s (use --allow-truncated to use what is there)"
        )
    if info.frames == 0:
        raise AudioFormatError(f"{info.path}: the file holds no audio frames")
    return info


class WavFileSource:
    """Yield :class:`AudioChunk` events from a WAV file, one stream per speaker channel.

    ``channel_map`` maps channel index → speaker (default: left agent, right customer; a
    mono file is the agent's; any channel of a multi-channel file can be picked). Audio is
    decoded block by block and resampled to ``target_rate`` 16-bit PCM with a streaming
    resampler, so memory stays bounded however long the call. With ``realtime=True``
    chunks are paced like a live call (``clock``/``sleep`` injectable).
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
        self.info = _checked_info(path, allow_truncated)
        self.channel_map = resolve_channel_map(channel_map, self.info.channels, str(path), "file")
        self.target_rate = target_rate
        self.chunk_seconds = chunk_seconds
        self.realtime = realtime
        self._clock, self._sleep = clock, sleep

    @property
    def duration(self) -> float:
        """Seconds of audio in the file."""
        return self.info.duration

    @property
    def truncated(self) -> bool:
        """The file is shorter than its header says (read only with ``allow_truncated``)."""
        return self.info.truncated

    def _pcm_blocks(self) -> Iterator[dict[str, bytes]]:
        """Resampled 16-bit PCM per speaker, block by block."""
        channels = list(self.channel_map)
        resampler = StreamResampler(self.info.sample_rate, self.target_rate, len(channels))
        blocks = wav_blocks(self.info, max(1, int(self.info.sample_rate * 10)))
        for block in blocks:
            out = resampler.process(block[:, channels])
            if len(out):
                yield {speaker: to_pcm16(out[:, k]) for k, speaker in enumerate(self.channel_map.values())}
        tail = resampler.flush()
        if len(tail):
            yield {speaker: to_pcm16(tail[:, k]) for k, speaker in enumerate(self.channel_map.values())}

    def pcm(self) -> dict[str, bytes]:
        """The whole file as 16-bit PCM at the target rate, per speaker (for short files and tests)."""
        parts: dict[str, list[bytes]] = {speaker: [] for speaker in self.channel_map.values()}
        for block in self._pcm_blocks():
            for speaker, data in block.items():
                parts[speaker].append(data)
        return {speaker: b"".join(chunks) for speaker, chunks in parts.items()}

    def __iter__(self) -> Iterator[AudioChunk]:
        step = int(self.chunk_seconds * self.target_rate) * 2
        pending = {speaker: b"" for speaker in self.channel_map.values()}
        sent = 0  # bytes per speaker already yielded
        began = self._clock()
        for block in self._pcm_blocks():
            for speaker, data in block.items():
                pending[speaker] += data
            while all(len(p) >= step for p in pending.values()):
                yield from self._emit(pending, step, sent, began)
                sent += step
        while any(pending.values()):
            yield from self._emit(pending, step, sent, began)
            sent += step

    def _emit(self, pending: dict[str, bytes], step: int, sent: int, began: float) -> Iterator[AudioChunk]:
        start = sent / 2 / self.target_rate
        if self.realtime:
            wait = start - (self._clock() - began)
            if wait > 0:
                self._sleep(wait)
        for speaker in list(pending):
            data, pending[speaker] = pending[speaker][:step], pending[speaker][step:]
            if data:
                yield AudioChunk(as_speaker(speaker), data, self.target_rate, start)
