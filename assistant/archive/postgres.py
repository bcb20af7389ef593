"""The PostgreSQL archive backend: one database that every ingest server, audit worker and
reviewer of a call centre writes to and reads from (``--archive postgresql://…``).

The same chains, HMACs and verify as the SQLite file, with three things made explicit:

- **Order.** A write transaction holds an advisory lock per chain it writes (the call's,
  then the archive log's, always in that order), so each chain gets its records in one
  order however many processes write, while different calls are written in parallel
  (SQLite's ``BEGIN IMMEDIATE`` locks the whole file instead). Transactions are one record
  long, or one imported call.
- **Values read back exactly as written**, or verify could not hash them again: numeric
  data columns are ``NUMERIC`` written in positional notation with their decimals kept
  (``3`` stays an integer, ``3.0`` a float, and every float comes back bit for bit); text
  columns are compared byte by byte (``COLLATE "C"``), as SQLite does.
- **Search** uses the archive's own tokens (Chinese characters, character pairs, words)
  in ``tsvector`` columns built from them in the database, never a language parser; a
  phrase query keeps pairs adjacent, so 一两个字的中文词 are found as in SQLite.

The archive head, which catches a log cut back (an older backup restored), is a file on
the machine that wrote, under ``$XDG_DATA_HOME/callassist/heads/``.

A database holding tables of another program is refused: give the archive its own.
Passwords belong in ``~/.pgpass`` or ``$PGPASSWORD``; a password in the URL is never
printed.
"""
from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from assistant.archive.backend import Backend
from assistant.errors import ArchiveError, ArchiveFullError

_NAME = re.compile(r"\[([A-Za-z_][A-Za-z0-9_]*)\]")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

# tokens (space-separated, as search.index_terms writes them) → a tsvector with positions,
# without PostgreSQL's text parser (which would split or drop Chinese by locale)
_TSV_FUNCTION = """
CREATE FUNCTION callassist_tsv(tokens text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(string_agg('''' || replace(replace(t, '\\', '\\\\'), '''', '''''') || ''':' || least(n, 16383), ' ')::tsvector, ''::tsvector)
  FROM unnest(string_to_array(nullif(tokens, ''), ' ')) WITH ORDINALITY AS x(t, n)
$$
"""


def lock_key(chain_id: str) -> int:
    """The advisory lock of one chain: 64 bits of SHA-256 of ``callassist:`` and its id."""
    return int.from_bytes(hashlib.sha256(b"callassist:" + chain_id.encode("utf-8")).digest()[:8], "big", signed=True)


@lru_cache(maxsize=512)
def translate(sql: str, escape_percent: bool) -> str:
    """The archive's SQLite dialect as PostgreSQL reads it: quoted names, ``%s`` parameters."""
    out = []
    for k, part in enumerate(sql.split("'")):
        if k % 2:  # inside a string literal: kept as is
            out.append(part.replace("%", "%%") if escape_percent else part)
            continue
        if escape_percent:
            part = part.replace("%", "%%")
        part = _NAME.sub(r'"\1"', part)
        part = part.replace("?", "%s")
        part = _NAMED.sub(r"%(\1)s", part)
        out.append(part)
    return "'".join(out)



def _param(value: Any) -> Any:
    """A parameter as the archive stores it: floats as exact decimals, booleans as 0/1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return exact_decimal(value)
    return value


def exact_decimal(value: float) -> Decimal:
    """A float as a decimal that ``NUMERIC`` keeps digit for digit and that reads back as
    the same float: its shortest repr, in positional notation, with at least one decimal."""
    text = format(Decimal(repr(value)), "f")
    if "." not in text:
        text += ".0"
    return Decimal(text)


def _value(value: Any) -> Any:
    """A value read from PostgreSQL as SQLite would give it: a NUMERIC without decimals is
    an int, with decimals a float."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)  # NaN (a forger's) stays a float
    return value


class Row(tuple):  # type: ignore[type-arg]
    """A row read by position or by column name, like ``sqlite3.Row``."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> "Row":
        row = super().__new__(cls, [_value(v) for v in values])
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            key = self._index[key]  # an unknown column: KeyError
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    index = {d.name: k for k, d in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


class Connection:
    """A psycopg connection that runs the archive's SQL (translated) and returns rows that
    behave like ``sqlite3.Row``."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        if not params:
            return self.raw.execute(translate(sql, False))
        if isinstance(params, dict):
            values: Any = {k: _param(v) for k, v in params.items()}
        else:
            values = [_param(v) for v in params]
        return self.raw.execute(translate(sql, True), values)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(translate(sql, True), [[_param(v) for v in row] for row in rows])

    @property
    def in_transaction(self) -> bool:
        import psycopg

        return bool(self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)

    def close(self) -> None:
        self.raw.close()


def display_url(url: str) -> str:
    """The URL as messages may show it: never its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class PostgresBackend(Backend):
    """An archive in a PostgreSQL database (see the module docstring)."""

    name = "postgresql"
    central = True

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise ArchiveError("a PostgreSQL archive needs the psycopg driver: pip install 'callassist[postgresql]'") from exc
        self.url = url
        self.target = url
        self.location = display_url(url)
        self.errors = (psycopg.Error,)

    def connect(self, *, readonly: bool, timeout: float) -> Connection:
        import psycopg

        options = "-c default_transaction_read_only=on" if readonly else ""
        options += f" -c lock_timeout={int(timeout * 1000)}"
        try:
            raw = psycopg.connect(self.url, autocommit=True, row_factory=_row_factory, connect_timeout=max(int(timeout), 2),
                                  options=options.strip(), application_name="callassist")
        except psycopg.Error as exc:
            raise self.explain(exc) from exc
        except ValueError as exc:  # a URL psycopg cannot parse
            raise ArchiveError(f"{self.location} is not a PostgreSQL URL psycopg can use ({exc}): "
                               "write it as postgresql://USER@HOST:PORT/DATABASE") from exc
        raw.execute("SET TIME ZONE 'UTC'")
        return Connection(raw)

    def begin(self, conn: Any) -> None:
        conn.execute("BEGIN")

    def lock(self, conn: Any, chain_id: str) -> None:
        conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(chain_id),))

    def begin_read(self, conn: Any) -> None:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def table_names(self, conn: Any) -> set[str]:
        return {r[0] for r in conn.raw.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}

    def create_table(self, conn: Any, table: str, columns: dict[str, type], pk: str) -> None:
        types = {str: 'TEXT COLLATE "C"', int: "BIGINT", float: "DOUBLE PRECISION"}
        cols = ", ".join(f'"{name}" {types[kind]}{" PRIMARY KEY" if name == pk else ""}' for name, kind in columns.items())
        conn.raw.execute(f'CREATE TABLE "{table}" ({cols})')

    def create_chained(self, conn: Any, table: str, columns: Sequence[str], numeric: frozenset[str]) -> None:
        text = 'TEXT COLLATE "C"'
        data = ", ".join(f'"{c}" {"NUMERIC" if c in numeric else text}' for c in columns)
        conn.raw.execute(f'CREATE TABLE "{table}" (id BIGSERIAL PRIMARY KEY, call_id TEXT COLLATE "C" NOT NULL, pos INTEGER NOT NULL, '
                         f'prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL, salt TEXT NOT NULL, {data})')
        conn.raw.execute(f'CREATE UNIQUE INDEX "idx_{table}_call_id_pos" ON "{table}" (call_id, pos)')

    def create_search(self, conn: Any) -> None:
        conn.raw.execute(_TSV_FUNCTION)
        conn.raw.execute("CREATE TABLE utterance_search (rowid BIGINT PRIMARY KEY, uni TEXT NOT NULL, bi TEXT NOT NULL, "
                         "uni_v tsvector GENERATED ALWAYS AS (callassist_tsv(uni)) STORED, "
                         "bi_v tsvector GENERATED ALWAYS AS (callassist_tsv(bi)) STORED)")
        conn.raw.execute("CREATE INDEX utterance_search_uni ON utterance_search USING gin (uni_v)")
        conn.raw.execute("CREATE INDEX utterance_search_bi ON utterance_search USING gin (bi_v)")

    def _inserted_id(self, conn: Any, sql: str, values: tuple[Any, ...]) -> int:
        return int(conn.execute(sql + " RETURNING id", values).fetchone()[0])

    def match(self, parts: list[tuple[str, list[str]]]) -> tuple[str, list[Any]]:
        wheres, args = [], []
        for column, tokens in parts:
            wheres.append(f"s.{column}_v @@ ?::tsquery")
            args.append(" <-> ".join(_lexeme(t) for t in tokens))
        return " AND ".join(wheres), args

    def concat(self, expr: str, distinct: bool = False) -> str:
        return f"string_agg({'DISTINCT ' if distinct else ''}({expr})::text, ',')"

    def head_file(self, archive_id: str) -> Path:
        from assistant.files import user_data_dir

        return user_data_dir() / "heads" / f"{archive_id}.head"

    def explain(self, exc: BaseException) -> ArchiveError:
        import psycopg

        where = self.location
        state = getattr(exc, "sqlstate", None) or ""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not state:  # failed to connect: the server's reason is only in the text
            if "does not exist" in text and "database" in text:
                state = "3D000"
            elif "authentication failed" in text or ("role" in text and "does not exist" in text):
                state = "28000"
        if isinstance(exc, psycopg.OperationalError) and not state:
            return ArchiveError(f"cannot reach the PostgreSQL archive {where} ({text}): check that the server runs, the URL, "
                                "and the password (~/.pgpass or PGPASSWORD)")
        if state in ("53100", "53200", "53400"):
            return ArchiveFullError(f"{where}: the database is full ({text}); this record was NOT written, everything before it is safe: "
                                    "free disk space on the database server")
        if state == "25006":
            return ArchiveError(f"{where}: the database refuses writes ({text}): connect to the primary, not a read-only standby")
        if state == "55P03":
            return ArchiveError(f"{where} is busy ({text}): another process holds the archive's write lock too long; try again")
        if state.startswith("28"):
            return ArchiveError(f"{where}: PostgreSQL refused the log-in ({text}): check the user and password (~/.pgpass or PGPASSWORD)")
        if state == "3D000":
            return ArchiveError(f"{where}: no such database ({text}): create it first (createdb) and give it to callassist alone")
        if state == "42501":
            return ArchiveError(f"{where}: permission denied ({text}): the user needs to create tables and write in this database")
        return ArchiveError(f"{where}: {text}")


def _lexeme(token: str) -> str:
    """A token as a quoted tsquery lexeme (taken as is, never parsed)."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"

