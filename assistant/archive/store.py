"""The evidence archive: every record hash-chained per call, in one SQLite file (the
embedded default) or one PostgreSQL database (a call centre; see :mod:`backend`).

Writes are durable one by one (one transaction per record), so a crash loses at most the
record being written. Several processes may write different calls at once; the
backend's write lock orders the short transactions.
"""
from __future__ import annotations

import json
import os
import socket
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

from assistant import settings
from assistant._values import finite, parse_time, span_problem
from assistant.archive import chain
from assistant.archive.backend import Row, is_url, open_backend
from assistant.archive.schema import ARCHIVE_LOG, CASE_COLUMNS, CHAIN_FORMAT, CHAINED, NUMERIC, SPECS, migrate
from assistant.archive.search import index_terms
from assistant.errors import ArchiveError, InputValidationError
from assistant.events import Finding, Utterance
from assistant.files import make_private_dir, replace_private


def now_iso() -> str:
    """The current time, ISO 8601 with its UTC offset."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def key_from_env() -> bytes | None:
    """The archive's HMAC key from ``$CALLASSIST_ARCHIVE_KEY`` or the file in ``$CALLASSIST_ARCHIVE_KEY_FILE``."""
    key = settings.get("archive_key")
    if key:
        return key.encode("utf-8")
    path = settings.get("archive_key_file")
    if path:
        try:
            return Path(path).read_bytes().strip()
        except OSError as exc:
            raise ArchiveError(f"cannot read the archive key file {path}: {exc.strerror}") from exc
    return None


CALL_EVENTS = ("sealed", "interrupted", "reopened", "reviewed", "scored", "held", "unheld", "purged")  # log events about a call's chain
END_EVENTS = ("sealed", "interrupted", "reopened")  # the call events that end a call, or reopen it


REVIEW_DECISIONS = ("confirm", "dismiss", "dispute")


def status_after(last_end_event: str | None) -> str:
    """A call's status from the last of its END_EVENTS (None: it has none)."""
    return "open" if last_end_event in (None, "reopened") else str(last_end_event)


def case_record(conn: Any, case_id: str) -> str:
    """The stored row of a case (less its update time) as canonical JSON: what the log vouches
    for (``conn``: an archive's connection, whose rows are read by name)."""
    row = conn.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
    if row is None:
        return ""
    return chain.canonical({k: row[k] for k in row.keys() if k != "updated_at"})


def _stored(value: Any) -> Any:
    """A value as SQLite stores it (dicts/lists as canonical JSON, bools as 0/1)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list, tuple)):
        return chain.canonical(value)
    if isinstance(value, float) and value == 0:
        return 0.0  # no -0.0: PostgreSQL's NUMERIC has no negative zero, and it would not hash alike
    return value


def _column_value(table: str, column: str, value: Any) -> Any:
    """A value for a chained column, of the column's kind on every backend: numbers in
    numeric columns (anything else is refused), text in the others (a number becomes text)."""
    value = _stored(value)
    if value is None:
        return None
    if column in NUMERIC:
        if isinstance(value, (int, float)) and finite(value):
            return value
        raise InputValidationError(f"{table}.{column} must be a finite number, not {value!r}")
    return value if isinstance(value, str) else str(value)


_NOT_TYPED = object()


def _case_value(kind: type, value: Any) -> Any:
    """A case field as its column holds it on every backend (text, a float, a whole number),
    or ``_NOT_TYPED`` when it is not of the column's kind (then it is kept in ``meta``)."""
    if value is None:
        return None
    if kind is str:
        if isinstance(value, bool):
            return _NOT_TYPED
        return value if isinstance(value, str) else str(_stored(value))
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return _NOT_TYPED
    try:
        if kind is int and isinstance(value, str):
            return int(value.strip())
        number = float(value)
    except ValueError:
        return _NOT_TYPED
    if not finite(number):
        return _NOT_TYPED
    if kind is float:
        return number
    return int(number) if number.is_integer() else _NOT_TYPED


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


HEAD_FORMAT = "callassist-head/1"


def check_utterance(utt: Utterance) -> None:
    """Refuse an utterance that would poison the archive (non-finite or reversed times, bad words)."""
    where = f"utterance {utt.seq}"
    if not isinstance(utt.seq, int) or isinstance(utt.seq, bool):
        raise InputValidationError(f"{where}: `seq` must be a whole number")
    if utt.speaker not in ("agent", "customer"):
        raise InputValidationError(f"{where}: speaker {utt.speaker!r} is not agent or customer")
    problem = span_problem(utt.start, utt.end)
    if problem:
        raise InputValidationError(f"{where}: {problem}")
    if not isinstance(utt.text, str):
        raise InputValidationError(f"{where}: text must be a string")
    for k, w in enumerate(utt.words):
        problem = span_problem(w.start, w.end) or (None if isinstance(w.w, str) and finite(w.conf) else "a word needs text and a confidence")
        if problem:
            raise InputValidationError(f"{where}, word {k + 1}: {problem}")


class Archive:
    """Open (creating and migrating if needed) the archive at ``path``: an SQLite file, or a
    PostgreSQL database named by a ``postgresql://`` URL.

    ``key`` (default: ``$CALLASSIST_ARCHIVE_KEY``) signs every chain hash with HMAC;
    ``max_bytes`` caps an SQLite file's size (a full archive raises :class:`ArchiveFullError`).
    ``readonly=True`` never creates or changes anything: a missing path, or a database that
    is not an archive, is an error; an archive on read-only media can be read.
    A new archive file is private (0600 in a folder the caller made 0700; see
    :func:`assistant.files.private_modes`).
    """

    def __init__(self, path: str | Path, *, key: bytes | None = None, readonly: bool = False, max_bytes: int | None = None, timeout: float = 30.0) -> None:
        self.backend = open_backend(path)
        self.path: Path | str = self.backend.location if is_url(path) else Path(path)
        self.key = key if key is not None else key_from_env()
        self.readonly = readonly
        self._depth = 0
        self._log_touched = False
        self._locked: set[str] = set()  # chains whose write lock this transaction holds
        self._labels: dict[str, str] = {}
        try:
            self.conn: Any = self.backend.connect(readonly=readonly, timeout=timeout)
            tables = self.backend.table_names(self.conn)
            if tables and "_migrations" not in tables:
                self.conn.close()
                raise ArchiveError(f"{self.path} holds tables but is not a callassist archive: check the path (a PostgreSQL archive "
                                   "needs a database of its own); nothing was changed")
            if not readonly:
                self.backend.prepare_writes(self.conn, max_bytes)
                migrate(self.backend, self.conn, partial(self.transaction, "_schema"))
                self._settle()
            else:
                self._check_format()
        except self.backend.errors as exc:
            raise self.backend.explain(exc) from exc
        self.host = socket.gethostname()

    # ---- opening --------------------------------------------------------------------------
    def _settings(self) -> dict[str, str]:
        if "archive_settings" not in self.backend.table_names(self.conn):
            return {}
        return {r[0]: r[1] for r in self.conn.execute("SELECT name, value FROM archive_settings")}

    def _check_format(self) -> dict[str, str]:
        settings = self._settings()
        if "_migrations" not in self.backend.table_names(self.conn) or "signed" not in settings:
            raise ArchiveError(f"{self.path} is not a callassist archive (or was never opened for writing): check the path")
        if settings.get("chain_format") != CHAIN_FORMAT:
            raise ArchiveError(f"{self.path} was made by an earlier callassist (chain format {settings.get('chain_format', '1')}), "
                               f"which this version cannot verify: keep it with the version that made it, or re-import its transcripts")
        return settings

    @property
    def head_file(self) -> Path:
        """Where this machine keeps the archive head: beside an SQLite file, or (PostgreSQL)
        under ``$XDG_DATA_HOME/callassist/heads/``."""
        return self.backend.head_file(self.archive_id)

    @property
    def archive_id(self) -> str:
        """A random id given to the archive when it was created (it names the head file's archive)."""
        return self._settings().get("archive_id", "")

    @property
    def signed(self) -> bool:
        """Whether this archive signs its records (decided when it was created)."""
        return self._settings().get("signed") == "1"

    def _settle(self) -> None:
        """A new archive: decide signing, give it an id and a first, chained 'created' entry.
        An existing one: the key must agree with how it was created."""
        settings = self._settings()
        if "signed" not in settings:
            with self.transaction(chain.ARCHIVE_CHAIN):
                if "signed" in self._settings():  # another process created it meanwhile
                    return self._settle()
                signed = "1" if self.key else "0"
                archive_id = uuid.uuid4().hex
                for name, value in (("signed", signed), ("chain_format", CHAIN_FORMAT), ("archive_id", archive_id)):
                    self.conn.execute("INSERT INTO archive_settings (name, value) VALUES (?, ?)", (name, value))
                self._log("created", "", chain.canonical({"archive_id": archive_id, "signed": signed == "1", "chain_format": CHAIN_FORMAT}))
            return
        self._check_format()
        if settings["signed"] == "1" and not self.key:
            raise ArchiveError(f"{self.path} signs its records: set CALLASSIST_ARCHIVE_KEY (or CALLASSIST_ARCHIVE_KEY_FILE) to write to it")
        if settings["signed"] != "1" and self.key:
            raise ArchiveError(
                f"{self.path} holds unsigned records although a key is set. If it was created with this key, its signatures were "
                "stripped (tampering): do not write to it, run `callassist archive verify` and keep it for investigation. "
                "If it was created without a key, unset CALLASSIST_ARCHIVE_KEY to write to it, or start a new archive")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *chains: str) -> Iterator[None]:
        """One write transaction, holding the write lock of each chain named (a call id;
        :meth:`_append` locks the chain it appends to in any case). Concurrent writers of one
        chain queue instead of failing; SQLite has one lock for the whole file, PostgreSQL one
        per chain, so different calls are written in parallel. Locks are taken in one order,
        a call's before the archive log's, so writers never deadlock.

        Transactions nest: an inner one joins the outer, and everything commits or rolls
        back together (a whole imported call is one transaction). After a commit that
        added to the archive log, the archive head is written beside the file.
        """
        if self.readonly:
            raise ArchiveError(f"{self.path} was opened read-only")
        if self._depth:
            self._depth += 1
            try:
                for chain_id in chains:
                    self._lock(chain_id)
                yield
            finally:
                self._depth -= 1
            return
        try:
            self.backend.begin(self.conn)
            for chain_id in chains:
                self._lock(chain_id)
        except self.backend.errors as exc:
            self._rollback()
            raise self.backend.explain(exc) from exc
        self._depth = 1
        try:
            yield
        except self.backend.errors as exc:
            self._rollback()
            raise self.backend.explain(exc) from exc
        except BaseException:
            self._rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except self.backend.errors as exc:
                self._rollback()
                raise self.backend.explain(exc) from exc
        finally:
            self._depth = 0
            self._locked.clear()
        if self._log_touched:
            self._write_head()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A read transaction: every query inside sees the archive as it was at its start,
        although other processes go on writing (verify reads a live archive this way).
        Inside a write transaction it simply joins it."""
        if self._depth or self.conn.in_transaction:
            yield
            return
        self.backend.begin_read(self.conn)
        try:
            yield
        finally:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def _lock(self, chain_id: str) -> None:
        """Hold a chain's write lock until the transaction ends (asked of the database once)."""
        if chain_id not in self._locked:
            self.backend.lock(self.conn, chain_id)
            self._locked.add(chain_id)

    def _rollback(self) -> None:
        self._log_touched = False
        self._locked.clear()
        self._labels.clear()
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _write_head(self) -> None:
        """Write the archive log's head (position, hash, HMAC with a key) beside the file.

        Taken under the archive's write lock, so concurrent writers never move it back.
        ``verify`` compares it with the log: a log cut back (a lost or truncated
        write-ahead log, a restored older copy) shows as missing entries.
        """
        self._log_touched = False
        with self.transaction(chain.ARCHIVE_CHAIN):
            pos, digest = self._head(chain.ARCHIVE_CHAIN)
            archive_id = self.archive_id
            record = {"format": HEAD_FORMAT, "archive_id": archive_id, "pos": pos, "hash": digest,
                      "mac": chain.head_mac(self.key, archive_id, pos, digest)}
            target = self.backend.head_file(archive_id)
            try:
                make_private_dir(target.parent)
                replace_private(target, (json.dumps(record, indent=1) + "\n").encode("utf-8"), durable=True)
            except OSError as exc:
                raise ArchiveError(f"cannot write the archive head {target} ({exc.strerror or exc}): the folder must be writable") from exc

    # ---- appending ------------------------------------------------------------------------
    @staticmethod
    def _tables(chain_id: str) -> tuple[str, ...]:
        """The tables that hold a chain's records."""
        return (ARCHIVE_LOG,) if chain_id == chain.ARCHIVE_CHAIN else tuple(CHAINED)

    def _head(self, chain_id: str) -> tuple[int, str]:
        """Position and hash of the last record of a chain (read inside the transaction)."""
        union = " UNION ALL ".join(f"SELECT pos, hash FROM [{t}] WHERE call_id = :c" for t in self._tables(chain_id))
        row = self.conn.execute(f"SELECT pos, hash FROM ({union}) AS h ORDER BY pos DESC LIMIT 1", {"c": chain_id}).fetchone()
        return (row["pos"], row["hash"]) if row else (-1, chain.GENESIS)

    def label(self, call_id: str) -> str:
        """The chain label a call's records carry (see :func:`chain.chain_label`)."""
        if call_id == chain.ARCHIVE_CHAIN:
            return chain.ARCHIVE_CHAIN
        if call_id not in self._labels:
            row = self.conn.execute("SELECT salt FROM calls WHERE call_id = ? AND pos = 0", (call_id,)).fetchone()
            if row is None:
                raise ArchiveError(f"call {call_id!r} has no opening record in {self.path}")
            self._labels[call_id] = chain.chain_label(row[0], call_id)
        return self._labels[call_id]

    def _append(self, table: str, call_id: str, values: dict[str, Any]) -> tuple[int, int]:
        """Chain one record; returns (pos, row id). Call inside :meth:`transaction`."""
        kind, public_cols, private_cols = SPECS[table]
        self._lock(call_id)
        public = {c: _column_value(table, c, values.get(c)) for c in public_cols}
        private = {c: _column_value(table, c, values.get(c)) for c in private_cols}
        pos, prev = self._head(call_id)
        pos += 1
        salt = chain.new_salt()
        label = chain.chain_label(salt, call_id) if table == "calls" and pos == 0 else self.label(call_id)
        body = chain.record_body(label, pos, kind, public, chain.commitment(salt, private))
        digest = chain.link(prev, body)
        row = {"call_id": call_id, "pos": pos, "prev_hash": prev, "hash": digest, "mac": chain.sign(self.key, digest), "salt": salt, **public, **private}
        rowid = self.backend.insert(self.conn, table, row)
        if table == ARCHIVE_LOG:
            self._log_touched = True
        return pos, rowid

    def _status(self, call_id: str) -> Row | None:
        row: Row | None = self.conn.execute("SELECT * FROM call_status WHERE call_id = ?", (call_id,)).fetchone()
        return row

    def status(self, call_id: str) -> str | None:
        """open, sealed, interrupted or purged (None if unknown), read from the chain itself:
        the status column is only a cache, and never trusted."""
        opening = self.conn.execute("SELECT 1 FROM calls WHERE call_id = ? AND pos = 0", (call_id,)).fetchone()
        if opening is None:
            purged = self.conn.execute(f"SELECT 1 FROM [{ARCHIVE_LOG}] WHERE target_call = ? AND event = 'purged' LIMIT 1", (call_id,)).fetchone()
            return "purged" if purged else None
        row = self.conn.execute(
            f"SELECT event FROM call_events WHERE call_id = ? AND event IN ({', '.join('?' for _ in END_EVENTS)}) ORDER BY pos DESC LIMIT 1",
            (call_id, *END_EVENTS),
        ).fetchone()
        return status_after(row["event"] if row else None)

    def _need_open(self, call_id: str) -> None:
        status = self.status(call_id)
        if status is None:
            raise ArchiveError(f"no call {call_id!r} in {self.path}")
        if status != "open":
            raise ArchiveError(f"call {call_id} is {status}: nothing more can be recorded in it (reviews still can)")

    def put_case(self, case: dict[str, Any]) -> str:
        """Create or update a case (debtor, institution, amount due …); returns its id.

        Each version of a case is also written to the archive log, so ``verify`` notices a
        case row edited behind the archive's back."""
        if not isinstance(case, dict) or not case.get("id") or not isinstance(case["id"], (str, int)):
            raise InputValidationError("a case needs an `id` (text)")
        try:
            chain.canonical(case)
        except (TypeError, ValueError) as exc:
            raise InputValidationError(f"case {case['id']}: values must be text, numbers, lists or mappings ({exc})") from exc
        from assistant.archive.cases import recorded_case

        case = recorded_case(self, case)  # what calls noted on it (windows, opt-outs, attorney) is kept
        row: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        for name, value in case.items():
            if name in ("id", "meta", "updated_at"):
                continue
            kind = CASE_COLUMNS.get(name)
            typed = _case_value(kind, value) if kind is not None else _NOT_TYPED
            if typed is _NOT_TYPED:
                meta[name] = value
            else:
                row[name] = typed
        row["id"] = str(case["id"])
        row["meta"] = chain.canonical(meta)
        row["updated_at"] = now_iso()
        with self.transaction(chain.ARCHIVE_CHAIN):
            self.backend.upsert(self.conn, "cases", row, pk="id")
            self._log("case", row["id"], case_record(self.conn, row["id"]))
        return str(row["id"])

    def start_call(self, call_id: str | None = None, *, case: dict[str, Any] | None = None, agent_id: str = "", agent_name: str = "",
                   direction: str = "outbound", started_at: str | None = None, lang: str = "", channel_map: dict[str, Any] | None = None,
                   asr_model: str = "", ruleset_version: str = "", ruleset_hash: str = "", source: str = "") -> str:
        """Open a call: its first chained record. Returns the call id."""
        call_id = call_id or uuid.uuid4().hex[:12]
        if not isinstance(call_id, str) or not call_id.strip() or call_id == chain.ARCHIVE_CHAIN:
            raise InputValidationError(f"{call_id!r} cannot be a call id")
        if started_at is not None and parse_time(started_at) is None:
            raise InputValidationError(f"call {call_id}: started_at {started_at!r} is not an ISO 8601 date and time (e.g. 2026-11-20T14:05:00+08:00)")
        with self.transaction(call_id):
            if self._status(call_id) is not None or self.status(call_id) is not None:
                raise ArchiveError(f"call {call_id!r} is already in the archive; choose another id")
            if case:
                self.put_case(case)
            writer = {"pid": os.getpid(), "host": self.host}
            self._append("calls", call_id, {
                "case_id": str((case or {}).get("id", "")), "agent_id": agent_id, "direction": direction,
                "started_at": started_at or now_iso(), "lang": lang, "channel_map": channel_map or {}, "asr_model": asr_model,
                "ruleset_version": ruleset_version, "ruleset_hash": ruleset_hash, "source": source, "writer": writer,
                "agent_name": agent_name, "case_snapshot": case or {},
            })
            self.conn.execute("INSERT INTO call_status (call_id, status, writer_pid, writer_host) VALUES (?, 'open', ?, ?)", (call_id, os.getpid(), self.host))
        return call_id

    def add_utterance(self, call_id: str, utt: Utterance) -> int:
        """Record a final utterance (and index it for search); returns its chain position."""
        check_utterance(utt)
        with self.transaction(call_id):
            self._need_open(call_id)
            words = [{"w": w.w, "start": w.start, "end": w.end, "conf": w.conf} for w in utt.words]
            pos, rowid = self._append("utterances", call_id, {"seq": utt.seq, "speaker": utt.speaker, "start": utt.start, "end": utt.end,
                                                               "conf": round(utt.conf, 4), "text": utt.text, "words": words})
            uni, bi = index_terms(utt.text)
            self.conn.execute("INSERT INTO utterance_search (rowid, uni, bi) VALUES (?, ?, ?)", (rowid, uni, bi))
        return pos

    def add_finding(self, call_id: str, utterance_seq: int, finding: Finding, rule_version: int = 1) -> int:
        """Record a finding of an utterance; returns its chain position."""
        if not finite(finding.score) or not isinstance(finding.start, int) or not isinstance(finding.end, int):
            raise InputValidationError(f"finding {finding.rule_id}: span and score must be numbers")
        with self.transaction(call_id):
            self._need_open(call_id)
            pos, _ = self._append("findings", call_id, {
                "utterance_seq": utterance_seq, "rule_id": finding.rule_id, "rule_version": rule_version, "category": finding.category,
                "kind": finding.kind, "severity": finding.severity, "span_start": finding.start, "span_end": finding.end,
                "provisional": finding.provisional, "source": finding.source, "score": round(finding.score, 4), "matched": finding.matched,
            })
        return pos

    def add_suggestion(self, call_id: str, utterance_seq: int, script_id: str, text: str, event: str = "shown") -> int:
        """Record a script line shown to the agent (``event='shown'``) or used (``'used'``)."""
        if event not in ("shown", "used"):
            raise ArchiveError("a suggestion event is 'shown' or 'used'")
        with self.transaction(call_id):
            self._need_open(call_id)
            pos, _ = self._append("suggestions", call_id, {"utterance_seq": utterance_seq, "script_id": script_id, "event": event, "at": now_iso(), "text": text})
        return pos

    def add_audio(self, call_id: str, path: str | Path, *, sha256: str, duration: float, sample_rate: int, channels: int) -> int:
        """Record the call's audio file with its SHA-256."""
        p = Path(path)
        if not finite(duration) or duration < 0:
            raise InputValidationError(f"{p}: audio duration {duration!r} is not a finite number of seconds")
        with self.transaction(call_id):
            self._need_open(call_id)
            pos, _ = self._append("audio_files", call_id, {"name": p.name, "sha256": sha256, "duration": round(duration, 3), "sample_rate": sample_rate,
                                                           "channels": channels, "bytes": p.stat().st_size, "path": str(p.resolve())})
        return pos

    def add_review(self, call_id: str, finding_pos: int, decision: str, reviewer: str, note: str = "", agent_dispute: bool = False) -> int:
        """A QA reviewer confirms or dismisses a finding, or its agent disputes it
        (``decision='dispute'``); allowed after the call is sealed. Returns the review's position."""
        if decision not in REVIEW_DECISIONS:
            raise ArchiveError("a review decision is 'confirm', 'dismiss' or 'dispute'")
        if decision == "dispute":
            agent_dispute = True
        def finding_exists() -> None:
            if not self.conn.execute("SELECT 1 FROM findings WHERE call_id = ? AND pos = ?", (call_id, finding_pos)).fetchone():
                raise ArchiveError(f"call {call_id} has no finding at position {finding_pos}")

        return self._add_late("reviews", call_id, {"finding_pos": finding_pos, "decision": decision, "reviewer": reviewer,
                                                   "agent_dispute": agent_dispute, "at": now_iso(), "note": note}, "reviewed", "review",
                              check=finding_exists)

    def add_score(self, call_id: str, values: dict[str, Any]) -> int:
        """Record a call's score (see :mod:`assistant.archive.scorecard`); allowed after the
        call ended, like a review. Returns the score's position in the call's chain."""
        return self._add_late("scores", call_id, {**values, "at": now_iso()}, "scored", "score")

    def _add_late(self, table: str, call_id: str, values: dict[str, Any], event: str, what: str, check: Callable[[], None] | None = None) -> int:
        """Chain a record that may come after the call ended (a review, a score): then the
        archive log vouches for it with ``event``, as it does for the end itself. ``check``
        raises inside the same transaction when the record cannot be taken."""
        with self.transaction(call_id):
            status = self.status(call_id)
            if status is None or status == "purged":
                raise ArchiveError(f"no call {call_id!r} to {what}")
            if check is not None:
                check()
            pos, _ = self._append(table, call_id, values)
            if status != "open":
                self._log(event, call_id)
        return pos

    def log_event(self, event: str, target: str, reason: str = "") -> None:
        """An archive-wide action (a user added, an export made) as a chained archive-log entry."""
        if event in CALL_EVENTS or event == "created":
            raise ArchiveError(f"{event!r} is recorded by its own method")
        with self.transaction():
            self._log(event, target, reason)

    def _log(self, event: str, target: str, reason: str = "") -> None:
        if event in CALL_EVENTS:
            pos, head = self._head(target)
        else:
            pos, head = -1, ""
        self._append(ARCHIVE_LOG, chain.ARCHIVE_CHAIN, {"event": event, "target_call": target, "at": now_iso(), "head": head, "records": pos + 1, "reason": reason})

    def _end(self, call_id: str, event: str, detail: str = "") -> None:
        self._append("call_events", call_id, {"event": event, "at": now_iso(), "detail": detail})
        self._log(event, call_id)
        self.conn.execute("UPDATE call_status SET status = ?, ended_at = ? WHERE call_id = ?", (event, now_iso(), call_id))

    def add_event(self, call_id: str, event: str, detail: str = "") -> int:
        """Record something that happened during an open call (``low_confidence`` …); the
        events that end a call have their own methods."""
        if event in END_EVENTS or event in CALL_EVENTS:
            raise ArchiveError(f"{event!r} is recorded by its own method (seal, mark_interrupted, hold …)")
        with self.transaction(call_id):
            self._need_open(call_id)
            pos, _ = self._append("call_events", call_id, {"event": event, "at": now_iso(), "detail": detail})
        return pos

    def seal(self, call_id: str) -> str:
        """End a call: no more utterances or findings. Returns the call's head hash."""
        with self.transaction(call_id):
            self._need_open(call_id)
            self._end(call_id, "sealed")
            return self._head(call_id)[1]

    def mark_interrupted(self, call_id: str, detail: str = "") -> None:
        """End a call whose writer died; what it committed stays provable."""
        with self.transaction(call_id):
            self._need_open(call_id)
            self._end(call_id, "interrupted", detail)

    def reopen(self, call_id: str, detail: str) -> int:
        """Continue an interrupted call (a resumed import): a chained 'reopened' event that the
        archive log vouches for, after which records can be added again. Returns the number
        of utterances already recorded."""
        with self.transaction(call_id):
            status = self.status(call_id)
            if status != "interrupted":
                raise ArchiveError(f"call {call_id} is {status or 'not in the archive'}: only an interrupted call can be resumed")
            self._append("call_events", call_id, {"event": "reopened", "at": now_iso(), "detail": detail})
            self._log("reopened", call_id, detail)
            self.conn.execute("UPDATE call_status SET status = 'open', ended_at = NULL, writer_pid = ?, writer_host = ? WHERE call_id = ?",
                              (os.getpid(), self.host, call_id))
            return int(self.conn.execute("SELECT count(*) FROM utterances WHERE call_id = ?", (call_id,)).fetchone()[0])

    def recover(self) -> list[str]:
        """Mark as interrupted every open call whose writing process on this host is gone."""
        rows = self.conn.execute("SELECT call_id, writer_pid, writer_host FROM call_status").fetchall()
        done = []
        for row in rows:
            if row["writer_host"] != self.host or row["writer_pid"] == os.getpid() or _pid_alive(int(row["writer_pid"] or 0)):
                continue
            if self.status(row["call_id"]) != "open":
                continue
            self.mark_interrupted(row["call_id"], f"writer process {row['writer_pid']} ended without sealing the call")
            done.append(row["call_id"])
        return done

    # ---- retention --------------------------------------------------------------------------
    def is_held(self, call_id: str) -> bool:
        """Whether a legal hold is in force on the call."""
        row = self.conn.execute(
            f"SELECT event FROM [{ARCHIVE_LOG}] WHERE target_call = ? AND event IN ('held', 'unheld') ORDER BY pos DESC LIMIT 1", (call_id,)
        ).fetchone()
        return bool(row and row["event"] == "held")

    def hold(self, call_id: str, reason: str, held: bool = True) -> None:
        """Put (or with ``held=False`` lift) a legal hold: held calls are never purged."""
        if not reason.strip():
            raise ArchiveError("a legal hold needs a reason (--reason)")
        with self.transaction(call_id):
            status = self.status(call_id)
            if status is None or status == "purged":
                raise ArchiveError(f"no call {call_id!r} in the archive")
            if self.is_held(call_id) == held:
                raise ArchiveError(f"call {call_id} is {'already' if held else 'not'} under legal hold")
            event = "held" if held else "unheld"
            self._append("call_events", call_id, {"event": event, "at": now_iso(), "detail": reason})
            self._log(event, call_id, reason)

    def purge(self, older_than_days: float, *, now: datetime | None = None, dry_run: bool = False) -> dict[str, list[str]]:
        """Delete ended calls that started more than ``older_than_days`` ago, except held ones.

        Each purge leaves a chained tombstone (head hash and record count) in the archive
        log, so ``verify`` knows the call was removed on purpose.
        """
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=older_than_days)
        report: dict[str, list[str]] = {"purged": [], "held": [], "open": [], "undated": []}
        rows = self.conn.execute("SELECT call_id, started_at FROM calls WHERE pos = 0").fetchall()
        for row in rows:
            started = parse_time(row["started_at"])
            if started is None:  # written by an older version or by hand: never guessed, never purged
                report["undated"].append(row["call_id"])
                continue
            status = self.status(row["call_id"])
            if started >= cutoff or status == "purged":
                continue
            if status == "open":
                report["open"].append(row["call_id"])
            elif self.is_held(row["call_id"]):
                report["held"].append(row["call_id"])
            else:
                report["purged"].append(row["call_id"])
                if not dry_run:
                    self._purge_one(row["call_id"], f"retention: started before {cutoff.isoformat(timespec='seconds')} ({older_than_days:g} days)")
        return report

    def _purge_one(self, call_id: str, reason: str) -> None:
        with self.transaction(call_id):
            self._log("purged", call_id, reason)
            ids = [r[0] for r in self.conn.execute("SELECT id FROM utterances WHERE call_id = ?", (call_id,))]
            self.conn.executemany("DELETE FROM utterance_search WHERE rowid = ?", [(i,) for i in ids])
            for table in CHAINED:
                self.conn.execute(f"DELETE FROM [{table}] WHERE call_id = ?", (call_id,))
            self.conn.execute("UPDATE call_status SET status = 'purged' WHERE call_id = ?", (call_id,))

    # ---- reading ------------------------------------------------------------------------------
    def calls(self) -> list[dict[str, Any]]:
        """Every call with its status (read from the chain)."""
        rows = self.conn.execute(
            "SELECT s.call_id, c.agent_id, c.started_at, c.lang, c.case_id FROM call_status s LEFT JOIN calls c ON c.call_id = s.call_id AND c.pos = 0 ORDER BY c.started_at"
        ).fetchall()
        return [{**dict(r), "status": self.status(r["call_id"]) or "missing"} for r in rows]

    def records(self, call_id: str) -> list[tuple[str, Row]]:
        """Every chained record of a call as ``(table, row)``, in chain order."""
        out = []
        for table in self._tables(call_id):
            out += [(table, r) for r in self.conn.execute(f"SELECT * FROM [{table}] WHERE call_id = ?", (call_id,))]
        return sorted(out, key=lambda item: (item[1]["pos"], item[0]))

    def chains(self) -> list[str]:
        """Every call id that has chained records (the archive log is not a call)."""
        ids: set[str] = set()
        for table in CHAINED:
            ids |= {r[0] for r in self.conn.execute(f"SELECT DISTINCT call_id FROM [{table}]")}
        return sorted(ids)


def json_or(value: Any) -> Any:
    """Decode a JSON column value, or return it unchanged."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
