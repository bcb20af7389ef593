"""`callassist audit`: a folder of recordings checked and archived, resumable, in parallel."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.archive.audit import find_recordings, run_audit
from assistant.archive.store import Archive
from assistant.archive.verify import verify
from assistant.cli import cli

FIXTURES = Path(__file__).resolve().parents[1] / "recordings_fixtures"


def test_audit_twice_archives_each_call_once_and_says_so(tmp_path):
    db = str(tmp_path / "a.db")
    runner = CliRunner()
    res = runner.invoke(cli, ["audit", str(FIXTURES / "zh"), "--transcripts-only", "--workers", "2", "--archive", db])
    assert res.exit_code == 0, res.output
    assert "audited 4 call(s)" in res.output and "missing.right_party_verification" in res.output
    res = runner.invoke(cli, ["audit", str(FIXTURES / "zh"), "--transcripts-only", "--archive", db])
    assert res.exit_code == 0 and "nothing to audit: all 4 recording(s) are already in" in res.output, res.output
    with Archive(tmp_path / "a.db", readonly=True) as a:
        assert sorted(c["call_id"] for c in a.calls()) == ["zh-already_repaid", "zh-hardship_installments", "zh-refuse_to_sign",
                                                           "zh-threats_and_insults"]
        assert verify(a).ok
        case_ids = {r["case_id"] for t, r in a.records("zh-threats_and_insults") if t == "calls"}
    assert case_ids == {"DEMO-ZH-0001"}  # the sidecar NAME.case.yaml


def test_a_bad_file_is_reported_and_the_batch_goes_on(tmp_path):
    folder = tmp_path / "calls"
    shutil.copytree(FIXTURES / "zh", folder)
    (folder / "broken.jsonl").write_text('{"speaker": "agent", "start": 0, "end": 1, "text": "您好"}\n{"speaker": "agent", "start": "soon"}\n',
                                         encoding="utf-8")
    res = CliRunner().invoke(cli, ["audit", str(folder), "--transcripts-only", "--workers", "1", "--archive", str(tmp_path / "a.db")])
    assert res.exit_code == 1, res.output
    assert "audited 4 call(s)" in res.output and "FAILED: broken:" in res.output and "Traceback" not in res.output


def test_an_interrupted_audit_resumes_without_duplicates(tmp_path):
    recordings, _ = find_recordings([FIXTURES / "zh"], transcripts_only=True)
    with Archive(tmp_path / "a.db") as a:
        first = run_audit(a, recordings[:2], workers=1)  # stopped after two calls …
        assert len(first.audited) == 2
        a.start_call("zh-refuse_to_sign", lang="zh")  # … with a third one half-written when it was killed
        a.add_event("zh-refuse_to_sign", "note", "killed here")
        a.mark_interrupted("zh-refuse_to_sign", "audit killed")
        again = run_audit(a, recordings, workers=1)
        assert sorted(again.skipped) == sorted(r.name for r in recordings[:2]) and len(again.audited) == 2 and not again.failed
        assert sorted(c["status"] for c in a.calls()) == ["sealed"] * 4
        utterances = [t for t, _ in a.records("zh-refuse_to_sign") if t == "utterances"]
        assert len(utterances) == sum(1 for line in (FIXTURES / "zh" / "refuse_to_sign.jsonl").read_text(encoding="utf-8").splitlines()
                                      if line.strip() and "speaker" in json.loads(line))
        assert verify(a).ok


def test_a_wav_alone_is_transcribed_with_the_speech_model(tmp_path, ko_model_dir):
    from assistant.archive.audit import transcribe_wav

    out = tmp_path / "call1.jsonl"
    transcribe_wav(FIXTURES / "zh" / "refuse_to_sign.wav", out, str(ko_model_dir), "zh")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert "call" in rows[0] and rows[0]["call"]["model"] == ko_model_dir.name
    said = [r for r in rows[1:] if r.get("text")]
    assert said and all(r["words"] and r["start"] <= r["end"] for r in said)
    assert {r["speaker"] for r in said} <= {"agent", "customer"}


def test_audit_of_a_wav_with_a_model_of_another_language_fails_clearly(tmp_path, ko_model_dir):
    folder = tmp_path / "calls"
    folder.mkdir()
    shutil.copy(FIXTURES / "zh" / "refuse_to_sign.wav", folder / "call1.wav")
    res = CliRunner().invoke(cli, ["audit", str(folder), "--model", str(ko_model_dir), "--workers", "1", "--archive", str(tmp_path / "a.db")])
    assert res.exit_code == 1, res.output
    assert "FAILED: call1:" in res.output and "not Chinese" in res.output and "Traceback" not in res.output
    with Archive(tmp_path / "a.db", readonly=True) as a:
        assert a.calls() == []  # the Korean model hears no Chinese: nothing archived under the wrong language


@pytest.mark.parametrize("only", [True, False])
def test_finding_recordings_pairs_audio_transcript_and_case(tmp_path, only):
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "a.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "a.case.yaml").write_text("id: K1\n", encoding="utf-8")
    (tmp_path / "b.wav").write_bytes(b"")
    found, left = find_recordings([tmp_path], transcripts_only=only)
    assert found[0].name == "a" and found[0].audio and found[0].transcript and found[0].case_file
    assert [r.name for r in found] == (["a"] if only else ["a", "b"])
    assert bool(left) is only


def test_a_manifest_gives_case_fields_start_times_and_agents(tmp_path):
    manifest = tmp_path / "calls.csv"
    manifest.write_text("file,started_at,agent_id,case_id,lang,callee_role\n"
                        "threats_and_insults.wav,2026-12-05T23:10:00+08:00,A7,,,\n"
                        "refuse_to_sign.jsonl,2026-12-05T10:00:00+08:00,A8,K-77,zh,emergency_contact\n"
                        "not_here,2026-12-05T10:00:00+08:00,A9,K-78,zh,\n", encoding="utf-8")
    db = str(tmp_path / "a.db")
    res = CliRunner().invoke(cli, ["audit", str(FIXTURES / "zh"), "--transcripts-only", "--workers", "1", "--manifest", str(manifest), "--archive", db])
    assert res.exit_code == 0, res.output
    assert "not_here is listed but no recording has that name" in res.output
    assert "contact.quiet_hours" in res.output  # the night call, from the manifest's start time
    with Archive(tmp_path / "a.db", readonly=True) as a:
        night = a.records("zh-threats_and_insults")
        first = [r for t, r in night if t == "calls"][0]
        assert (first["agent_id"], first["case_id"]) == ("A7", "DEMO-ZH-0001")  # the sidecar case wins over the manifest
        assert any(t == "findings" and r["category"] == "contact.quiet_hours" for t, r in night)
        day = [r for t, r in a.records("zh-refuse_to_sign") if t == "calls"][0]
        assert (day["agent_id"], day["case_id"]) == ("A8", "K-77")


def test_a_manifest_without_a_file_column_is_one_clear_error(tmp_path):
    manifest = tmp_path / "calls.csv"
    manifest.write_text("name,started_at\nx,2026-12-05T10:00:00+08:00\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["audit", str(FIXTURES / "zh"), "--manifest", str(manifest), "--archive", str(tmp_path / "a.db")])
    assert res.exit_code == 2 and "`file` column" in res.output and not (tmp_path / "a.db").exists()


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A Ray cluster of one node with two CPUs, its head on loopback (`ray start`, as an
    operator starts one); stopped at the end."""
    from tests.conftest import require

    ray = shutil.which("ray")
    require(ray is not None, "Ray is not installed (the [dev] extra)")
    assert ray is not None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}  # every node and the driver share the token
    env = {**os.environ, **auth, "XDG_DATA_HOME": str(tmp_path_factory.mktemp("ray-xdg"))}  # XDG: the workers' archive heads
    started = subprocess.run([ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
                              "--include-dashboard=false", "--disable-usage-stats"], capture_output=True, text=True, timeout=180, env=env)
    assert started.returncode == 0, started.stderr[-2000:]
    yield f"127.0.0.1:{port}", auth
    subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120, env=env)


def _archived_findings(target) -> list[tuple]:
    with Archive(target, readonly=True) as a:
        assert verify(a).ok, verify(a).problems
        return sorted((r["call_id"], r["category"], r["rule_id"], r["utterance_seq"]) for c in a.chains() for t, r in a.records(c) if t == "findings")


def _writers(target) -> set[int]:
    """The processes that wrote the calls (the private `writer` column of each opening record)."""
    with Archive(target, readonly=True) as a:
        return {json.loads(r["writer"])["pid"] for r in a.conn.execute("SELECT writer FROM calls WHERE pos = 0")}


@pytest.mark.slow
def test_audit_on_a_two_cpu_ray_cluster_gives_the_same_findings_and_resumes(tmp_path, ray_head, make_target, monkeypatch):
    """Into an SQLite file this process writes what the workers checked; into a central
    PostgreSQL archive the workers write their calls themselves."""
    address, auth = ray_head
    for name, value in auth.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    alone = tmp_path / "alone.db"
    assert runner.invoke(cli, ["audit", str(FIXTURES), "--transcripts-only", "--workers", "1", "--archive", str(alone)]).exit_code == 0
    spread = str(make_target())
    res = runner.invoke(cli, ["audit", str(FIXTURES), "--transcripts-only", "--cluster", address, "--archive", spread])
    assert res.exit_code == 0 and "audited 8 call(s)" in res.output, res.output
    again = runner.invoke(cli, ["audit", str(FIXTURES), "--transcripts-only", "--cluster", address, "--archive", spread])
    assert again.exit_code == 0 and "nothing to audit: all 8" in again.output, again.output
    assert _archived_findings(spread) == _archived_findings(alone) and _archived_findings(alone)
    writers = _writers(spread)
    if spread.startswith("postgresql://"):
        assert os.getpid() not in writers and 1 <= len(writers) <= 2  # the cluster's workers wrote, not this process
    else:
        assert writers == {os.getpid()}


def test_local_workers_write_into_a_central_archive_too(tmp_path, postgres_url):
    runner = CliRunner()
    alone = tmp_path / "alone.db"
    assert runner.invoke(cli, ["audit", str(FIXTURES / "zh"), "--transcripts-only", "--workers", "1", "--archive", str(alone)]).exit_code == 0
    res = runner.invoke(cli, ["audit", str(FIXTURES / "zh"), "--transcripts-only", "--workers", "2", "--archive", postgres_url])
    assert res.exit_code == 0 and "audited 4 call(s)" in res.output, res.output
    assert _archived_findings(postgres_url) == _archived_findings(alone)
    assert os.getpid() not in _writers(postgres_url)


def test_a_cluster_address_with_no_ray_head_is_one_clear_error(tmp_path):
    res = CliRunner().invoke(cli, ["audit", str(FIXTURES / "zh"), "--transcripts-only", "--cluster", "127.0.0.1:9", "--archive", str(tmp_path / "a.db")])
    assert res.exit_code == 2 and "no Ray cluster answers at 127.0.0.1:9" in res.output and "ray start --head" in res.output, res.output
    res = CliRunner().invoke(cli, ["audit", str(FIXTURES / "zh"), "--transcripts-only", "--cluster", "tcp://nowhere", "--archive", str(tmp_path / "a.db")])
    assert res.exit_code == 2 and "HOST:PORT" in res.output, res.output
