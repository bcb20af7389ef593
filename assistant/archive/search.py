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

from assistant.text.normalize import Normalizer

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z][0-9a-z']*")
_normalizer: Normalizer | None = None


def _norm(text: str) -> str:
    global _normalizer
    if _normalizer is None:
        _normalizer = Normalizer()
    return _normalizer(text).text


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


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def match_expression(query: str) -> str:
    """The FTS5 MATCH expression for a user query (all parts must match)."""
    parts = []
    for kind, piece in _pieces(_norm(query)):
        if kind == "word":
            parts.append(f"bi : {_quote(piece)}")
        elif len(piece) == 1:
            parts.append(f"uni : {_quote(piece)}")
        else:
            parts.append("bi : " + _quote(" ".join(piece[i : i + 2] for i in range(len(piece) - 1))))
    return " AND ".join(parts)


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
