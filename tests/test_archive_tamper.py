"""Tamper evidence: every change, deletion, insertion or reordering of a record is caught."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant.archive import Archive, verify
from assistant.archive.schema import ARCHIVE_LOG, CHAINED, NUMERIC, SPECS
from assistant.events import Finding, Utterance, Word

CHAIN_COLS = ("call_id", "pos", "prev_hash", "hash", "mac", "salt")


def build(target: Path | str, folder: Path, key: bytes | None = None) -> Archive:
    """An archive with two sealed calls holding one record of every kind, plus a hold."""
    a = Archive(target, key=key)
    audio = folder / "call.wav"
    audio.write_bytes(b"RIFF....WAVEfmt ")
    for cid in ("c1", "c2"):
        a.start_call(cid, case={"id": f"K-{cid}", "debtor_name": "李明", "amount_due": 3000.5}, agent_id="A7", agent_name="王芳",
                     lang="zh", channel_map={"0": "agent", "1": "customer"}, asr_model="vosk-model-cn-0.22", ruleset_version="0.1.0", ruleset_hash="ab" * 32)
        a.add_audio(cid, audio, sha256="cd" * 32, duration=12.5, sample_rate=8000, channels=2)
        a.add_utterance(cid, Utterance(cid, 1, "agent", 0.5, 2.25, "不还钱就等着坐牢", (Word("不还钱", 0.5, 1.2, 0.91), Word("坐牢", 1.5, 2.25, 0.88))))
        a.add_utterance(cid, Utterance(cid, 2, "customer", 3.0, 4.0, "我上个月已经还清了", ()))
        pos = a.add_finding(cid, 1, Finding("violation", "threat_arrest", "zh.threat_arrest.jail", "critical", 6, 8, "坐牢", score=0.97), 3)
        a.add_suggestion(cid, 1, "zh.negotiation.plan", "我们可以一起看看分期方案", "shown")
        a.seal(cid)
        a.add_review(cid, pos, "confirm", "qa.li", "明确的刑事威胁", agent_dispute=True)
        a.add_score(cid, {"scorecard": "zh-default", "scorecard_version": 1, "scorecard_hash": "ef" * 32, "score": 60.0, "passed": False,
                          "auto_fail": "threat_arrest", "deductions": [{"finding": f"{cid}#{pos}", "points": 40}], "asr_review": 0, "scorer": "qa.li"})
    a.hold("c1", "纠纷 2026-118")
    return a


def data_columns(table: str) -> tuple[str, ...]:
    return SPECS[table][1] + SPECS[table][2]


def changed(value, column=""):
    if value is None and column in NUMERIC:
        return 1
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.25
    if value is None or value == "":
        return "x"
    return value[:-1] + ("0" if value[-1] != "0" else "1")


MUTATIONS = [(t, c) for t in (*CHAINED, ARCHIVE_LOG) for c in (*data_columns(t), *CHAIN_COLS)]


@contextmanager
def scratch(a: Archive):
    """A change made, looked at, and rolled back (as in a transaction on either backend)."""
    a.conn.execute("BEGIN")
    try:
        yield
    finally:
        a.conn.execute("ROLLBACK")


@pytest.fixture
def pristine(archive_target, tmp_path):
    a = build(archive_target, tmp_path)
    assert verify(a).ok, verify(a).problems
    return a


@pytest.mark.parametrize("table,column", MUTATIONS, ids=[f"{t}.{c}" for t, c in MUTATIONS])
def test_changing_any_column_of_any_record_is_caught(pristine, table, column):
    rows = pristine.conn.execute(f"SELECT id, [{column}] FROM [{table}]").fetchall()
    assert rows, f"the fixture has no {table} rows"
    for row in rows:
        if column == "call_id" and table == ARCHIVE_LOG:
            new = "c2"  # move an archive-log entry into a call's chain
        elif column == "pos":
            new = row[1] + 100
        else:
            new = changed(row[1], column)
        with scratch(pristine):
            pristine.conn.execute(f"UPDATE [{table}] SET [{column}] = ? WHERE id = ?", (new, row[0]))
            report = verify(pristine)
        assert not report.ok, f"{table}.{column} of row {row[0]} changed to {new!r} went unnoticed"


@pytest.mark.parametrize("table", [*CHAINED, ARCHIVE_LOG])
def test_deleting_any_record_is_caught(pristine, table):
    for (rid,) in pristine.conn.execute(f"SELECT id FROM [{table}]").fetchall():
        with scratch(pristine):
            pristine.conn.execute(f"DELETE FROM [{table}] WHERE id = ?", (rid,))
            report = verify(pristine)
        assert not report.ok, f"deleting {table} row {rid} went unnoticed"


def test_deleting_a_whole_call_is_caught(pristine):
    for table in CHAINED:
        pristine.conn.execute(f"DELETE FROM [{table}] WHERE call_id = 'c2'")
    pristine.conn.execute("DELETE FROM call_status WHERE call_id = 'c2'")
    assert any(p.call_id == "c2" and p.what == "deleted" for p in verify(pristine).problems)


def test_reordering_records_is_caught(pristine):
    cases = [("utterances", "utterances"), ("utterances", "findings"), ("findings", "suggestions"), ("calls", "audio_files")]
    for first, second in cases:
        a = pristine.conn.execute(f"SELECT id, pos FROM [{first}] WHERE call_id = 'c1' ORDER BY pos LIMIT 1").fetchone()
        b = pristine.conn.execute(f"SELECT id, pos FROM [{second}] WHERE call_id = 'c1' ORDER BY pos DESC LIMIT 1").fetchone()
        with scratch(pristine):
            pristine.conn.execute("DROP INDEX IF EXISTS [idx_%s_call_id_pos]" % first)
            pristine.conn.execute("DROP INDEX IF EXISTS [idx_%s_call_id_pos]" % second)
            pristine.conn.execute(f"UPDATE [{first}] SET pos = ? WHERE id = ?", (b["pos"], a["id"]))
            pristine.conn.execute(f"UPDATE [{second}] SET pos = ? WHERE id = ?", (a["pos"], b["id"]))
            report = verify(pristine)
        assert not report.ok, f"swapping {first} and {second} went unnoticed"
    assert verify(pristine).ok


def test_inserting_records_is_caught(pristine):
    row = dict(pristine.conn.execute("SELECT * FROM utterances WHERE call_id = 'c1' AND pos = 2").fetchone())
    del row["id"]
    attempts = [
        {**row, "pos": 50},  # beyond the end, after a gap
        {**row, "call_id": "c2", "pos": 2},  # copied into another call's chain
        {**row, "pos": 2},  # a second record at a taken position
    ]
    for forged in attempts:
        with scratch(pristine):
            pristine.conn.execute("DROP INDEX IF EXISTS idx_utterances_call_id_pos")
            cols = ", ".join(f"[{k}]" for k in forged)
            pristine.conn.execute(f"INSERT INTO utterances ({cols}) VALUES ({', '.join('?' for _ in forged)})", tuple(forged.values()))
            report = verify(pristine)
        assert not report.ok, f"forged record {forged['call_id']}#{forged['pos']} went unnoticed"


def rechain(a: Archive, chain_id: str) -> None:
    """What a forger without the key does: recompute every hash of a chain in place
    (and, for the archive log, the head file beside the archive)."""
    from assistant.archive.verify import expected_hash, label_of

    records = a.records(chain_id)
    label = label_of(chain_id, records)
    prev = None
    for table, stored in records:
        row = dict(stored)
        if prev is not None:
            row["prev_hash"] = prev
        digest = expected_hash(table, row, label)
        a.conn.execute(f"UPDATE [{table}] SET prev_hash = ?, hash = ? WHERE id = ?", (row["prev_hash"], digest, row["id"]))
        prev = digest
    if chain_id == "_archive":
        forge_head(a)


def forge_head(a: Archive) -> None:
    """Rewrite the head file to match the archive log as it now is (no key: no valid HMAC)."""
    import json


    pos, digest = a._head("_archive")
    head = json.loads(a.head_file.read_text())
    head.update(pos=pos, hash=digest, mac="")
    a.head_file.write_text(json.dumps(head))


def test_a_rewritten_chain_passes_without_the_key_but_fails_with_it(archive_target, tmp_path):
    """Someone who edits a record and recomputes every hash after it defeats a bare chain;
    with an archive key, the signatures expose it."""
    from assistant.archive import chain

    a = build(archive_target, tmp_path, key=b"secret key of the compliance office")
    from assistant.archive.search import index_terms

    a.conn.execute("UPDATE utterances SET text = '请按时还款' WHERE call_id = 'c1' AND pos = 2")
    rowid = a.conn.execute("SELECT id FROM utterances WHERE call_id = 'c1' AND pos = 2").fetchone()[0]
    a.conn.execute("UPDATE utterance_search SET uni = ?, bi = ? WHERE rowid = ?", (*index_terms("请按时还款"), rowid))  # a careful forger
    rechain(a, "c1")
    heads = {r["pos"]: r["hash"] for _, r in a.records("c1")}
    for entry in a.conn.execute(f"SELECT id, records FROM [{ARCHIVE_LOG}] WHERE target_call = 'c1'").fetchall():
        a.conn.execute(f"UPDATE [{ARCHIVE_LOG}] SET head = ? WHERE id = ?", (heads[entry["records"] - 1], entry["id"]))
    rechain(a, chain.ARCHIVE_CHAIN)
    assert verify(a, key=b"").ok  # the bare chain is consistent again
    problems = verify(a).problems  # the archive's own key
    assert problems and all(p.what in ("modified", "head") for p in problems)
    assert any("HMAC" in p.message for p in problems)


def test_unsigned_records_fail_when_a_key_is_expected(archive_target, tmp_path):
    a = build(archive_target, tmp_path)
    assert not verify(a, key=b"k").ok


def test_the_status_column_cannot_hide_an_unsealed_call(pristine):
    pristine.conn.execute("UPDATE call_status SET status = 'open' WHERE call_id = 'c1'")
    assert any(p.what == "status" for p in verify(pristine).problems)


def test_a_plain_sqlite_file_is_not_taken_for_an_archive(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    from assistant.archive import ArchiveError

    with pytest.raises(ArchiveError, match="not a callassist archive"):
        Archive(other, readonly=True)
