"""What only the PostgreSQL backend has to get right (the rest of the archive suite runs on
both backends through the ``archive_target`` fixture): numbers that read back bit for bit,
its SQL dialect, a database that is not ours, a server that is not there, a log cut back
behind the writers' heads, and readers that see one state while writers go on."""
from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from assistant.archive import Archive, verify
from assistant.archive.postgres import display_url, exact_decimal, translate
from assistant.cli import cli
from assistant.events import Utterance, Word
from tests.test_archive import run_writer

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "recordings_fixtures" / "zh" / "threats_and_insults.jsonl"


def test_the_sql_dialect_is_translated_outside_string_literals():
    sql = "SELECT [end], a FROM [t] WHERE b = ? AND c = :name AND d LIKE '%[x]?:y%' AND e::text = ?"
    assert translate(sql, True) == """SELECT "end", a FROM "t" WHERE b = %s AND c = %(name)s AND d LIKE '%%[x]?:y%%' AND e::text = %s"""
    assert translate("SELECT 'a%b'", False) == "SELECT 'a%b'"  # no parameters: nothing is a placeholder


def test_every_float_reads_back_as_the_same_float():
    rng = random.Random(7)
    values = [0.1, 1 / 3, 1e-7, 5e-324, 1e20, 1.7976931348623157e308, 123456.78901234567, 2.5, 1.0, 0.0]
    values += [rng.uniform(0, 10_000) for _ in range(2000)] + [math.ldexp(rng.random(), rng.randint(-60, 60)) for _ in range(2000)]
    for value in values:
        back = exact_decimal(value)
        exponent = back.as_tuple().exponent
        assert float(back) == value and isinstance(exponent, int) and exponent < 0, value  # a float stays a float (it has decimals)


def test_numbers_and_texts_keep_their_kind_through_the_database(postgres_url):
    a = Archive(postgres_url)
    a.start_call("n", lang="zh")
    starts = [0, 0.1, 1 / 3, 7, 12345.678901234567, 1e-7]
    for k, start in enumerate(starts, 1):
        words = (Word("还钱", start, start + 0.5, 0.87654321),)
        a.add_utterance("n", Utterance("n", k, "agent", start, start + 1, "请按时还钱", words))
    a.seal("n")
    rows = a.conn.execute("SELECT seq, start, [end], conf, words FROM utterances ORDER BY pos").fetchall()
    assert [r["start"] for r in rows] == starts
    assert [type(r["start"]) for r in rows] == [type(s) for s in starts]  # 0 and 7 stay integers, 0.1 a float
    assert all(type(r["seq"]) is int for r in rows)
    assert verify(a).ok, verify(a).problems


def test_a_database_of_another_program_is_refused_and_left_untouched(postgres_cluster, postgres_url):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (x text)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    for args in (["archive", "calls"], ["archive", "import", str(ZH)], ["archive", "verify"]):
        result = CliRunner().invoke(cli, [*args[:1], "--archive", postgres_url, *args[1:]])
        assert result.exit_code == 2 and "not a callassist archive" in result.output, result.output
    with psycopg.connect(postgres_url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert tables == ["notes"] and conn.execute("SELECT x FROM notes").fetchall() == [("keep me",)]


def test_a_server_that_is_not_there_is_one_clear_line_and_never_the_password():
    url = "postgresql://qa:s3cret-word@127.0.0.1:1/archive"
    result = CliRunner().invoke(cli, ["archive", "--archive", url, "calls"])
    assert result.exit_code == 2, result.output
    assert "cannot reach the PostgreSQL archive" in result.output and "Traceback" not in result.output
    assert "s3cret-word" not in result.output and "qa:***@127.0.0.1:1" in result.output
    assert display_url(url) == "postgresql://qa:***@127.0.0.1:1/archive"


def test_a_missing_database_says_to_create_it(postgres_cluster):
    result = CliRunner().invoke(cli, ["archive", "--archive", postgres_cluster.url("no_such_db"), "calls"])
    assert result.exit_code == 2 and "no such database" in result.output and "createdb" in result.output


def test_an_archive_log_cut_back_to_an_older_backup_is_caught_by_the_writers_head(postgres_url):
    a = Archive(postgres_url)
    for cid in ("c1", "c2"):
        a.start_call(cid, lang="zh")
        a.add_utterance(cid, Utterance(cid, 1, "agent", 0, 1, "您好"))
        a.seal(cid)
    assert verify(a).ok
    # what restoring a backup taken before c2 looks like: c2 and the log entries since are gone
    last_c1 = a.conn.execute("SELECT max(pos) FROM archive_log WHERE target_call = 'c1'").fetchone()[0]
    a.conn.execute("DELETE FROM archive_log WHERE pos > ?", (last_c1,))
    for table in ("calls", "utterances", "call_events", "call_status"):
        a.conn.execute(f"DELETE FROM [{table}] WHERE call_id = 'c2'")
    a.conn.execute("DELETE FROM utterance_search WHERE rowid NOT IN (SELECT id FROM utterances)")
    problems = verify(a).problems
    assert any(p.what == "truncated" for p in problems), problems


def test_verify_reads_one_state_while_a_writer_goes_on(archive_target):
    """Without one read transaction, an utterance committed between two of verify's queries
    looks like a stray index entry or a gap."""
    Archive(archive_target).close()
    writer = run_writer(archive_target, "busy", 400, 0.0)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "1"  # writing has begun
        reader = Archive(archive_target, readonly=True)
        seen = set()
        for _ in range(8):
            report = verify(reader)
            assert report.ok, report.problems
            seen.add(report.records)
        assert len(seen) > 1, "the writer should have been writing while verify ran"
    finally:
        writer.kill()
        writer.wait()


def test_the_live_pipeline_and_commands_take_a_postgresql_url(postgres_url, tmp_path, monkeypatch):
    monkeypatch.delenv("CALLASSIST_ARCHIVE_KEY", raising=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["archive", "import", str(ZH), "--archive", postgres_url])
    assert result.exit_code == 0, result.output
    done = subprocess.run([sys.executable, "-m", "assistant", "archive", "--archive", postgres_url, "search", "抓走"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "抓走" in done.stdout, done.stderr
    result = runner.invoke(cli, ["archive", "--archive", postgres_url, "export", "zh-threats_and_insults", "--out", str(tmp_path / "ev.zip"), "--redact"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["archive", "verify-bundle", str(tmp_path / "ev.zip")]).exit_code == 0
    result = runner.invoke(cli, ["archive", "--archive", postgres_url, "verify"])
    assert result.exit_code == 0 and "ok: 1 call(s)" in result.output, result.output


def test_settings_show_the_archive_url_without_its_password(monkeypatch):
    monkeypatch.setenv("CALLASSIST_ARCHIVE", "postgresql://qa:s3cret-word@db.example/callassist")
    result = CliRunner().invoke(cli, ["settings"])
    assert result.exit_code == 0 and "postgresql://qa:***@db.example/callassist" in result.output and "s3cret-word" not in result.output


def test_a_new_database_is_an_archive_not_yet_made_for_live_and_check(postgres_url):
    """Like a missing file: the contact check before a call finds no earlier calls, and the
    call then creates the archive (it used to stop with "not a callassist archive")."""
    from assistant.archive.backend import exists

    assert not exists(postgres_url)
    result = CliRunner().invoke(cli, ["demo", "--speed", "0", "--view", "jsonl", "--archive", postgres_url])
    assert result.exit_code == 0, result.output
    assert exists(postgres_url)
    with Archive(postgres_url, readonly=True) as a:
        assert len(a.calls()) == 1 and verify(a).ok
