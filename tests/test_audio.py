"""WAV audio source: rates, channels, sample widths, bad files."""
from __future__ import annotations

import numpy as np
import pytest

from assistant.audio import WavFileSource, read_wav, resample
from assistant.errors import AudioFormatError
from assistant.testing import FakeClock, tone, write_wav


def peak_freq(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_any_common_rate_becomes_16k_pcm(tmp_path, rate):
    path = write_wav(tmp_path / "a.wav", [tone(440, rate)], rate)
    pcm = WavFileSource(path).pcm()["agent"]
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    assert abs(len(samples) - 16000) <= 2
    assert abs(peak_freq(samples, 16000) - 440) < 5


def test_downsampling_filters_what_would_alias():
    rate = 48000
    out = resample(tone(10_000, rate), rate, 16000)  # above the new Nyquist (8 kHz)
    assert np.sqrt(np.mean(out**2)) < 0.05
    kept = resample(tone(1000, rate), rate, 16000)
    assert np.sqrt(np.mean(kept**2)) > 0.3


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_sample_widths(tmp_path, width):
    audio = read_wav(write_wav(tmp_path / "w.wav", [tone(300, 16000, 0.5)], 16000, width))
    assert abs(peak_freq(audio.channels[0], 16000) - 300) < 5
    assert np.abs(audio.channels[0]).max() == pytest.approx(0.5, abs=0.02)


def test_stereo_split_by_channel_map(tmp_path):
    path = write_wav(tmp_path / "s.wav", [tone(300, 16000), tone(1200, 16000)], 16000)
    default = WavFileSource(path).pcm()
    as_f = {k: np.frombuffer(v, dtype="<i2").astype(np.float32) for k, v in default.items()}
    assert abs(peak_freq(as_f["agent"], 16000) - 300) < 5
    assert abs(peak_freq(as_f["customer"], 16000) - 1200) < 5
    swapped = WavFileSource(path, {0: "customer", 1: "agent"}).pcm()
    assert swapped["agent"] == default["customer"]


def test_chunks_interleave_speakers_in_time(tmp_path):
    path = write_wav(tmp_path / "s.wav", [tone(300, 16000), tone(1200, 16000)], 16000)
    chunks = list(WavFileSource(path, chunk_seconds=0.25))
    assert [c.speaker for c in chunks[:4]] == ["agent", "customer", "agent", "customer"]
    assert [c.start for c in chunks[::2]] == [0.0, 0.25, 0.5, 0.75]
    assert all(c.duration == pytest.approx(0.25) for c in chunks)


def test_realtime_pacing_uses_the_injected_clock(tmp_path):
    path = write_wav(tmp_path / "a.wav", [tone(300, 16000)], 16000)
    fake = FakeClock()
    list(WavFileSource(path, realtime=True, chunk_seconds=0.5, clock=fake.clock, sleep=fake.sleep))
    assert sum(fake.slept) == pytest.approx(0.5)


def test_silence_reads_fine(tmp_path):
    path = write_wav(tmp_path / "quiet.wav", [np.zeros(16000)], 16000)
    assert set(WavFileSource(path).pcm()["agent"]) == {0}


def test_truncated_file_is_refused_or_read_as_far_as_it_goes(tmp_path):
    path = write_wav(tmp_path / "t.wav", [tone(300, 16000, 2.0)], 16000)
    path.write_bytes(path.read_bytes()[: 44 + 16000 * 2])  # keep one second of two
    with pytest.raises(AudioFormatError, match="truncated.*2.00 s.*1.00 s.*--allow-truncated"):
        read_wav(path)
    audio = read_wav(path, allow_truncated=True)
    assert audio.truncated and audio.duration == pytest.approx(1.0)


@pytest.mark.parametrize(
    "content,words",
    [
        (b"this is not audio at all", "not a WAV file"),
        (b"", "not a WAV file"),
        (b"ID3\x03\x00" + b"\x00" * 100, "not a WAV file"),
    ],
)
def test_not_a_wav(tmp_path, content, words):
    path = tmp_path / "fake.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFormatError, match=words):
        read_wav(path)


def test_float_wav_is_named_and_the_fix_given(tmp_path):
    path = write_wav(tmp_path / "f.wav", [tone(300, 16000)], 16000)
    data = bytearray(path.read_bytes())
    data[20:22] = (3).to_bytes(2, "little")  # WAVE_FORMAT_IEEE_FLOAT
    path.write_bytes(bytes(data))
    with pytest.raises(AudioFormatError, match="only PCM"):
        read_wav(path)


def test_channel_map_beyond_the_file(tmp_path):
    path = write_wav(tmp_path / "m.wav", [tone(300, 16000)], 16000)
    with pytest.raises(AudioFormatError, match="channel 1 but the file has 1"):
        WavFileSource(path, {0: "agent", 1: "customer"})


def test_missing_file(tmp_path):
    with pytest.raises(AudioFormatError, match="no such file"):
        read_wav(tmp_path / "nope.wav")


class TrickleStream:
    """A byte stream that returns at most ``size`` bytes per read, like a pipe."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    def read(self, n: int = -1, /) -> bytes:
        take = self.size if n < 0 else min(n, self.size)
        out, self.data = self.data[:take], self.data[take:]
        return out


def test_pcm_stream_keeps_partial_frames_between_reads():
    from assistant.audio import PcmStreamSource

    left, right = tone(300, 8000), tone(1200, 8000)
    raw = (np.stack([left, right], axis=1) * 32767).astype("<i2").tobytes()
    chunks = list(PcmStreamSource(TrickleStream(raw, 333), sample_rate=8000, channels=2))
    agent = b"".join(c.pcm for c in chunks if c.speaker == "agent")
    customer = b"".join(c.pcm for c in chunks if c.speaker == "customer")
    a = np.frombuffer(agent, dtype="<i2").astype(np.float32)
    c = np.frombuffer(customer, dtype="<i2").astype(np.float32)
    assert abs(len(a) - 16000) < 200 and abs(peak_freq(a, 16000) - 300) < 10 and abs(peak_freq(c, 16000) - 1200) < 10
    starts = [ch.start for ch in chunks if ch.speaker == "agent"]
    assert starts == sorted(starts) and starts[0] == 0.0


def test_pcm_stream_ending_mid_frame_is_reported_after_the_audio():
    import io

    from assistant.audio import PcmStreamSource

    raw = (tone(300, 16000, 0.1) * 32767).astype("<i2").tobytes() + b"\x01"
    source = iter(PcmStreamSource(io.BytesIO(raw)))
    got = []
    with pytest.raises(AudioFormatError, match="ended mid-frame"):
        for chunk in source:
            got.append(chunk)
    assert sum(len(c.pcm) for c in got) == 1600 * 2


def test_pcm_stream_resampling_is_the_same_however_the_stream_is_cut():
    """8 kHz telephony read 20 ms at a time gives the samples one read of it gives: the
    resampler's filter state runs on between reads (a fresh filter per read leaves seams)."""
    from assistant.audio import PcmStreamSource
    from assistant.audio.resample import resample

    signal = tone(440, 8000, 1.0) * 0.5 + tone(1700, 8000, 1.0) * 0.2
    raw = (signal * 32767).astype("<i2").tobytes()

    def read(size):
        chunks = list(PcmStreamSource(TrickleStream(raw, size), sample_rate=8000, chunk_seconds=0.02))
        return np.concatenate([np.frombuffer(c.pcm, "<i2").astype(np.int32) for c in chunks]), chunks

    whole, _ = read(len(raw))
    cut, chunks = read(320)
    assert len(whole) == len(cut) and abs(len(cut) - 16000) <= 2 and np.abs(whole - cut).max() <= 1
    starts = [c.start for c in chunks]
    assert starts == sorted(starts) and abs(starts[-1] + len(chunks[-1].pcm) / 2 / 16000 - len(cut) / 16000) < 1e-9
    per_read = np.concatenate([resample(np.frombuffer(raw[i : i + 320], "<i2").astype(np.float32) / 32768, 8000, 16000)
                               for i in range(0, len(raw), 320)])
    at_once = resample(np.frombuffer(raw, "<i2").astype(np.float32) / 32768, 8000, 16000)
    n = min(len(per_read), len(at_once))
    assert np.abs(per_read[:n] - at_once[:n]).max() * 32768 > 100  # what a fresh filter per read did: a seam at every read
