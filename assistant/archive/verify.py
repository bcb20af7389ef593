"""Check an archive's hash chains: report every modified, deleted, inserted or reordered record."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from assistant.archive import chain
from assistant.archive.schema import ARCHIVE_LOG, SPECS
from assistant.archive.store import Archive


@dataclass(frozen=True)
class Problem:
    """One thing that does not add up, located by chain (call) and position."""

    call_id: str
    pos: int | None
    what: str  # modified | deleted | inserted | reordered | unsigned | status

    message: str

    def __str__(self) -> str:
        where = f"{self.call_id}" + (f" #{self.pos}" if self.pos is not None else "")
        return f"{where}: {self.what}: {self.message}"


@dataclass
class Report:
    """The outcome of a verification."""

    calls: int = 0
    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def expected_hash(table: str, row: Mapping[str, Any], commit: str | None = None) -> str:
    """Recompute a record's hash from its stored columns (or a given private commitment)."""
    kind, public_cols, private_cols = SPECS[table]
    public = {c: row[c] for c in public_cols}
    if commit is None:
        commit = chain.commitment(row["salt"], {c: row[c] for c in private_cols})
    return chain.link(row["prev_hash"], chain.record_body(row["call_id"], row["pos"], kind, public, commit))


def check_chain(call_id: str, rows: Iterable[tuple[str, Mapping[str, Any]]], key: bytes | None = None,
                commits: Mapping[int, str] | None = None, unsigned: bool = False) -> tuple[list[Problem], str, int]:
    """Check one chain given its ``(table, row)`` records; returns (problems, head hash, count).

    ``commits`` gives the private commitment of records whose private fields were redacted.
    """
    problems: list[Problem] = []
    rows = sorted(rows, key=lambda item: (item[1]["pos"], item[0]))
    prev = chain.GENESIS
    expected_pos = 0
    seen: set[int] = set()
    for table, row in rows:
        kind = SPECS[table][0]
        pos = row["pos"]
        if row["call_id"] != call_id:
            problems.append(Problem(call_id, pos, "inserted", f"{kind} record belongs to chain {row['call_id']!r}"))
        if pos in seen:
            problems.append(Problem(call_id, pos, "inserted", f"a second record ({kind}) at this position"))
            continue
        seen.add(pos)
        if pos > expected_pos:
            problems.append(Problem(call_id, expected_pos, "deleted", f"positions {expected_pos}–{pos - 1} are missing before this {kind}"))
        expected_pos = pos + 1
        commit = (commits or {}).get(pos)
        if expected_hash(table, row, commit) != row["hash"]:
            problems.append(Problem(call_id, pos, "modified", f"{kind} record's content does not match its hash"))
        elif row["prev_hash"] != prev:
            problems.append(Problem(call_id, pos, "reordered" if pos else "modified", f"{kind} record is not linked to the record before it (moved, inserted, or a record before it was removed or changed)"))
        if key and not chain.signature_ok(key, row["hash"], row["mac"]):
            problems.append(Problem(call_id, pos, "modified", f"{kind} record's signature (HMAC) is wrong: rewritten without the key"))
        elif unsigned and row["mac"]:
            problems.append(Problem(call_id, pos, "modified", f"{kind} record carries a signature in an archive that signs nothing"))
        prev = row["hash"]
    return problems, prev, expected_pos


def verify(archive: Archive, call_id: str | None = None, key: bytes | None = None) -> Report:
    """Verify every call (or one) and the archive log; cross-check seals and purges."""
    key = key if key is not None else archive.key
    unsigned = not archive.signed
    report = Report()
    log_rows = archive.records(chain.ARCHIVE_CHAIN)
    problems, log_head, log_count = check_chain(chain.ARCHIVE_CHAIN, log_rows, key, unsigned=unsigned)
    report.problems += problems
    report.heads[chain.ARCHIVE_CHAIN] = log_head
    vouched: dict[str, list[dict[str, Any]]] = {}  # call -> archive-log entries that name one of its records
    purged: set[str] = set()
    for _, row in log_rows:
        if row["call_id"] != chain.ARCHIVE_CHAIN:
            continue
        if row["event"] == "purged":
            purged.add(row["target_call"])
        else:
            vouched.setdefault(row["target_call"], []).append(dict(row))
    strays = archive.conn.execute(f"SELECT id, call_id, pos FROM [{ARCHIVE_LOG}] WHERE call_id != ?", (chain.ARCHIVE_CHAIN,)).fetchall()
    for stray in strays:
        report.problems.append(Problem(stray["call_id"], stray["pos"], "inserted", "an archive-log entry sits outside the archive log"))
    statuses = {r["call_id"]: r["status"] for r in archive.conn.execute("SELECT call_id, status FROM call_status")}
    ids = sorted(set(archive.chains()) | set(vouched) | set(statuses)) if call_id is None else [call_id]
    for cid in ids:
        rows = archive.records(cid)
        if cid in purged:
            if rows:
                report.problems.append(Problem(cid, None, "inserted", f"the call was purged but {len(rows)} record(s) of it are present"))
            continue
        if not rows:
            if cid in vouched or cid in statuses:
                report.problems.append(Problem(cid, None, "deleted", "every record of this call is gone, and no purge was recorded"))
            continue
        report.calls += 1
        report.records += len(rows)
        problems, head, count = check_chain(cid, rows, key, unsigned=unsigned)
        report.problems += problems
        report.heads[cid] = head
        if rows[0][0] != "calls" or rows[0][1]["pos"] != 0:
            report.problems.append(Problem(cid, 0, "deleted", "the call's opening record is missing"))
        by_hash = {r["hash"]: r for _, r in rows}
        named: set[int] = set()
        for entry in vouched.get(cid, []):
            record = by_hash.get(entry["head"])
            if record is None or record["pos"] + 1 != int(entry["records"]):
                report.problems.append(Problem(cid, int(entry["records"]) - 1, "deleted",
                                               f"the archive log vouches for a {entry['event']} record that is gone or changed"))
            else:
                named.add(record["pos"])
        ends = [r for t, r in rows if t == "call_events" and r["event"] in ("sealed", "interrupted")]
        end_pos = ends[0]["pos"] if ends else None
        if end_pos is not None:
            for t, r in rows:
                if r["pos"] >= end_pos and r["pos"] not in named:
                    report.problems.append(Problem(cid, r["pos"], "inserted", f"{SPECS[t][0]} record after the call's end that the archive log does not vouch for"))
        status = statuses.get(cid)
        derived = ends[-1]["event"] if ends else "open"
        if status is not None and status != derived:
            report.problems.append(Problem(cid, None, "status", f"the status column says {status} but the chain says {derived}"))
    report.records += log_count
    return report
