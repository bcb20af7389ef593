"""Where an archive lives: one SQLite file (the embedded default) or a PostgreSQL database
(a call centre, written by many processes on many machines).

The archive code speaks one small SQL dialect, SQLite's: ``[bracketed]`` names, ``?`` or
``:name`` parameters, and only functions both databases have. A backend opens the
connection (PostgreSQL's translates that dialect), takes the write lock that orders
every chain, creates tables, keeps the search index, and turns driver errors into one
clear :class:`ArchiveError`. Everything else (the chain, HMACs, verify, export, holds and
purges) is the same code on both.

An archive is named by a path (SQLite) or a ``postgresql://`` URL; :func:`open_backend`
picks the backend.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

from assistant.errors import ArchiveError, ArchiveFullError

SQLITE_MAGIC = b"SQLite format 3\x00"
URL_SCHEMES = ("postgresql://", "postgres://")

Row = Any  # a row of either backend: sqlite3.Row or postgres.Row, both read by name and by position


def is_url(target: str | Path) -> bool:
    """Whether ``target`` names a PostgreSQL archive (``postgresql://…``) rather than a file."""
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def as_target(value: str | Path) -> str | Path:
    """An ``--archive`` value as the backends take it: a URL stays text, anything else is a path."""
    return value if is_url(value) else Path(value).expanduser()


def exists(target: str | Path) -> bool:
    """Whether an archive was ever made at ``target`` (a file that exists, a database that
    holds the archive's tables); nothing is created to find out."""
    if not is_url(target):
        return Path(target).exists()
    backend = open_backend(target)
    conn = backend.connect(readonly=True, timeout=30.0)
    try:
        return "_migrations" in backend.table_names(conn)
    except backend.errors as exc:
        raise backend.explain(exc) from exc
    finally:
        conn.close()


def make_room(target: str | Path) -> None:
    """Before an archive is opened for writing: a file's folder, made private if it is new."""
    if not is_url(target):
        from assistant.files import make_private_dir

        make_private_dir(Path(target).parent)


def head_path(path: Path) -> Path:
    """Where the archive head of the SQLite archive at ``path`` is kept (``archive.db.head``)."""
    return path.with_name(path.name + ".head")


def describe(target: str | Path) -> str:
    """How messages name an archive: its path, or its URL without the password."""
    if is_url(target):
        from assistant.archive.postgres import display_url

        return display_url(str(target))
    return str(target)


class Backend:
    """What differs between the databases an archive can live in."""

    name = ""
    location = ""  # how messages name the archive (a path, or a URL without its password)
    errors: tuple[type[BaseException], ...] = ()
    central = False  # whether processes on other machines can write to it (then audit workers write their calls)
    target: str | Path = ""  # what opens it again (a path, or the URL with its password)

    def connect(self, *, readonly: bool, timeout: float) -> Any:
        """A connection (autocommit; the archive opens its own transactions)."""
        raise NotImplementedError

    def prepare_writes(self, conn: Any, max_bytes: int | None) -> None:
        """Set the connection up for writing, once the database is known to be an archive (or
        empty); ``max_bytes`` caps the database's size where the backend can."""

    def begin(self, conn: Any) -> None:
        """Open a write transaction."""
        raise NotImplementedError

    def lock(self, conn: Any, chain_id: str) -> None:
        """Inside a write transaction: hold the write lock of one chain until it ends
        (writers of the same chain queue on it)."""
        raise NotImplementedError

    def begin_read(self, conn: Any) -> None:
        """Open a read transaction: every query in it sees one consistent state."""
        raise NotImplementedError

    def table_names(self, conn: Any) -> set[str]:
        raise NotImplementedError

    def create_table(self, conn: Any, table: str, columns: dict[str, type], pk: str) -> None:
        """A plain table; ``columns`` maps names to ``str``, ``int`` or ``float``."""
        raise NotImplementedError

    def create_chained(self, conn: Any, table: str, columns: Sequence[str], numeric: frozenset[str]) -> None:
        """A chained table: structural columns, then the data columns. Every value must read
        back exactly as written (an integer stays an integer), because verify hashes it again."""
        raise NotImplementedError

    def create_search(self, conn: Any) -> None:
        """The search index: ``utterance_search(rowid, uni, bi)`` (see :mod:`search`)."""
        raise NotImplementedError

    def insert(self, conn: Any, table: str, row: dict[str, Any]) -> int:
        """Insert a row into a table with an ``id`` column; returns the new id."""
        names = ", ".join(f"[{k}]" for k in row)
        return self._inserted_id(conn, f"INSERT INTO [{table}] ({names}) VALUES ({', '.join('?' for _ in row)})", tuple(row.values()))

    def _inserted_id(self, conn: Any, sql: str, values: tuple[Any, ...]) -> int:
        raise NotImplementedError

    def upsert(self, conn: Any, table: str, row: dict[str, Any], pk: str) -> None:
        """Insert a row, or replace the one with the same primary key."""
        names = ", ".join(f"[{k}]" for k in row)
        updates = ", ".join(f"[{k}] = excluded.[{k}]" for k in row if k != pk)
        conn.execute(f"INSERT INTO [{table}] ({names}) VALUES ({', '.join('?' for _ in row)}) ON CONFLICT ([{pk}]) DO UPDATE SET {updates}",
                     tuple(row.values()))

    def match(self, parts: list[tuple[str, list[str]]]) -> tuple[str, list[Any]]:
        """A WHERE condition on the search index (alias ``s``) that every part must match:
        ``(column, tokens)``, the tokens next to each other in that column."""
        raise NotImplementedError

    def concat(self, expr: str, distinct: bool = False) -> str:
        """An aggregate joining the values of ``expr`` with commas."""
        raise NotImplementedError

    def head_file(self, archive_id: str) -> Path:
        """Where the archive head (see ``store._write_head``) is kept on this machine."""
        raise NotImplementedError

    def explain(self, exc: BaseException) -> ArchiveError:
        """A driver error as one clear archive error that names the fix."""
        raise NotImplementedError


def open_backend(target: str | Path) -> Backend:
    """The backend for an archive path or ``postgresql://`` URL."""
    if is_url(target):
        from assistant.archive.postgres import PostgresBackend

        return PostgresBackend(str(target))
    return SQLiteBackend(Path(target))


# ---- SQLite ---------------------------------------------------------------------------------

class SQLiteBackend(Backend):
    """One SQLite file. Durable record by record (WAL, ``synchronous=FULL``); several processes
    may write at once: ``BEGIN IMMEDIATE`` queues them on the file's write lock."""

    name = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.target = path
        self.location = str(path)

    def _check_file(self, readonly: bool) -> bool:
        """Whether the file is to be created; a clear error for paths that cannot be an archive."""
        path = self.path
        if path.is_dir():
            raise ArchiveError(f"{path} is a directory: give a file name such as {path / 'archive.db'}")
        if path.exists() and path.stat().st_size > 0:
            with path.open("rb") as fh:
                if fh.read(16) != SQLITE_MAGIC:
                    raise ArchiveError(f"{path} is not an archive (not an SQLite file): check the path; nothing was changed")
            return False
        if readonly:
            raise ArchiveError(f"{path}: no such archive (check the path or --archive; nothing was created)")
        if path.exists():
            return False
        if not path.parent.exists():
            raise ArchiveError(f"cannot create {path}: the folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise ArchiveError(f"cannot create {path}: the folder is read-only; choose a writable place with --archive")
        return True

    def connect(self, *, readonly: bool, timeout: float) -> sqlite3.Connection:
        from assistant.files import touch_private

        new = self._check_file(readonly)
        if readonly:
            conn = self._connect_readonly(timeout)
        else:
            if new:
                try:
                    touch_private(self.path)
                except OSError as exc:
                    raise ArchiveError(f"cannot create {self.path} ({exc.strerror}): choose a writable place with --archive") from exc
            conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=timeout, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def prepare_writes(self, conn: Any, max_bytes: int | None) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        if max_bytes:
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={max(int(max_bytes // page), 16)}")

    def _connect_readonly(self, timeout: float) -> sqlite3.Connection:
        """A read-only connection; on read-only media (no -shm can be made) an immutable one,
        unless a write-ahead log still holds records the main file lacks."""
        uri = "file:" + quote(str(self.path.resolve())) + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout, check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise ArchiveError(f"{self.path} cannot be read here ({exc}): its write-ahead log {wal.name} holds records not yet in the "
                                   "main file, and this folder is read-only; copy both files to a writable folder") from exc
            return sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None, timeout=timeout, check_same_thread=False)

    def begin(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")  # the file's one write lock, for every chain at once

    def lock(self, conn: Any, chain_id: str) -> None:
        pass

    def begin_read(self, conn: Any) -> None:
        conn.execute("BEGIN")

    def table_names(self, conn: Any) -> set[str]:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def create_table(self, conn: Any, table: str, columns: dict[str, type], pk: str) -> None:
        import sqlite_utils

        sqlite_utils.Database(conn).table(table).create(columns, pk=pk)

    def create_chained(self, conn: Any, table: str, columns: Sequence[str], numeric: frozenset[str]) -> None:
        # data columns have no declared type, so SQLite keeps every value exactly as written
        data = ", ".join(f"[{c}]" for c in columns)
        conn.execute(f"CREATE TABLE [{table}] (id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, pos INTEGER NOT NULL, "
                     f"prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL, salt TEXT NOT NULL, {data})")
        conn.execute(f"CREATE UNIQUE INDEX [idx_{table}_call_id_pos] ON [{table}] ([call_id], [pos])")

    def create_search(self, conn: Any) -> None:
        conn.execute("CREATE VIRTUAL TABLE utterance_search USING fts5(uni, bi, tokenize='unicode61 remove_diacritics 2')")

    def _inserted_id(self, conn: Any, sql: str, values: tuple[Any, ...]) -> int:
        return int(conn.execute(sql, values).lastrowid or 0)

    def match(self, parts: list[tuple[str, list[str]]]) -> tuple[str, list[Any]]:
        def quoted(tokens: list[str]) -> str:
            phrase = " ".join(tokens)
            return '"' + phrase.replace('"', '""') + '"'

        return "utterance_search MATCH ?", [" AND ".join(f"{column} : {quoted(tokens)}" for column, tokens in parts)]

    def concat(self, expr: str, distinct: bool = False) -> str:
        return f"group_concat({'DISTINCT ' if distinct else ''}{expr})"

    def head_file(self, archive_id: str) -> Path:
        return head_path(self.path)

    def explain(self, exc: BaseException) -> ArchiveError:
        text = str(exc)
        path = self.path
        if "full" in text:
            return ArchiveFullError(f"{path}: the archive is full ({text}); this record was NOT written, everything before it is safe: free disk space or raise the size limit")
        if "readonly" in text or "read-only" in text:
            return ArchiveError(f"{path}: the archive is read-only ({text}); check the file's permissions or copy it somewhere writable")
        if "not a database" in text or "malformed" in text:
            return ArchiveError(f"{path}: the file is damaged or not an archive ({text}); restore it from a backup, and keep this copy for investigation")
        if "unable to open" in text:
            return ArchiveError(f"cannot open {path} ({text}): check the path and permissions")
        if "locked" in text or "busy" in text:
            return ArchiveError(f"{path} is busy ({text}): another process holds it too long; try again")
        return ArchiveError(f"{path}: {text}")
