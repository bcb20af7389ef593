"""Archive tables, created and changed by named migrations (applied once, in order)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, ContextManager

from assistant.archive.backend import Backend

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


# Data columns that hold numbers; every other data column holds text (or JSON as text).
# SQLite keeps any value as written; PostgreSQL needs the type (see postgres.py).
NUMERIC = frozenset({"seq", "start", "end", "conf", "utterance_seq", "rule_version", "span_start", "span_end", "provisional", "score",
                     "finding_pos", "agent_dispute", "duration", "sample_rate", "channels", "bytes", "records", "scorecard_version",
                     "passed", "asr_review"})


def _create_chained(backend: Backend, conn: Any, table: str) -> None:
    _, public, private = SPECS[table]
    backend.create_chained(conn, table, public + private, NUMERIC)


# The case table's columns; a case's other fields, and values that are not of their
# column's kind ("4800元" as amount_due), are kept verbatim in `meta` (JSON).
CASE_COLUMNS: dict[str, type] = {"id": str, "debtor_name": str, "debtor_ref": str, "institution": str, "product": str, "amount_due": float,
                                 "currency": str, "days_overdue": int, "due_date": str, "meta": str, "updated_at": str}


def _initial(backend: Backend, conn: Any) -> None:
    backend.create_table(conn, "cases", CASE_COLUMNS, pk="id")
    for table in SPECS:
        if table not in LATER:
            _create_chained(backend, conn, table)
    # status and cached columns (not part of the chain: verify re-derives them from it)
    backend.create_table(conn, "call_status", {"call_id": str, "status": str, "ended_at": str, "writer_pid": int, "writer_host": str}, pk="call_id")
    backend.create_search(conn)


def _settings(backend: Backend, conn: Any) -> None:
    backend.create_table(conn, "archive_settings", {"name": str, "value": str}, pk="name")


def _review(backend: Backend, conn: Any) -> None:
    """QA review: the scores of calls (chained) and the review app's users (each change in the archive log)."""
    _create_chained(backend, conn, "scores")
    backend.create_table(conn, "users", {"name": str, "role": str, "password": str, "created_at": str, "disabled": int}, pk="name")


MIGRATIONS: list[tuple[str, Callable[[Backend, Any], None]]] = [
    ("0001_initial", _initial),
    ("0002_settings", _settings),
    ("0003_review", _review),
]


def migrate(backend: Backend, conn: Any, transaction: Callable[[], ContextManager[None]]) -> list[str]:
    """Apply every migration not yet applied, each in its own write transaction (so two
    processes opening a new archive at once apply each migration once); return their names."""
    def applied_names() -> set[str]:
        if "_migrations" not in backend.table_names(conn):
            return set()
        return {row[0] for row in conn.execute("SELECT name FROM _migrations")}

    if applied_names() >= {name for name, _ in MIGRATIONS}:
        return []
    applied = []
    for name, step in MIGRATIONS:
        with transaction():
            if "_migrations" not in backend.table_names(conn):
                backend.create_table(conn, "_migrations", {"name": str, "applied_at": str}, pk="name")
            if name in applied_names():
                continue
            step(backend, conn)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                         (name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
        applied.append(name)
    return applied
