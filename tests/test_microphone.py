"""Microphone capture through an injected fake of the sounddevice module (no sound card here)."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.audio import microphone
from assistant.audio.microphone import MicrophoneSource, list_input_devices
from assistant.cli import cli
from assistant.errors import SoundDeviceError
from assistant.testing import FakeSoundDevice, tone

DEVICES = [
    {"name": "Headset Mic", "max_input_channels": 1, "default_samplerate": 48000.0},
    {"name": "Speakers", "max_input_channels": 0, "default_samplerate": 48000.0},
    {"name": "Softphone Loopback", "max_input_channels": 2, "default_samplerate": 44100.0},
]


def fake(native_only: bool = False) -> FakeSoundDevice:
    return FakeSoundDevice(DEVICES, {0: (tone(440, 48000), 48000), 2: (tone(1000, 44100), 44100)}, native_only)


def peak(pcm: bytes, rate: int = 16000) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.abs(np.fft.rfft(x)).argmax()])


def test_one_device_captures_the_agent_at_16k():
    src = MicrophoneSource(backend=fake(), seconds=1.0)
    chunks = list(src)
    assert {c.speaker for c in chunks} == {"agent"}
    assert all(c.sample_rate == 16000 for c in chunks)
    assert [round(c.start, 3) for c in chunks] == [round(0.2 * k, 3) for k in range(len(chunks))]
    pcm = b"".join(c.pcm for c in chunks)
    assert abs(len(pcm) / 2 / 16000 - 1.0) < 0.01
    assert abs(peak(pcm) - 440) < 5
    assert src.rates == {"agent": 16000}


def test_two_devices_give_agent_and_customer_streams():
    backend = fake()
    src = MicrophoneSource("Headset Mic", "Softphone Loopback", backend=backend, seconds=1.0)
    chunks = list(src)
    by = {s: b"".join(c.pcm for c in chunks if c.speaker == s) for s in ("agent", "customer")}
    assert abs(peak(by["agent"]) - 440) < 5 and abs(peak(by["customer"]) - 1000) < 5
    assert all(s.closed for s in backend.opened)  # devices released at the end


def test_a_device_that_only_runs_at_its_own_rate_is_resampled():
    src = MicrophoneSource(2, backend=fake(native_only=True), seconds=1.0)
    chunks = list(src)
    assert src.rates == {"agent": 44100}
    assert all(c.sample_rate == 16000 for c in chunks)
    assert abs(peak(b"".join(c.pcm for c in chunks)) - 1000) < 10


def test_stop_ends_a_capture_and_overflows_are_counted():
    backend = fake()
    backend.overflow_blocks = {1}
    src = MicrophoneSource(backend=backend)
    got = []
    for chunk in src:
        got.append(chunk)
        if len(got) == 2:
            src.stop()
    assert 2 <= len(got) <= 5
    assert src.overflows == 1


def test_no_input_device_is_a_clear_error():
    empty = FakeSoundDevice([{"name": "Speakers", "max_input_channels": 0, "default_samplerate": 48000.0}], {})
    with pytest.raises(SoundDeviceError, match="no input sound device"):
        MicrophoneSource(backend=empty)
    with pytest.raises(SoundDeviceError, match="callassist devices"):
        MicrophoneSource("USB Mic", backend=fake())
    with pytest.raises(SoundDeviceError, match="cannot record"):
        MicrophoneSource(1, backend=fake())


def test_devices_are_listed_inputs_only():
    assert [d["name"] for d in list_input_devices(fake())] == ["Headset Mic", "Softphone Loopback"]


def test_missing_sounddevice_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    with pytest.raises(SoundDeviceError, match="pip install"):
        microphone.load_backend()


def test_the_real_sounddevice_here_reports_no_device_or_works():
    """This machine has no sound card: the real PortAudio must give our error, not a traceback."""
    try:
        backend = microphone.load_backend()
    except SoundDeviceError as exc:
        assert "libportaudio2" in str(exc) or "pip install" in str(exc)
        return
    try:
        source = MicrophoneSource(backend=backend, seconds=0.1)
    except SoundDeviceError as exc:
        assert "no input sound device" in str(exc)
        return
    # a machine with a sound card: the device opened, so a tenth of a second of audio comes out
    captured = sum(len(chunk.pcm) for chunk in source)
    assert captured >= 0.05 * 16000 * 2


def test_cli_mic_without_a_device_fails_cleanly(monkeypatch, ko_model_dir):
    empty = FakeSoundDevice([], {})
    monkeypatch.setattr(microphone, "load_backend", lambda: empty)
    monkeypatch.setenv("CALLASSIST_MODEL", str(ko_model_dir))
    res = CliRunner().invoke(cli, ["transcribe", "--mic"])
    assert res.exit_code == 2
    assert "no input sound device" in res.output and "Traceback" not in res.output


def test_cli_devices_lists_inputs(monkeypatch):
    monkeypatch.setattr(microphone, "load_backend", lambda: fake())
    res = CliRunner().invoke(cli, ["devices"])
    assert res.exit_code == 0 and "Headset Mic" in res.output and "Speakers" not in res.output


def test_live_from_two_microphones_archives_both_speakers(monkeypatch, ko_model_dir, korean, tmp_path):
    """`callassist live --source mic` with two devices (fake PortAudio streams) on the real
    Korean model: both parties' speech reaches the screen log and the archive."""
    from assistant.archive.store import Archive

    speech_a = np.concatenate([np.zeros(8000, dtype=np.float32), korean["a"], np.zeros(24000, dtype=np.float32)])
    speech_b = np.concatenate([np.zeros(16000, dtype=np.float32), korean["b"], np.zeros(len(speech_a), dtype=np.float32)])[: len(speech_a)]
    backend = FakeSoundDevice(DEVICES, {0: (speech_a, 16000), 2: (speech_b, 16000)})
    monkeypatch.setattr(microphone, "load_backend", lambda: backend)
    res = CliRunner().invoke(cli, ["live", "--source", "mic", "--agent-device", "0", "--customer-device", "2", "--model", str(ko_model_dir),
                                   "--lang", "zh", "--seconds", str(len(speech_a) / 16000), "--view", "jsonl", "--archive", str(tmp_path / "mic.db"),
                                   "--call-id", "mic-1"])
    assert res.exit_code == 0, res.output
    import json

    events = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert {e["speaker"] for e in events if e["event"] == "utterance"} == {"agent", "customer"}
    archive = Archive(tmp_path / "mic.db", readonly=True)
    try:
        assert archive.status("mic-1") == "sealed"
        assert len([1 for t, _ in archive.records("mic-1") if t == "utterances"]) >= 2
    finally:
        archive.close()
