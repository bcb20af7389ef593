"""Archive tables, created and changed by named migrations (applied once, in order)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, ContextManager

import sqlite_utils

# table -> (kind, public columns, private columns). The chain covers exactly these.
# Private columns enter a record's hash through a salted commitment (see chain.py), so a
# redacted export can withhold them and still prove the chain: everything that can name
# or identify a person (texts, names, ids, file names, hosts, notes) is private.
CHAINED: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "calls": ("call", ("direction", "started_at", "lang", "channel_map", "asr_model", "ruleset_version", "ruleset_hash"),
              ("case_id", "agent_id", "agent_name", "case_snapshot", "source", "writer")),
    "utterances": ("utterance", ("seq", "speaker", "start", "end", "conf"), ("text", "words")),
    "findings": ("finding", ("utterance_seq", "rule_id", "rule_version", "category", "kind", "severity", "span_start", "span_end", "provisional", "source", "score"), ("matched",)),
    "suggestions": ("suggestion", ("utterance_seq", "script_id", "event", "at"), ("text",)),
    "reviews": ("review", ("finding_pos", "decision", "agent_dispute", "at"), ("reviewer", "note")),
    "audio_files": ("audio", ("sha256", "duration", "sample_rate", "channels", "bytes"), ("name", "path")),
    "call_events": ("event", ("event", "at"), ("detail",)),
    # a call's score against a scorecard (scorecard.py): which card, its version and hash, what cost points
    "scores": ("score", ("scorecard", "scorecard_version", "scorecard_hash", "score", "passed", "auto_fail", "deductions", "asr_review", "at"),
               ("scorer",)),
}
ARCHIVE_LOG = "archive_log"  # the archive-wide chain: creation, seals, holds, purges, case records, post-seal records
# Every chained table, the archive log included: table -> (kind, public, private columns).
SPECS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    **CHAINED,
    ARCHIVE_LOG: ("log", ("event", "at", "head", "records"), ("target_call", "reason")),
}
LATER = ("scores",)  # chained tables a later migration creates
CHAIN_FORMAT = "2"  # 2: chain label = SHA-256(opening salt + call id); identifying fields private


def _create_chained(db: sqlite_utils.Database, table: str, data_columns: tuple[str, ...]) -> None:
    """A chained table. Data columns have no declared type, so SQLite keeps every value
    exactly as written (an integer stays an integer): the hash is recomputed from them."""
    data = ", ".join(f"[{c}]" for c in data_columns)
    db.execute(
        f"CREATE TABLE [{table}] (id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, pos INTEGER NOT NULL, "
        f"prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL, salt TEXT NOT NULL, {data})"
    )
    db.table(table).create_index(["call_id", "pos"], unique=True)


def _initial(db: sqlite_utils.Database) -> None:
    db.table("cases").create({"id": str, "debtor_name": str, "debtor_ref": str, "institution": str, "product": str,
                        "amount_due": float, "currency": str, "days_overdue": int, "due_date": str, "meta": str, "updated_at": str}, pk="id")
    for table, (_, public, private) in SPECS.items():
        if table not in LATER:
            _create_chained(db, table, public + private)
    # status and cached columns (not part of the chain: verify re-derives them from it)
    db.table("call_status").create({"call_id": str, "status": str, "ended_at": str, "writer_pid": int, "writer_host": str}, pk="call_id")
    db.execute("CREATE VIRTUAL TABLE utterance_search USING fts5(uni, bi, tokenize='unicode61 remove_diacritics 2')")


def _settings(db: sqlite_utils.Database) -> None:
    db.table("archive_settings").create({"name": str, "value": str}, pk="name")


def _review(db: sqlite_utils.Database) -> None:
    """QA review: the scores of calls (chained) and the review app's users (each change in the archive log)."""
    _, public, private = CHAINED["scores"]
    _create_chained(db, "scores", public + private)
    db.table("users").create({"name": str, "role": str, "password": str, "created_at": str, "disabled": int}, pk="name")


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _initial),
    ("0002_settings", _settings),
    ("0003_review", _review),
]


def migrate(db: sqlite_utils.Database, transaction: Callable[[], ContextManager[None]]) -> list[str]:
    """Apply every migration not yet applied, each in its own transaction; return their names."""
    if "_migrations" not in db.table_names():
        db.table("_migrations").create({"name": str, "applied_at": str}, pk="name")
    done = {row["name"] for row in db["_migrations"].rows}
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with transaction():
            step(db)
            db.table("_migrations").insert({"name": name, "applied_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        applied.append(name)
    return applied
