"""Bad input never gives a traceback: zips (links, bombs, odd URLs, full disks), WAV files as
other programs write them, runaway templates, Ctrl-C, and the CLI's last line of defence."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.asr.models import install_archive, pull
from assistant.audio.wav import WavFileSource, read_wav, wav_info
from assistant.cli import cli
from assistant.errors import AudioFormatError, ModelDownloadError
from assistant.testing import MODEL_NAME as NAME
from assistant.testing import ModelServer as Server
from assistant.testing import listing_for, model_zip

ROOT = Path(__file__).resolve().parents[1]


def zip_with_link(target: str = "/etc") -> bytes:
    """A zip whose first member is a symbolic link and whose second writes through it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        link = zipfile.ZipInfo(f"{NAME}/evil")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, target)
        z.writestr(f"{NAME}/evil/passwd-copy", "gotcha")
        z.writestr(f"{NAME}/am/final.mdl", b"x" * 100)
    return buf.getvalue()


def zip_bomb(size: int = 600 * 1024 * 1024) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(f"{NAME}/am/final.mdl", b"x")
        with z.open(f"{NAME}/graph/HCLG.fst", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(size // len(block)):
                member.write(block)
    return buf.getvalue()


def cli_run(*args: str, **kw):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kw)


def test_a_model_zip_with_a_link_is_refused(tmp_path):
    path = tmp_path / "m.zip"
    path.write_bytes(zip_with_link())
    with pytest.raises(ModelDownloadError, match="symbolic link"):
        install_archive(path, tmp_path / "models")
    result = cli_run("models", "install", str(path), env={"CALLASSIST_MODELS": str(tmp_path / "models")})
    assert result.exit_code == 2 and "symbolic link" in result.output
    assert not any((tmp_path / "models").rglob("passwd-copy"))


def test_a_bundle_zip_with_a_link_is_refused(tmp_path):
    path = tmp_path / "b.zip"
    path.write_bytes(zip_with_link())
    result = cli_run("archive", "verify-bundle", str(path))
    assert result.exit_code == 2 and "symbolic link" in result.output


def test_a_zip_bomb_is_not_installed_as_a_ready_model(tmp_path):
    path = tmp_path / "bomb.zip"
    path.write_bytes(zip_bomb())
    assert path.stat().st_size < 5_000_000
    with pytest.raises(ModelDownloadError, match="more than"):
        install_archive(path, tmp_path / "models")
    assert not (tmp_path / "models" / NAME).exists() and not list((tmp_path / "models").glob(".unpack-*"))


def test_a_model_list_pointing_at_a_local_file_is_refused(tmp_path):
    data = model_zip()
    server = Server({}, [])
    try:
        listing = listing_for(data, server.url)
        listing[0]["url"] = "file:///etc/passwd"
        server.files["model-list.json"] = json.dumps(listing).encode()
        with pytest.raises(ModelDownloadError, match="not an http"):
            pull("zh", tmp_path / "models", url=server.url)
    finally:
        server.close()
    with pytest.raises(ModelDownloadError, match="not an http"):
        pull("zh", tmp_path / "models", url="file:///tmp/")


def test_a_full_disk_while_unpacking_is_a_clear_error(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        path = tmp_path / "m.zip"
        path.write_bytes(model_zip(payload=2_000_000))
        result = cli_run("models", "install", str(path), env={"CALLASSIST_MODELS": str(small / "models")})
        assert result.exit_code == 2 and "free" in result.output, result.output
        assert not (small / "models" / NAME).exists()
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


# ---- WAV files as other programs write them --------------------------------------------------------
def sox(*args: str) -> None:
    if shutil.which("sox") is None:
        if os.environ.get("CI"):
            pytest.fail("sox is missing: bin/install-system-deps installs it")
        pytest.skip("sox is not installed")
    subprocess.run(["sox", *args], check=True, capture_output=True)


@pytest.mark.parametrize("bits,channels", [(24, 2), (32, 2), (16, 4), (24, 6)])
def test_sox_extensible_wavs_are_read(tmp_path, bits, channels):
    path = tmp_path / f"t{bits}x{channels}.wav"
    sox("-n", "-r", "16000", "-b", str(bits), "-c", str(channels), str(path), "synth", "0.5", "sine", "440")
    fmt_tag = struct.unpack("<H", path.read_bytes()[20:22])[0]
    info = wav_info(path)
    assert info.channels == channels and info.width * 8 == bits and info.duration == pytest.approx(0.5, abs=0.01)
    audio = read_wav(path)
    assert np.abs(audio.channels[-1]).max() > 0.5
    if channels > 2:
        assert fmt_tag == 0xFFFE
        with pytest.raises(AudioFormatError, match="--channels"):
            WavFileSource(path)  # no silent default for more than two channels
        src = WavFileSource(path, {channels - 1: "customer", 2: "agent"})
        assert set(src.pcm()) == {"agent", "customer"}


def test_a_large_list_chunk_is_skipped(tmp_path):
    path = tmp_path / "list.wav"
    samples = (np.sin(np.arange(8000) / 5) * 10000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    junk = b"INFOISFT" + b"x" * 3_000_000
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST" + struct.pack("<I", len(junk)) + junk
    body += b"data" + struct.pack("<I", len(samples)) + samples
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert read_wav(path).duration == pytest.approx(1.0)


def test_long_files_are_streamed_with_state_kept_across_blocks(tmp_path):
    path = tmp_path / "long.wav"
    rate = 8000
    t = np.arange(rate * 25) / rate
    tone = (0.5 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(tone.tobytes())
    pcm = np.frombuffer(WavFileSource(path).pcm()["agent"], dtype="<i2").astype(np.float32) / 32767
    assert len(pcm) == pytest.approx(25 * 16000, abs=16)
    block_edge = 10 * 16000  # where the first 10 s block ends: no click there
    steady = pcm[block_edge - 400 : block_edge + 400]
    ref = 0.5 * np.sin(2 * np.pi * 300 * (np.arange(block_edge - 400, block_edge + 400) / 16000))
    assert np.max(np.abs(steady - ref)) < 0.02


# ---- templates -----------------------------------------------------------------------------------
@pytest.mark.parametrize("template", [
    "{{ customer_title * 4000000000 }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ 9 ** 999999999 }}",
    "{% for i in range(1000) %}{{ customer_title ~ customer_title ~ customer_title }}{% endfor %}",
    "{{ customer_title|center(100000000) }}",
])
def test_runaway_templates_stop_with_a_clear_error(tmp_path, template):
    lib = tmp_path / "lib" / "zh"
    lib.mkdir(parents=True)
    (lib / "t.yaml").write_text(json.dumps({"lang": "zh", "lines": [{
        "id": "zh.opening.t", "stage": "opening", "tone": "warm", "variables": ["customer_title"], "note": "n", "template": "{{ customer_title }}" + template}]},
        ensure_ascii=False), encoding="utf-8")
    result = cli_run("scripts", "render", "zh.opening.t", "--samples", env={"CALLASSIST_SCRIPTS": str(tmp_path / "lib")})
    assert result.exit_code == 2 and ("cannot be rendered" in result.output or "problem(s)" in result.output), result.output


# ---- Ctrl-C and the last line of defence ---------------------------------------------------------
def _wait_until_loading(proc: subprocess.Popen, library: str) -> None:
    """Wait (at most 60 s) until the child has mapped ``library``: the command is running and
    loading its libraries, whatever the machine's load made of the interpreter's start."""
    maps = Path(f"/proc/{proc.pid}/maps")
    for _ in range(600):
        if proc.poll() is not None or (maps.exists() and library in maps.read_text(errors="replace")):
            return
        time.sleep(0.1)


def test_the_cli_loads_the_archive_only_for_commands_that_use_one():
    """Start-up stays short (and Ctrl-C lands where it always did): importing the CLI does
    not import the archive, its search normaliser or a database driver."""
    code = "import sys, assistant.cli; print(sorted(m for m in ('assistant.archive.store', 'psycopg', 'ray') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.parametrize("delay", [0.5, 3.0])  # early in the command's imports, and a while into spaCy's load
def test_ctrl_c_is_a_quiet_exit_130(delay):
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "check", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    _wait_until_loading(proc, "_yaml")
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err


def test_an_unexpected_error_is_one_line_naming_a_bug_report(monkeypatch):
    import assistant.checker

    def boom(*args, **kwargs):
        raise ZeroDivisionError("simulated")

    monkeypatch.setattr(assistant.checker.Checker, "__init__", boom)
    result = CliRunner().invoke(cli, ["check", "-"], input="{}\n")
    assert result.exit_code == 3
    assert "E999" in result.output and "bug" in result.output and "Traceback" not in result.output
