"""Check an archive: every modified, deleted, inserted or reordered record, and what the
chains alone cannot show.

Beyond the hash chains, ``verify`` checks:
- the archive head kept beside the file (``archive.db.head``): a log cut back (a lost or
  truncated write-ahead log, an older copy put back) shows as missing entries;
- every call's status against its chain (the status column is a cache, never trusted);
- every case row against the last version the archive log vouches for;
- the search index against the utterances (a deleted entry would hide evidence from search);
- the signing: given a key, an archive without signatures is reported (a downgrade looks
  exactly like that), never waved through.
What it still cannot see is listed in :attr:`Report.blind_spots`.
"""
from __future__ import annotations

import hmac
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

from assistant.archive import chain
from assistant.archive.schema import ARCHIVE_LOG, SPECS
from assistant.archive.search import index_terms
from assistant.archive.store import CALL_EVENTS, END_EVENTS, HEAD_FORMAT, Archive, case_record, status_after
from assistant.errors import ArchiveError

Record = Union[Mapping[str, Any], sqlite3.Row]
"""A chained row: read from the database, or from an exported bundle."""


@dataclass(frozen=True)
class Problem:
    """One thing that does not add up, located by chain (call) and position."""

    call_id: str
    pos: int | None
    what: str  # modified | deleted | inserted | reordered | unsigned | status | truncated | head | case | index
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
    blind_spots: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def expected_hash(table: str, row: Record, label: str, commit: str | None = None) -> str:
    """Recompute a record's hash from its stored columns (or a given private commitment)."""
    kind, public_cols, private_cols = SPECS[table]
    public = {c: row[c] for c in public_cols}
    if commit is None:
        commit = chain.commitment(row["salt"], {c: row[c] for c in private_cols})
    return chain.link(row["prev_hash"], chain.record_body(label, row["pos"], kind, public, commit))


def label_of(call_id: str, rows: Sequence[tuple[str, Record]]) -> str:
    """A chain's label from its opening record's salt (the id itself where there is none)."""
    if call_id == chain.ARCHIVE_CHAIN:
        return chain.ARCHIVE_CHAIN
    opening = [r for t, r in rows if t == "calls" and r["pos"] == 0]
    return chain.chain_label(opening[0]["salt"], call_id) if opening else call_id


def check_chain(call_id: str, rows: Iterable[tuple[str, Record]], key: bytes | None = None,
                commits: Mapping[int, str] | None = None, unsigned: bool = False, label: str | None = None) -> tuple[list[Problem], str, int]:
    """Check one chain given its ``(table, row)`` records; returns (problems, head hash, count).

    ``commits`` gives the private commitment of records whose private fields were redacted;
    ``label`` the chain label (default: from the opening record's salt and ``call_id``).
    """
    problems: list[Problem] = []
    rows = sorted(rows, key=lambda item: (item[1]["pos"], item[0]))
    label = label if label is not None else label_of(call_id, rows)
    prev = chain.GENESIS
    expected_pos = 0
    seen: set[int] = set()
    for table, row in rows:
        kind = SPECS[table][0]
        pos = row["pos"]
        if row["call_id"] != call_id:
            problems.append(Problem(call_id, pos, "inserted", f"{kind} record belongs to chain {row['call_id']!r}"))
        if not isinstance(pos, int) or pos in seen:
            problems.append(Problem(call_id, pos if isinstance(pos, int) else None, "inserted", f"a second record ({kind}) at this position"))
            continue
        seen.add(pos)
        if pos > expected_pos:
            problems.append(Problem(call_id, expected_pos, "deleted", f"positions {expected_pos}–{pos - 1} are missing before this {kind}"))
        expected_pos = pos + 1
        commit = (commits or {}).get(pos)
        try:
            digest = expected_hash(table, row, label, commit)
        except (TypeError, ValueError, KeyError):
            digest = ""
        if digest != row["hash"]:
            problems.append(Problem(call_id, pos, "modified", f"{kind} record's content does not match its hash"))
        elif row["prev_hash"] != prev:
            problems.append(Problem(call_id, pos, "reordered" if pos else "modified", f"{kind} record is not linked to the record before it (moved, inserted, or a record before it was removed or changed)"))
        if key and not chain.signature_ok(key, str(row["hash"]), str(row["mac"] or "")):
            problems.append(Problem(call_id, pos, "modified", f"{kind} record's signature (HMAC) is wrong: rewritten without the key"))
        elif unsigned and row["mac"]:
            problems.append(Problem(call_id, pos, "modified", f"{kind} record carries a signature in an archive that signs nothing"))
        prev = row["hash"]
    return problems, prev, expected_pos


def vouching(call_id: str, rows: Sequence[tuple[str, Record]], entries: Sequence[Record]) -> tuple[list[Problem], str]:
    """Check a call's records against the archive-log entries that name its chain
    (seals, interruptions, resumptions, reviews and holds after the end).

    Every entry must name a record that is there with the count it gives; once the call
    has ended, no record may stand beyond the last one the log vouches for. Returns the
    problems and the status the chain itself says (open, sealed or interrupted).
    """
    problems: list[Problem] = []
    by_hash = {r["hash"]: r for _, r in rows}
    top = -1
    for entry in entries:
        record = by_hash.get(entry["head"])
        try:
            count = int(entry["records"])
        except (TypeError, ValueError):
            count = -1
        if record is None or record["pos"] + 1 != count:
            problems.append(Problem(call_id, count - 1, "deleted", f"the archive log vouches for a {entry['event']} record that is gone or changed"))
        else:
            top = max(top, record["pos"])
    marks = [(r["pos"], r["event"]) for t, r in rows if t == "call_events" and r["event"] in END_EVENTS]
    if marks and marks[-1][1] == "reopened":
        if marks[-1][0] > top:
            problems.append(Problem(call_id, marks[-1][0], "inserted", "the call was reopened, but the archive log does not vouch for it"))
    elif marks:
        for table, r in rows:
            if r["pos"] > top:
                problems.append(Problem(call_id, r["pos"], "inserted", f"{SPECS[table][0]} record after the call's end that the archive log does not vouch for"))
    return problems, status_after(marks[-1][1] if marks else None)


def _check_head(archive: Archive, log_rows: list[tuple[str, Any]], key: bytes | None, signed: bool, path: Path | None) -> list[Problem]:
    """The archive log against the head written (beside the file, or on this machine for
    PostgreSQL) after every log entry."""
    where = chain.ARCHIVE_CHAIN
    target = path or archive.head_file
    if not target.exists():
        return [Problem(where, None, "head", f"the archive head file {target.name} is missing, so a cut-back archive log cannot be detected: "
                                              "keep it beside the archive (copy both), or name a copy with --head FILE")]
    try:
        head = json.loads(target.read_text(encoding="utf-8"))
        pos, digest, archive_id = int(head["pos"]), str(head["hash"]), str(head["archive_id"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [Problem(where, None, "head", f"the archive head file {target.name} is unreadable ({exc})")]
    if head.get("format") != HEAD_FORMAT:
        return [Problem(where, None, "head", f"the archive head file {target.name} is unreadable (unknown format {head.get('format')!r})")]
    problems = []
    if archive_id != archive.archive_id:
        problems.append(Problem(where, None, "head", f"the head file {target.name} belongs to another archive"))
    if key and signed and not hmac.compare_digest(chain.head_mac(key, archive_id, pos, digest), str(head.get("mac") or "")):
        problems.append(Problem(where, pos, "head", "the head file's signature (HMAC) is wrong: it was rewritten without the key"))
    by_pos = {r["pos"]: r for _, r in log_rows}
    count = (max(by_pos) + 1) if by_pos else 0
    if pos >= count:
        problems.append(Problem(where, pos, "truncated", f"the archive log ends at #{count - 1} but the head file says #{pos} was written: "
                                                         f"{pos - count + 1} log entr{'y is' if pos - count == 0 else 'ies are'} gone, with every record "
                                                         "written since (a lost write-ahead log, an older copy put back, or truncation)"))
    elif pos not in by_pos or by_pos[pos]["hash"] != digest:
        problems.append(Problem(where, pos, "truncated", "the archive log entry the head file names differs: the log was rolled back and rewritten"))
    return problems


def _check_created(archive: Archive, log_rows: list[tuple[str, Any]], settings: Mapping[str, str]) -> list[Problem]:
    """The log's first entry records how the archive was created: its id and whether it signs."""
    first = log_rows[0][1] if log_rows else None
    if first is None or first["pos"] != 0 or first["event"] != "created":
        return [Problem(chain.ARCHIVE_CHAIN, 0, "deleted", "the archive log's first entry (the archive's creation) is missing")]
    try:
        created = json.loads(first["reason"])
    except (TypeError, ValueError):
        created = {}
    problems = []
    if created.get("archive_id") != settings.get("archive_id"):
        problems.append(Problem(chain.ARCHIVE_CHAIN, 0, "modified", "the archive id in the settings differs from the one recorded at creation"))
    if bool(created.get("signed")) != (settings.get("signed") == "1"):
        problems.append(Problem(chain.ARCHIVE_CHAIN, 0, "modified", "the archive's signing setting differs from the one recorded at creation (a downgrade?)"))
    return problems


def _check_cases(archive: Archive, log_rows: list[tuple[str, Any]]) -> list[Problem]:
    logged: dict[str, str] = {}
    for _, row in log_rows:
        if row["event"] == "case":
            logged[row["target_call"]] = row["reason"]
    problems = []
    present = [r[0] for r in archive.conn.execute("SELECT id FROM cases")]
    for case_id in present:
        if case_id not in logged:
            problems.append(Problem(f"case {case_id}", None, "case", "this case is not in the archive log: added behind the archive's back"))
        elif logged[case_id] != case_record(archive.conn, case_id):
            problems.append(Problem(f"case {case_id}", None, "case", "the case row differs from the last version the archive log vouches for"))
    for case_id in sorted(set(logged) - set(present)):
        problems.append(Problem(f"case {case_id}", None, "case", "the case row is gone, although the archive log recorded it"))
    return problems


def _check_index(archive: Archive, call_id: str | None) -> list[Problem]:
    """Rebuild each utterance's search terms and compare them with the index."""
    sql = "SELECT id, call_id, seq, text FROM utterances" + (" WHERE call_id = ?" if call_id else "")
    utterances = archive.conn.execute(sql, (call_id,) if call_id else ()).fetchall()
    index = {r[0]: (r[1], r[2]) for r in archive.conn.execute("SELECT rowid, uni, bi FROM utterance_search")}
    problems = []
    for u in utterances:
        got = index.get(u["id"])
        if got is None:
            problems.append(Problem(u["call_id"], None, "index", f"utterance {u['seq']} is missing from the search index (search would not find it)"))
        elif got != index_terms(u["text"] if isinstance(u["text"], str) else ""):
            problems.append(Problem(u["call_id"], None, "index", f"the search index entry of utterance {u['seq']} does not match what was said"))
    if call_id is None:
        extra = set(index) - {u["id"] for u in utterances}
        if extra:
            problems.append(Problem(chain.ARCHIVE_CHAIN, None, "index", f"{len(extra)} search index entr{'y belongs' if len(extra) == 1 else 'ies belong'} to no utterance"))
    return problems


def verify(archive: Archive, call_id: str | None = None, key: bytes | None = None, head: Path | None = None) -> Report:
    """Verify every call (or one) and the archive log; see the module docstring. Everything
    is read in one read transaction, so writers going on meanwhile cannot look like gaps."""
    with archive.reading():
        return _verify(archive, call_id, key, head)


def _verify(archive: Archive, call_id: str | None, key: bytes | None, head: Path | None) -> Report:
    settings = archive._check_format()
    key = key if key is not None else archive.key
    signed = settings.get("signed") == "1"
    report = Report()
    if key and not signed:
        report.problems.append(Problem(chain.ARCHIVE_CHAIN, None, "unsigned",
                                       "a key was given but the archive carries no signatures: stripped signatures and a rewritten chain "
                                       "(a downgrade) look exactly like this. Trust it only if you know it was created without a key"))
    check_key = key if signed else None
    if not check_key:
        report.blind_spots.append("without the archive key, a forger who rewrites every hash of a chain (and the head file) is not detected")
    log_rows = archive.records(chain.ARCHIVE_CHAIN)
    problems, log_head, log_count = check_chain(chain.ARCHIVE_CHAIN, log_rows, check_key, unsigned=not signed)
    report.problems += problems
    report.heads[chain.ARCHIVE_CHAIN] = log_head
    report.problems += _check_created(archive, log_rows, settings)
    if head is None and archive.backend.central and not archive.head_file.exists():  # heads are kept where writers run
        report.blind_spots.append(f"no machine-local archive head ({archive.head_file}): this machine never wrote to the archive, so a "
                                  "log cut back (an older backup restored) is only caught where a writer's head file is; name one with --head FILE")
    else:
        report.problems += _check_head(archive, log_rows, check_key, signed, head)
    vouched: dict[str, list[dict[str, Any]]] = {}  # call -> archive-log entries that name one of its records
    purged: set[str] = set()
    for _, row in log_rows:
        if row["call_id"] != chain.ARCHIVE_CHAIN or row["event"] not in CALL_EVENTS:
            continue
        if row["event"] == "purged":
            purged.add(row["target_call"])
        else:
            vouched.setdefault(row["target_call"], []).append(dict(row))
    strays = archive.conn.execute(f"SELECT id, call_id, pos FROM [{ARCHIVE_LOG}] WHERE call_id != ?", (chain.ARCHIVE_CHAIN,)).fetchall()
    for stray in strays:
        report.problems.append(Problem(stray["call_id"], stray["pos"], "inserted", "an archive-log entry sits outside the archive log"))
    statuses = {r["call_id"]: r["status"] for r in archive.conn.execute("SELECT call_id, status FROM call_status")}
    known = set(archive.chains()) | set(vouched) | set(statuses) | purged
    if call_id is not None and call_id not in known:
        raise ArchiveError(f"no call {call_id!r} in {archive.path} (see `callassist archive calls`)")
    if call_id is None:
        report.problems += _check_cases(archive, log_rows)
    else:
        report.blind_spots.append("with --call, cases and the search index of other calls are not checked")
    for cid in sorted(known) if call_id is None else [call_id]:
        rows = archive.records(cid)
        if cid in purged:
            if rows:
                report.problems.append(Problem(cid, None, "inserted", f"the call was purged but {len(rows)} record(s) of it are present"))
            continue
        if not rows:
            report.problems.append(Problem(cid, None, "deleted", "every record of this call is gone, and no purge was recorded"))
            continue
        report.calls += 1
        report.records += len(rows)
        problems, head_hash, _ = check_chain(cid, rows, check_key, unsigned=not signed)
        report.problems += problems
        report.heads[cid] = head_hash
        if rows[0][0] != "calls" or rows[0][1]["pos"] != 0:
            report.problems.append(Problem(cid, 0, "deleted", "the call's opening record is missing"))
        problems, derived = vouching(cid, rows, vouched.get(cid, []))
        report.problems += problems
        status = statuses.get(cid)
        if status != derived:
            report.problems.append(Problem(cid, None, "status", f"the status column says {status or 'nothing'} but the chain says {derived}"))
    report.problems += _check_index(archive, call_id)
    report.records += log_count
    report.blind_spots.append("records of a call still open (not yet sealed) that vanish together with their status row leave no trace")
    return report
