"""Full-text search that finds one- and two-character Chinese words as well as English words.

SQLite's FTS5 tokenisers do not split Chinese (and trigrams never match 1–2 characters),
so the archive indexes its own tokens: every Chinese character (column ``uni``) and every
pair of neighbouring characters plus every Latin word (column ``bi``). A query of two or
more Chinese characters becomes the phrase of its character pairs, one character a
``uni`` term, English words ``bi`` terms. Text is normalised first (Traditional →
Simplified, full → half width, lower case), so 還錢 finds 还钱.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.archive.reviews import finding_id
from assistant.errors import SearchError
from assistant.text.normalize import CJK_CHARS, Normalizer

if TYPE_CHECKING:
    from assistant.archive.store import Archive

_CJK = re.compile(f"[{CJK_CHARS}]+")
_WORD = re.compile(r"[0-9a-z][0-9a-z']*")
_NORMALIZE = Normalizer()  # cheap to build: the OpenCC converter is shared and loaded on first use


def _norm(text: str) -> str:
    return _NORMALIZE(text).text


def _pieces(text: str) -> list[tuple[str, str]]:
    """('cjk', run) and ('word', w) pieces in order."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _CJK.finditer(text):
        out += [("word", w) for w in _WORD.findall(text[pos : m.start()])]
        out.append(("cjk", m.group()))
        pos = m.end()
    out += [("word", w) for w in _WORD.findall(text[pos:])]
    return out


def index_terms(text: str) -> tuple[str, str]:
    """The ``(uni, bi)`` columns to index for ``text``."""
    uni: list[str] = []
    bi: list[str] = []
    for kind, piece in _pieces(_norm(text)):
        if kind == "word":
            bi.append(piece)
            continue
        uni.extend(piece)
        bi.extend(piece[i : i + 2] for i in range(len(piece) - 1))
        if len(piece) == 1:
            bi.append(piece)
    return " ".join(uni), " ".join(bi)


def query_parts(query: str) -> list[tuple[str, list[str]]]:
    """What a user query must match, every part: ``(column, tokens)``, the tokens next to
    each other in that column of the index."""
    parts: list[tuple[str, list[str]]] = []
    pieces = [p for term in query.split() for p in _pieces(_norm(term))]  # spaces separate terms
    for kind, piece in pieces:
        if kind == "word":
            parts.append(("bi", [piece]))
        elif len(piece) == 1:
            parts.append(("uni", [piece]))
        else:
            parts.append(("bi", [piece[i : i + 2] for i in range(len(piece) - 1)]))
    return parts


@dataclass(frozen=True)
class Hit:
    """One utterance that matches a search."""

    call_id: str
    seq: int
    speaker: str
    start: float
    text: str
    agent_id: str
    started_at: str
    categories: tuple[str, ...]
    findings: tuple[str, ...] = ()  # ids (CALL#POS) of the findings on this utterance, as `archive review` takes them


def search(archive: "Archive", query: str, *, agent: str | None = None, since: str | None = None, until: str | None = None,
           category: str | None = None, severity: str | None = None, limit: int = 50) -> list[Hit]:
    """Utterances matching ``query`` (every word / Chinese string in it), newest calls last.

    ``since``/``until`` are dates (``YYYY-MM-DD``, inclusive) of the call's start;
    ``category``/``severity`` keep utterances that carry such a finding.
    """
    parts = query_parts(query)
    if not parts:
        raise SearchError("empty search: give a word or Chinese characters")
    backend = archive.backend
    match, args = backend.match(parts)
    wheres = [match]
    for value, clause in (
        (agent, "c.agent_id = ?"),
        (since, "substr(c.started_at, 1, 10) >= ?"),
        (until, "substr(c.started_at, 1, 10) <= ?"),
        (category, "EXISTS (SELECT 1 FROM findings f WHERE f.call_id = u.call_id AND f.utterance_seq = u.seq AND f.category = ?)"),
        (severity, "EXISTS (SELECT 1 FROM findings f WHERE f.call_id = u.call_id AND f.utterance_seq = u.seq AND f.severity = ?)"),
    ):
        if value:
            wheres.append(clause)
            args.append(value)
    sql = (
        "SELECT u.call_id, u.seq, u.speaker, u.start, u.text, c.agent_id, c.started_at, "
        f"(SELECT {backend.concat('f.category', distinct=True)} FROM findings f WHERE f.call_id = u.call_id AND f.utterance_seq = u.seq) AS categories, "
        f"(SELECT {backend.concat('f.pos')} FROM findings f WHERE f.call_id = u.call_id AND f.utterance_seq = u.seq) AS finding_pos "
        "FROM utterance_search s JOIN utterances u ON u.id = s.rowid JOIN calls c ON c.call_id = u.call_id AND c.pos = 0 "
        f"WHERE {' AND '.join(wheres)} ORDER BY c.started_at, u.call_id, u.seq LIMIT ?"
    )
    return [
        Hit(row["call_id"], row["seq"], row["speaker"], row["start"], row["text"], row["agent_id"], row["started_at"],
            tuple(sorted(row["categories"].split(","))) if row["categories"] else (),
            tuple(finding_id(row["call_id"], int(p)) for p in sorted(int(x) for x in row["finding_pos"].split(","))) if row["finding_pos"] else ())
        for row in archive.conn.execute(sql, [*args, limit])
    ]
