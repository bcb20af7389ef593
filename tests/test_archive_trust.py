"""What probes found: verify fooled, input that poisons the archive, files others can read.
Each attack must fail verify with a named problem (or a clear error), and nothing must be
written by a command that only reads."""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.archive import Archive, ArchiveError, verify
from assistant.archive.backend import head_path
from assistant.archive.importer import import_transcript, load_case
from assistant.cli import cli
from assistant.errors import CallassistError
from assistant.events import Utterance

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "recordings_fixtures"
ZH = FIX / "zh" / "threats_and_insults"
KEY = b"key of the compliance office"


def make(path: Path, rules_checker, calls=("c1", "c2"), key: bytes | None = None) -> Archive:
    a = Archive(path, key=key)
    for cid in calls:
        import_transcript(a, ZH.with_suffix(".jsonl"), call_id=cid, checker=rules_checker, case={"id": f"K-{cid}", "debtor_name": "李强", "amount_due": 4800})
    return a


def whats(report) -> set[str]:
    return {p.what for p in report.problems}


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


# ---- verify cannot be fooled -------------------------------------------------------------------
def test_a_truncated_write_ahead_log_is_reported(tmp_path, rules_checker):
    live = tmp_path / "live"
    live.mkdir()
    a = make(live / "a.db", rules_checker, calls=("c1",))
    a.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # c1 is in the main file
    a.conn.execute("PRAGMA wal_autocheckpoint=0")  # c2 stays in the write-ahead log
    import_transcript(a, ZH.with_suffix(".jsonl"), call_id="c2", checker=rules_checker)
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("a.db", "a.db-wal", "a.db.head"):
        shutil.copy(live / name, copy / name)
    wal = copy / "a.db-wal"
    assert wal.stat().st_size > 0, "the test needs records still in the write-ahead log"
    with wal.open("r+b") as fh:
        fh.truncate(wal.stat().st_size // 2)  # the newest transactions are cut off
    b = Archive(copy / "a.db", readonly=True)
    assert sqlite3.connect(copy / "a.db").execute("PRAGMA integrity_check").fetchone()[0] == "ok"  # SQLite sees nothing wrong
    report = verify(b)
    assert "truncated" in whats(report), report.problems
    result = run("archive", "--archive", str(copy / "a.db"), "verify")
    assert result.exit_code == 1 and "truncated" in result.output


def test_a_missing_head_file_is_reported_not_waved_through(archive_target, tmp_path, rules_checker):
    a = make(archive_target, rules_checker, calls=("c1",))
    a.head_file.unlink()
    report = verify(a)
    if a.backend.name == "sqlite":
        assert "head" in whats(report)
    else:  # a database has no file beside it: the head is where a writer ran, and this machine now has none
        assert report.ok and any("no machine-local archive head" in b for b in report.blind_spots)


def test_a_status_flip_is_reported_and_verify_writes_nothing(tmp_path, rules_checker):
    a = make(tmp_path / "a.db", rules_checker)
    a.conn.execute("UPDATE call_status SET status = 'open' WHERE call_id = 'c1'")
    a.close()
    before = hashlib.sha256((tmp_path / "a.db").read_bytes()).hexdigest()
    result = run("archive", "--archive", str(tmp_path / "a.db"), "verify")
    assert result.exit_code == 1 and "c1: status" in result.output
    assert hashlib.sha256((tmp_path / "a.db").read_bytes()).hexdigest() == before
    b = Archive(tmp_path / "a.db")  # a writer's recovery trusts the chain, not the column
    assert b.recover() == [] and b.status("c1") == "sealed"
    assert not any(r["event"] == "interrupted" for t, r in b.records("c1") if t == "call_events")


def test_a_signing_downgrade_is_tampering_not_a_hint_to_unset_the_key(archive_target, tmp_path, rules_checker):
    from assistant.archive import chain
    from tests.test_archive_tamper import rechain

    a = make(archive_target, rules_checker, key=KEY)
    # the forger: settings say unsigned, signatures stripped, the creation entry and every chain rewritten, the head file too
    a.conn.execute("UPDATE archive_settings SET value = '0' WHERE name = 'signed'")
    created = json.loads(a.conn.execute("SELECT reason FROM archive_log WHERE pos = 0").fetchone()[0])
    created["signed"] = False
    a.conn.execute("UPDATE archive_log SET reason = ? WHERE pos = 0", (chain.canonical(created),))
    for table in ("calls", "utterances", "findings", "suggestions", "reviews", "audio_files", "call_events", "archive_log"):
        a.conn.execute(f"UPDATE [{table}] SET mac = ''")
    for cid in ("c1", "c2"):
        rechain(a, cid)
    heads = {cid: {r["pos"]: r["hash"] for _, r in a.records(cid)} for cid in ("c1", "c2")}
    for entry in a.conn.execute("SELECT id, target_call, records FROM archive_log WHERE records > 0").fetchall():
        a.conn.execute("UPDATE archive_log SET head = ? WHERE id = ?", (heads[entry["target_call"]][entry["records"] - 1], entry["id"]))
    rechain(a, chain.ARCHIVE_CHAIN)
    a.close()
    report = verify(Archive(archive_target, readonly=True, key=KEY))
    assert "unsigned" in whats(report)
    result = run("archive", "--archive", str(archive_target), "verify", env={"CALLASSIST_ARCHIVE_KEY": KEY.decode()})
    assert result.exit_code == 1 and "downgrade" in result.output
    with pytest.raises(ArchiveError, match="stripped.*tampering"):
        Archive(archive_target, key=KEY)


def test_a_naive_flag_flip_is_caught_even_without_the_key(archive_target, tmp_path, rules_checker):
    a = make(archive_target, rules_checker, calls=("c1",), key=KEY)
    a.conn.execute("UPDATE archive_settings SET value = '0' WHERE name = 'signed'")
    problems = verify(a, key=b"").problems
    assert any("signing setting" in p.message for p in problems)


def test_deleting_search_index_rows_is_caught(archive_target, tmp_path, rules_checker):
    a = make(archive_target, rules_checker)
    rowid = a.conn.execute("SELECT id FROM utterances WHERE call_id = 'c1' AND seq = 3").fetchone()[0]
    a.conn.execute("DELETE FROM utterance_search WHERE rowid = ?", (rowid,))
    report = verify(a)
    assert any(p.what == "index" and p.call_id == "c1" for p in report.problems)


def test_editing_a_case_is_caught(archive_target, tmp_path, rules_checker):
    a = make(archive_target, rules_checker)
    a.conn.execute("UPDATE cases SET amount_due = 99 WHERE id = 'K-c1'")
    assert any(p.what == "case" and "K-c1" in p.call_id for p in verify(a).problems)
    a.conn.execute("INSERT INTO cases (id, debtor_name) VALUES ('K-new', 'x')")
    assert any("behind the archive's back" in p.message for p in verify(a).problems)


def test_a_legitimate_case_update_passes(archive_target, tmp_path, rules_checker):
    a = make(archive_target, rules_checker, calls=("c1",))
    a.put_case({"id": "K-c1", "debtor_name": "李强", "amount_due": 4000})
    assert verify(a).ok


# ---- read-only commands never write --------------------------------------------------------------
@pytest.mark.parametrize("args", [["verify"], ["search", "还钱"], ["show", "c1"], ["calls"], ["export", "c1", "--out", "OUT.zip"]])
def test_read_only_commands_on_a_mistyped_path_create_nothing(tmp_path, args):
    missing = tmp_path / "typo.db"
    args = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    result = run("archive", "--archive", str(missing), *args)
    assert result.exit_code == 2 and "no such archive" in result.output
    assert not missing.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("args", [["verify"], ["calls"], ["import", str(ZH.with_suffix(".jsonl"))]])
def test_another_programs_sqlite_file_is_left_untouched(tmp_path, args):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE notes (x)").connection.commit()
    before = other.read_bytes()
    result = run("archive", "--archive", str(other), *args)
    assert result.exit_code == 2 and "not a callassist archive" in result.output
    assert other.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_verify_of_an_unknown_call_is_an_error(archive_target, tmp_path, rules_checker):
    make(archive_target, rules_checker, calls=("c1",)).close()
    result = run("archive", "--archive", str(archive_target), "verify", "--call", "no-such-call")
    assert result.exit_code == 2 and "no call 'no-such-call'" in result.output


def test_an_archive_on_read_only_media_can_be_read(tmp_path, rules_checker):
    src = tmp_path / "src"
    src.mkdir()
    make(src / "a.db", rules_checker, calls=("c1",)).close()
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here (needs root with CAP_SYS_ADMIN)")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(mnt)], capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only here")
        for args in (["verify"], ["calls"], ["search", "单位"], ["show", "c1"]):
            result = run("archive", "--archive", str(mnt / "a.db"), *args)
            assert result.exit_code == 0, (args, result.output)
        assert "c1" in run("archive", "--archive", str(mnt / "a.db"), "calls").output
    finally:
        import gc

        gc.collect()  # close any connection still referenced, so the mount is not busy
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


# ---- input that would poison the archive ---------------------------------------------------------
HEADER = {"call": {"id": "bad", "lang": "zh"}}
GOOD = {"speaker": "agent", "start": 0.5, "end": 2.0, "text": "您好，我是诚信金融的客服"}


def transcript(tmp_path: Path, *rows, header=HEADER) -> Path:
    path = tmp_path / "t.jsonl"
    lines = ([json.dumps(header, ensure_ascii=False)] if header else []) + [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("rows,header,words", [
    (['{"speaker": "agent", "start": NaN, "end": 2, "text": "您好"}'], HEADER, "finite"),
    ([{**GOOD, "start": 3.0, "end": 1.0}], HEADER, "after end"),
    ([{**GOOD, "end": "2"}], HEADER, "finite"),
    ([{**GOOD, "speeker": "customer"}], HEADER, "did you mean 'speaker'"),
    ([], HEADER, "no utterances"),
    ([GOOD], {"call": {"id": "bad", "started_at": "not a date"}}, "ISO 8601"),
    ([{**GOOD, "words": [{"w": "您好", "start": 0.5, "end": "x"}]}], HEADER, "word 1"),
    (['{"speaker": "agent", "start": 0, "end": 1, "text": "\\ud800"}'], HEADER, "surrogate"),
    (['{"speaker": "agent", "start": 0, "end": 1, "text": "x", "n": ' + "9" * 5000 + "}"], HEADER, "unusable JSON"),
    (["[" * 100000 + "]" * 100000], HEADER, "JSON"),
])
def test_a_bad_transcript_records_nothing(archive_target, tmp_path, rules_checker, rows, header, words):
    path = transcript(tmp_path, *rows, header=header)
    a = Archive(archive_target)
    with pytest.raises(CallassistError, match=words):
        import_transcript(a, path, checker=rules_checker)
    assert a.calls() == [] and verify(a).ok


def test_unknown_keys_warn_with_their_line(archive_target, tmp_path, rules_checker):
    path = transcript(tmp_path, {**GOOD, "emotion": "calm"})
    result = import_transcript(Archive(archive_target), path, checker=rules_checker)
    assert any(":2: unknown key 'emotion'" in w for w in result.warnings)


def test_audio_of_another_call_is_refused_and_a_failed_audio_leaves_nothing(archive_target, tmp_path, rules_checker):
    a = Archive(archive_target)
    longest = FIX / "zh" / "threats_and_insults.jsonl"
    short_audio = tmp_path / "short.wav"
    import wave

    with wave.open(str(short_audio), "wb") as w:  # three seconds of silence: not this call's recording
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0" * 8000 * 4 * 3)
    with pytest.raises(CallassistError, match="is this the recording of this call"):
        import_transcript(a, longest, audio=short_audio, checker=rules_checker)
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"not audio")
    with pytest.raises(CallassistError, match="not a WAV"):
        import_transcript(a, longest, audio=bogus, checker=rules_checker)
    assert a.calls() == []
    import_transcript(a, longest, audio=FIX / "zh" / "threats_and_insults.wav", checker=rules_checker)  # the id is still free
    assert a.status("zh-threats_and_insults") == "sealed" and verify(a).ok


def test_english_flag_on_a_chinese_call_is_refused(tmp_path, rules_checker):
    with pytest.raises(CallassistError, match="reads as Chinese, not English"):
        import_transcript(Archive(tmp_path / "a.db"), ZH.with_suffix(".jsonl"), lang="en", checker=rules_checker)


def test_a_case_file_with_an_unquoted_date_imports(archive_target, tmp_path, rules_checker):
    case_file = tmp_path / "case.yaml"
    case_file.write_text("id: K1\ndebtor_name: 李强\ndue_date: 2026-11-15\nopened: 2026-01-02T10:00:00\n", encoding="utf-8")
    case = load_case(case_file)
    assert case["due_date"] == "2026-11-15"
    a = Archive(archive_target)
    import_transcript(a, ZH.with_suffix(".jsonl"), case=case, checker=rules_checker)
    assert verify(a).ok


def test_a_bad_start_time_cannot_break_purge(archive_target, tmp_path):
    a = Archive(archive_target)
    with pytest.raises(CallassistError, match="ISO 8601"):
        a.start_call("x", started_at="not a date")
    with pytest.raises(CallassistError, match="finite"):
        a.start_call("y")
        a.add_utterance("y", Utterance("y", 1, "agent", float("nan"), 1.0, "您好"))
    assert a.purge(1)["purged"] == []


def test_an_interrupted_call_is_resumed_under_its_id_and_the_resumption_is_chained(archive_target, tmp_path, rules_checker):
    a = Archive(archive_target)
    path = ZH.with_suffix(".jsonl")
    from assistant.asr.scripted import load_transcript, transcript_utterances

    _, rows = load_transcript(path)
    a.start_call("cut", lang="zh")
    for utt in transcript_utterances("cut", rows)[:3]:
        a.add_utterance("cut", utt)
    a.mark_interrupted("cut", "live session died")
    with pytest.raises(ArchiveError, match="--resume"):
        import_transcript(a, path, call_id="cut", checker=rules_checker)
    result = import_transcript(a, path, call_id="cut", checker=rules_checker, resume=True)
    assert result.resumed_after == 3 and result.utterances == len(rows) - 3
    events = [r["event"] for t, r in a.records("cut") if t == "call_events"]
    assert events == ["interrupted", "reopened", "sealed"]
    assert [r["seq"] for t, r in a.records("cut") if t == "utterances"] == list(range(1, len(rows) + 1))
    assert verify(a).ok, verify(a).problems
    other = tmp_path / "other.jsonl"
    other.write_text(path.read_text(encoding="utf-8").replace("李强", "王伟"), encoding="utf-8")
    a.start_call("cut2", lang="zh")
    a.add_utterance("cut2", transcript_utterances("cut2", rows)[0])
    a.mark_interrupted("cut2")
    with pytest.raises(CallassistError, match="not the transcript of that call"):
        import_transcript(a, other, call_id="cut2", checker=rules_checker, resume=True)
    assert a.status("cut2") == "interrupted" and verify(a).ok


# ---- files others cannot read --------------------------------------------------------------------
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_archive_files_and_exports_are_private(tmp_path):
    home = tmp_path / "data" / "callassist"
    db = home / "archive.db"
    result = run("archive", "--archive", str(db), "import", str(ZH.with_suffix(".jsonl")), "--audio", str(ZH.with_suffix(".wav")))
    assert result.exit_code == 0, result.output
    assert mode(home) == 0o700 and mode(db) == 0o600 and mode(head_path(db)) == 0o600
    out = tmp_path / "bundles" / "e.zip"
    assert run("archive", "--archive", str(db), "export", "zh-threats_and_insults", "--out", str(out)).exit_code == 0
    assert mode(out) == 0o600 and mode(out.parent) == 0o700
    folder = tmp_path / "bundle-folder"
    assert run("archive", "--archive", str(db), "export", "zh-threats_and_insults", "--out", str(folder)).exit_code == 0
    assert mode(folder) == 0o700 and all(mode(p) == (0o700 if p.is_dir() else 0o600) for p in folder.rglob("*"))


def test_group_access_can_be_granted_to_a_qa_team(tmp_path):
    db = tmp_path / "team" / "archive.db"
    result = run("archive", "--archive", str(db), "import", str(ZH.with_suffix(".jsonl")), env={"CALLASSIST_GROUP_ACCESS": "1"})
    assert result.exit_code == 0
    assert mode(db.parent) == 0o750 and mode(db) == 0o640


def test_a_failed_export_leaves_no_temporary_copy(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tempfile.tempdir = None
    try:
        db = tmp_path / "a.db"
        wav = tmp_path / "call.wav"
        shutil.copy(ZH.with_suffix(".wav"), wav)
        assert run("archive", "--archive", str(db), "import", str(ZH.with_suffix(".jsonl")), "--audio", str(wav)).exit_code == 0
        wav.write_bytes(wav.read_bytes()[:-100])  # the recording changed after the call: export must fail
        out = tmp_path / "out" / "e.zip"
        result = run("archive", "--archive", str(db), "export", "zh-threats_and_insults", "--out", str(out))
        assert result.exit_code == 2 and "no longer matches" in result.output
        assert not out.exists() and list((tmp_path / "tmp").iterdir()) == []
        assert not list(tmp_path.glob("out/.*")) and not list(tmp_path.glob("bundle-*"))
    finally:
        tempfile.tempdir = None


def test_terminal_escapes_in_a_transcript_are_shown_not_obeyed(tmp_path, rules_checker):
    path = transcript(tmp_path, {**GOOD, "text": "您好\x1b[2J\x1b]0;pwned\x07\u202e不还钱就坐牢"})
    db = tmp_path / "a.db"
    import_transcript(Archive(db), path, checker=rules_checker)
    shown = run("archive", "--archive", str(db), "show", "bad").output
    assert "\x1b" not in shown and "\\x1b[2J" in shown and "\u202e" not in shown
    checked = subprocess.run(["callassist", "check", "--format", "text", "--no-meaning", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert "\x1b" not in checked.stdout and "\\x1b" in checked.stdout
