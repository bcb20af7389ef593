"""The archive: crash safety, concurrent writers, search, export, retention, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from assistant.archive import Archive, ArchiveError, ArchiveFullError, verify
from assistant.archive.export import export_call, verify_bundle
from assistant.archive.importer import import_transcript
from assistant.archive.search import index_terms, query_parts, search
from assistant.cli import cli
from assistant.events import Utterance

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "recordings_fixtures"

WRITER = textwrap.dedent(
    """
    import sys, time
    from assistant.archive import Archive
    from assistant.events import Utterance
    path, call_id, n, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    a = Archive(path)
    a.start_call(call_id, agent_id="A1", lang="zh")
    for k in range(1, n + 1):
        a.add_utterance(call_id, Utterance(call_id, k, "agent" if k % 2 else "customer", k, k + 0.5, f"第{k}句 请按时还款 line {k}"))
        print(k, flush=True)
        time.sleep(pause)
    a.seal(call_id)
    print("sealed", flush=True)
    """
)


def run_writer(path: Path | str, call_id: str, n: int, pause: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), call_id, str(n), str(pause)], stdout=subprocess.PIPE, text=True, cwd=ROOT)


def test_a_writer_killed_mid_call_loses_at_most_the_utterance_in_flight(archive_target):
    path = archive_target
    proc = run_writer(path, "crash", 1000, 0.01)
    written = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        written = int(line)
        if written >= 25:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    a = Archive(path)  # opens cleanly
    assert a.recover() == ["crash"]
    assert a.status("crash") == "interrupted"
    kept = a.conn.execute("SELECT count(*) FROM utterances WHERE call_id = 'crash'").fetchone()[0]
    assert written <= kept <= written + 1  # everything reported as written is there
    assert verify(a).ok, verify(a).problems
    if a.backend.name == "sqlite":
        assert a.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("created_first", [True, False], ids=["existing", "new"])
def test_several_processes_writing_different_calls_at_once(archive_target, created_first):
    """Writers queue on the backend's write lock; every chain and the shared archive log
    verify. Without ``created_first`` they also race to create and migrate the archive."""
    if created_first:
        Archive(archive_target).close()
    procs = [run_writer(archive_target, f"call{k}", 40, 0.0) for k in range(3)]
    for p in procs:
        out, _ = p.communicate(timeout=180)
        assert p.returncode == 0 and out.strip().endswith("sealed")
    a = Archive(archive_target)
    report = verify(a)
    assert report.ok and report.calls == 3, report.problems
    for k in range(3):
        seqs = [r[0] for r in a.conn.execute("SELECT seq FROM utterances WHERE call_id = ? ORDER BY pos", (f"call{k}",))]
        assert seqs == list(range(1, 41))
    log = [r[0] for r in a.conn.execute("SELECT event FROM archive_log ORDER BY pos")]
    assert log.count("created") == 1 and log.count("sealed") == 3
    assert [r[0] for r in a.conn.execute("SELECT name FROM _migrations ORDER BY name")] == ["0001_initial", "0002_settings", "0003_review"]


def test_durability_settings(tmp_path):
    a = Archive(tmp_path / "a.db")
    assert a.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert a.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


@pytest.fixture
def filled(archive_target):
    a = Archive(archive_target)
    for lang in ("zh", "en"):
        for name in ("threats_and_insults", "hardship_installments", "already_repaid"):
            import_transcript(a, FIX / lang / f"{name}.jsonl", agent_id=f"agent-{lang}")
    return a


def test_one_and_two_character_chinese_words_and_english_words_are_found(filled):
    def calls(q, **kw):
        return {(h.call_id, h.seq) for h in search(filled, q, **kw)}

    assert ("zh-threats_and_insults", 4) in calls("警察")  # two characters
    assert ("zh-threats_and_insults", 4) in calls("抓走")
    assert calls("钱") >= {("zh-threats_and_insults", 2), ("zh-threats_and_insults", 3)}  # one character
    assert calls("警察上门") == {("zh-threats_and_insults", 4)}  # a phrase, not scattered characters
    assert calls("警 上门") == {("zh-threats_and_insults", 4)}
    assert calls("上警察") == set()
    assert calls("裁員") == {("zh-hardship_installments", 2)}  # Traditional finds Simplified
    assert calls("deadbeat") == {("en-threats_and_insults", 3)}
    assert calls("POLICE arrest") == {("en-threats_and_insults", 4)}
    assert calls("police", category="abuse") == set()
    assert calls("钱", category="abuse") == {("zh-threats_and_insults", 3)}
    assert calls("钱", severity="info") == {("zh-threats_and_insults", 2), ("zh-already_repaid", 2)}
    assert calls("钱", agent="agent-en") == set()
    today = datetime.now(timezone.utc).astimezone().date()
    assert calls("警察", since=str(today - timedelta(days=1)), until=str(today + timedelta(days=1)))
    assert not calls("警察", since=str(today + timedelta(days=1)))
    with pytest.raises(ValueError):
        search(filled, "，。！")


def test_index_terms_cover_characters_pairs_and_words():
    uni, bi = index_terms("不还钱 OK? 坐")
    assert uni.split() == ["不", "还", "钱", "坐"]
    assert bi.split() == ["不还", "还钱", "ok", "坐"]
    assert query_parts("还钱") == [("bi", ["还钱"])]


def test_export_bundle_verifies_and_tampering_is_found(filled, tmp_path):
    bundle = export_call(filled, "zh-threats_and_insults", tmp_path / "bundle")
    assert verify_bundle(bundle) == []
    html = (bundle / "transcript.html").read_text(encoding="utf-8")
    assert "让警察上门把你抓走" in html and "threat_arrest" in html
    records = json.loads((bundle / "records.json").read_text(encoding="utf-8"))
    threat = next(r for r in records if r["kind"] == "utterance" and "抓走" in r["private"]["text"])
    threat["private"]["text"] = "今天请按时还款。"
    (bundle / "records.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    problems = verify_bundle(bundle)
    assert any("records.json" in p.message for p in problems) and any(p.what == "modified" and p.pos == threat["pos"] for p in problems)
    threat["private"]["text"] = threat["private"].pop("text")
    threat["public"]["extra"] = "smuggled"
    (bundle / "records.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    assert any("unexpected" in p.message for p in verify_bundle(bundle))


def test_zip_bundle_with_audio_and_a_changed_audio_copy(archive_target, tmp_path):
    a = Archive(archive_target)
    wav = tmp_path / "call.wav"
    wav.write_bytes((FIX / "en" / "threats_and_insults.wav").read_bytes())
    import_transcript(a, FIX / "en" / "threats_and_insults.jsonl", audio=wav)
    z = export_call(a, "en-threats_and_insults", tmp_path / "ev.zip")
    assert verify_bundle(z) == []
    with zipfile.ZipFile(z) as zf:
        assert "audio/call.wav" in zf.namelist()
    data = bytearray(wav.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wav.write_bytes(bytes(data))  # the original changed after the call
    with pytest.raises(ArchiveError, match="no longer matches"):
        export_call(a, "en-threats_and_insults", tmp_path / "ev2.zip")


def test_redacted_bundle_masks_personal_numbers_and_still_proves_the_chain(archive_target, tmp_path):
    a = Archive(archive_target)
    cid = a.start_call("r1", case={"id": "K9", "debtor_name": "张三", "phone": "13800138000"}, lang="zh")
    said = "我的身份证是11010519491231002X，手机13800138000，卡号6222021234567890123，邮箱zhang@example.com"
    a.add_utterance(cid, Utterance(cid, 1, "customer", 0.0, 3.0, said))
    a.add_utterance(cid, Utterance(cid, 2, "agent", 3.5, 4.0, "好的，已经记录"))
    a.seal(cid)
    bundle = export_call(a, "r1", tmp_path / "red", redact=True)
    text = "\n".join(p.read_text(encoding="utf-8") for p in bundle.rglob("*") if p.suffix in (".json", ".html"))
    for secret in ("11010519491231002X", "13800138000", "6222021234567890123", "zhang@example.com"):
        assert secret not in text
    assert "[ID]" in text and "[PHONE]" in text and "[CARD]" in text and "[EMAIL]" in text
    assert "好的，已经记录" in text  # the rest is untouched
    assert verify_bundle(bundle) == []
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["redacted"] and manifest["masked"] >= 5


def test_hold_purge_and_verify_agree(archive_target):
    a = Archive(archive_target)
    for cid in ("old1", "old2", "new1"):
        a.start_call(cid, started_at=(datetime.now(timezone.utc) - timedelta(days=400 if cid.startswith("old") else 5)).isoformat())
        a.add_utterance(cid, Utterance(cid, 1, "agent", 0, 1, "您好"))
        a.seal(cid)
    a.start_call("old-open", started_at=(datetime.now(timezone.utc) - timedelta(days=500)).isoformat())
    a.hold("old2", "dispute 2026-118")
    with pytest.raises(ArchiveError, match="already"):
        a.hold("old2", "again")
    with pytest.raises(ArchiveError, match="reason"):
        a.hold("old1", " ")
    report = a.purge(365)
    assert report == {"purged": ["old1"], "held": ["old2"], "open": ["old-open"], "undated": []}
    assert a.status("old1") == "purged" and a.status("old2") == "sealed"
    assert search(a, "您好") and all(h.call_id != "old1" for h in search(a, "您好"))
    assert verify(a).ok, verify(a).problems
    a.hold("old2", "dispute closed", held=False)
    assert a.purge(365)["purged"] == ["old2"]
    assert verify(a).ok
    a.conn.execute("DELETE FROM archive_log WHERE event = 'purged' AND target_call = 'old1'")  # hide a purge
    assert not verify(a).ok


def test_nothing_is_recorded_in_a_sealed_call(archive_target):
    a = Archive(archive_target)
    a.start_call("s")
    a.seal("s")
    with pytest.raises(ArchiveError, match="sealed"):
        a.add_utterance("s", Utterance("s", 1, "agent", 0, 1, "x"))
    with pytest.raises(ArchiveError, match="already in the archive"):
        a.start_call("s")


def test_the_archive_is_plain_tables_anyone_can_read(filled):
    if filled.backend.name == "sqlite":
        db = sqlite_utils.Database(filled.path)
        names, count = set(db.table_names()), db["utterances"].count
        migrations = [r["name"] for r in db["_migrations"].rows]
    else:
        import psycopg

        with psycopg.connect(filled.backend.url) as conn:
            names = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            count = (conn.execute("SELECT count(*) FROM utterances").fetchone() or (0,))[0]
            migrations = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]
    assert {"calls", "utterances", "findings", "reviews", "suggestions", "audio_files", "cases", "archive_log", "_migrations"} <= names
    assert count == 34
    assert migrations == ["0001_initial", "0002_settings", "0003_review"]


def test_bad_archive_files_and_places(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is a spreadsheet, honest" * 10)
    with pytest.raises(ArchiveError, match="not an SQLite file"):
        Archive(junk)
    assert junk.read_bytes().startswith(b"this is")  # untouched
    damaged = tmp_path / "damaged.db"
    Archive(damaged).close()
    data = bytearray(damaged.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    damaged.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="damaged|not an archive"):
        Archive(damaged)
    with pytest.raises(ArchiveError, match="does not exist"):
        Archive(tmp_path / "nowhere" / "a.db")
    with pytest.raises(ArchiveError, match="directory"):
        Archive(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ArchiveError, match="read-only"):
            Archive(folder / "a.db")
    finally:
        folder.chmod(0o700)


def test_a_read_only_archive_is_refused_for_writing(archive_target):
    path = archive_target
    Archive(path).close()
    ro = Archive(path, readonly=True)
    with pytest.raises(ArchiveError, match="read-only"):
        ro.start_call("x")


def test_a_full_archive_refuses_the_record_and_keeps_the_rest(tmp_path):
    a = Archive(tmp_path / "a.db", max_bytes=300_000)
    a.start_call("big")
    written = 0
    with pytest.raises(ArchiveFullError, match="NOT written"):
        for k in range(1, 100_000):
            a.add_utterance("big", Utterance("big", k, "agent", k, k + 1, "请按时还款，" * 40))
            written = k
    assert written > 10
    a.close()
    b = Archive(tmp_path / "a.db")
    assert b.conn.execute("SELECT count(*) FROM utterances").fetchone()[0] == written
    assert verify(b).ok


def test_signed_archives_need_their_key(make_target):
    path = make_target()
    Archive(path, key=b"k1").close()
    with pytest.raises(ArchiveError, match="CALLASSIST_ARCHIVE_KEY"):
        Archive(path, key=b"")
    plain = make_target()
    Archive(plain, key=b"").close()
    with pytest.raises(ArchiveError, match="without a key"):
        Archive(plain, key=b"k1")


def test_cli_end_to_end(archive_target, tmp_path, monkeypatch):
    monkeypatch.setenv("CALLASSIST_ARCHIVE", str(archive_target))
    monkeypatch.delenv("CALLASSIST_ARCHIVE_KEY", raising=False)
    runner = CliRunner()
    res = runner.invoke(cli, ["archive", "import", str(FIX / "zh" / "threats_and_insults.jsonl"), "--audio", str(FIX / "zh" / "threats_and_insults.wav"), "--agent", "A7"])
    assert res.exit_code == 0, res.output
    assert "threat_arrest 1" in res.output and "sealed" in res.output
    res = runner.invoke(cli, ["archive", "search", "坐牢"])
    assert res.exit_code == 0
    res = runner.invoke(cli, ["archive", "search", "抓走", "--format", "jsonl"])
    assert "threat_arrest" in json.loads(res.stdout.splitlines()[0])["categories"]
    res = runner.invoke(cli, ["archive", "verify"])
    assert res.exit_code == 0 and "ok: 1 call(s)" in res.output
    res = runner.invoke(cli, ["archive", "show", "zh-threats_and_insults"])
    assert "violation:threat_arrest critical" in res.output and "sealed" in res.output
    with Archive(archive_target, readonly=True) as store:
        pos = store.conn.execute("SELECT pos FROM findings WHERE category = 'threat_arrest'").fetchone()[0]
    res = runner.invoke(cli, ["archive", "review", "zh-threats_and_insults", str(pos), "--confirm", "--reviewer", "qa.li", "--note", "arrest threat"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["archive", "export", "zh-threats_and_insults", "--out", str(tmp_path / "ev.zip"), "--redact"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["archive", "verify-bundle", str(tmp_path / "ev.zip")])
    assert res.exit_code == 0 and "holds up" in res.output
    res = runner.invoke(cli, ["archive", "hold", "zh-threats_and_insults", "--reason", "regulator request"])
    assert res.exit_code == 0
    res = runner.invoke(cli, ["archive", "purge", "--older-than", "0"])
    assert "kept 1 under legal hold" in res.output
    with Archive(archive_target) as store:
        store.conn.execute("UPDATE utterances SET text = '您好' WHERE seq = 3")
    res = runner.invoke(cli, ["archive", "verify"])
    assert res.exit_code == 1 and "zh-threats_and_insults #" in res.output and "modified" in res.output
    (tmp_path / "bad.db").write_text("hello")
    res = runner.invoke(cli, ["archive", "--archive", str(tmp_path / "bad.db"), "verify"])
    assert res.exit_code == 2 and "not an SQLite file" in res.output and "Traceback" not in res.output


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_an_unwritable_location_is_a_clear_error_even_for_root():
    with pytest.raises(ArchiveError, match="cannot (open|create)"):
        Archive("/proc/callassist-archive.db")


def test_import_with_a_case_file_records_the_case_and_its_snapshot(archive_target, tmp_path, monkeypatch):
    case = tmp_path / "case.yaml"
    case.write_text("id: K-2026-0042\ndebtor_name: 王芳\ninstitution: 诚信金融\namount_due: 4800\ndays_overdue: 7\nofficial_channel: 官方应用\n", encoding="utf-8")
    monkeypatch.setenv("CALLASSIST_ARCHIVE", str(archive_target))
    res = CliRunner().invoke(cli, ["archive", "import", str(FIX / "zh" / "hardship_installments.jsonl"), "--case", str(case)])
    assert res.exit_code == 0, res.output
    with Archive(archive_target, readonly=True) as store:
        row = store.conn.execute("SELECT * FROM cases WHERE id = ?", ("K-2026-0042",)).fetchone()
        call = store.conn.execute("SELECT * FROM calls WHERE pos = 0").fetchone()
    assert row is not None and call is not None
    assert row["debtor_name"] == "王芳" and row["amount_due"] == 4800 and json.loads(row["meta"]) == {"official_channel": "官方应用"}
    assert call["case_id"] == "K-2026-0042" and json.loads(call["case_snapshot"])["days_overdue"] == 7
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["archive", "import", str(FIX / "zh" / "hardship_installments.jsonl"), "--case", str(bad), "--call-id", "x2"])
    assert res.exit_code == 2 and "a case file is a mapping" in res.output
    bad.write_text("debtor_name: 王芳\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["archive", "import", str(FIX / "zh" / "hardship_installments.jsonl"), "--case", str(bad), "--call-id", "x3"])
    assert res.exit_code == 2 and "`id`" in res.output
