"""`callassist transcribe` end to end on the real Korean Vosk model, and its bad inputs."""
from __future__ import annotations

import json
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.audio.resample import to_pcm16
from assistant.audio.tts import silence
from assistant.cli import cli
from assistant.testing import write_wav


@pytest.fixture
def env(monkeypatch, ko_model_dir, tmp_path):
    monkeypatch.setenv("CALLASSIST_MODEL", str(ko_model_dir))
    monkeypatch.setenv("CALLASSIST_MODELS", str(tmp_path / "no-cache"))
    return tmp_path


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory, korean) -> Path:
    a, b = korean["b"], korean["c"]
    right = np.concatenate([silence(len(a) / 16000 + 0.8), b])
    return write_wav(tmp_path_factory.mktemp("calls") / "call.wav", [np.concatenate([a, silence(0.5)]), right], 16000)


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_jsonl_is_a_timed_transcript_that_check_reads(env, call_wav):
    res = run("transcribe", str(call_wav))
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert lines[0]["call"]["id"] == "call" and lines[0]["call"]["speakers"] == ["agent", "customer"]
    utts = lines[1:]
    assert {u["speaker"] for u in utts} == {"agent", "customer"}
    for u in utts:
        assert u["text"] and u["words"] and 0 < u["conf"] <= 1 and u["start"] <= u["end"]
    first_customer = next(u for u in utts if u["speaker"] == "customer")
    assert first_customer["start"] > max(u["end"] for u in utts if u["speaker"] == "agent")
    checked = run("check", "-", "--lang", "en", input=res.stdout.encode())
    assert checked.exit_code == 0, checked.output
    assert len(checked.stdout.splitlines()) == len(lines)


def test_text_srt_and_partials(env, call_wav):
    text = run("transcribe", str(call_wav), "--format", "text", "--partials").stdout
    assert "agent" in text and "customer" in text and "  … " in text
    srt = run("transcribe", str(call_wav), "--format", "srt").stdout
    blocks = [b for b in srt.strip().split("\n\n") if b]
    assert blocks[0].startswith("1\n00:00:0") and " --> " in blocks[0]
    assert [b.split("\n")[0] for b in blocks] == [str(k) for k in range(1, len(blocks) + 1)]


def test_channel_map_swaps_and_skips(env, call_wav):
    swapped = [json.loads(x) for x in run("transcribe", str(call_wav), "--channels", "customer,agent").stdout.splitlines()[1:]]
    normal = [json.loads(x) for x in run("transcribe", str(call_wav)).stdout.splitlines()[1:]]
    assert [u["speaker"] for u in swapped] == [{"agent": "customer", "customer": "agent"}[u["speaker"]] for u in normal]
    only = [json.loads(x) for x in run("transcribe", str(call_wav), "--channels", "_,customer").stdout.splitlines()[1:]]
    assert only and {u["speaker"] for u in only} == {"customer"}
    bad = run("transcribe", str(call_wav), "--channels", "agent,boss")
    assert bad.exit_code == 2 and "unknown speaker 'boss'" in bad.output


def test_raw_pcm_on_stdin(env, korean):
    pcm = to_pcm16(np.concatenate([korean["b"], silence(0.5)]))
    res = run("transcribe", "-", "--rate", "16000", input=pcm)
    assert res.exit_code == 0, res.output
    utts = [json.loads(x) for x in res.stdout.splitlines()[1:]]
    assert utts and {u["speaker"] for u in utts} == {"agent"}


def test_missing_model_names_the_pull_command(monkeypatch, tmp_path, call_wav):
    monkeypatch.delenv("CALLASSIST_MODEL", raising=False)
    monkeypatch.setenv("CALLASSIST_MODELS", str(tmp_path / "empty"))
    res = run("transcribe", str(call_wav), "--lang", "en")
    assert res.exit_code == 2
    assert "callassist models pull en" in res.output and "Traceback" not in res.output
    res = run("transcribe", str(call_wav), "--model", str(tmp_path / "nowhere"))
    assert res.exit_code == 2 and "no such model directory" in res.output


def _write(path: Path, rate: int = 16000, width: int = 2, frames: bytes = b"\0\0" * 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def test_bad_audio_gives_one_clear_message(env):
    truncated = _write(env / "cut.wav", frames=to_pcm16(np.sin(np.arange(32000) / 5) * 0.3))
    truncated.write_bytes(truncated.read_bytes()[:30000])
    res = run("transcribe", str(truncated))
    assert res.exit_code == 2 and "truncated" in res.output and "--allow-truncated" in res.output
    res = run("transcribe", str(truncated), "--allow-truncated")
    assert res.exit_code == 0 and "warning" in res.output

    fake = env / "song.wav"
    fake.write_bytes(b"ID3\x03\x00" + bytes(2000))
    res = run("transcribe", str(fake))
    assert res.exit_code == 2 and "not a WAV file" in res.output

    floats = env / "float.wav"
    data = np.zeros(1600, dtype="<f4").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32)
    floats.write_bytes(header + b"data" + struct.pack("<I", len(data)) + data)
    res = run("transcribe", str(floats))
    assert res.exit_code == 2 and "only PCM" in res.output

    odd = env / "odd.wav"
    frames = bytes(8 * 1600)
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 128000, 8, 64)
    odd.write_bytes(header + b"data" + struct.pack("<I", len(frames)) + frames)
    res = run("transcribe", str(odd))
    assert res.exit_code == 2 and "64-bit samples are not supported" in res.output

    res = run("transcribe", str(env / "absent.wav"))
    assert res.exit_code == 2 and "no such file" in res.output
    for res in (run("transcribe", str(p)) for p in (truncated, fake, floats, odd)):
        assert "Traceback" not in res.output


def test_silence_only_warns_and_writes_just_the_header(env):
    quiet = _write(env / "quiet.wav", rate=8000, frames=b"\0\0" * 8000 * 3)
    res = run("transcribe", str(quiet))
    assert res.exit_code == 0
    assert len(res.stdout.splitlines()) == 1
    assert "no speech recognised" in res.stderr


def test_source_and_mic_are_exclusive(env, call_wav):
    assert run("transcribe").exit_code == 2
    assert run("transcribe", str(call_wav), "--mic").exit_code == 2
