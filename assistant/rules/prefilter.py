"""Literal prefilters for regular expressions.

A rule regex only needs to run on an utterance that contains at least one of the
literal strings every match of it must contain. ``required_literals`` derives that set
from the parsed pattern, so the expensive windowed regexes of the lexicons are skipped
(with a few substring tests) on the many utterances where they cannot match.
"""
from __future__ import annotations

import importlib
from typing import Any

# The regex parser is private to ``re``; typed as ``Any`` because its shape is CPython's.
try:  # Python ≥ 3.11
    C: Any = importlib.import_module("re._constants")
    P: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - Python 3.10
    C = importlib.import_module("sre_constants")
    P = importlib.import_module("sre_parse")

Literals = frozenset[str]
_MAX_ALTERNATIVES = 64
_MAX_CLASS = 8


def _score(lits: Literals) -> float:
    """How selective a literal set is: longer and fewer alternatives are better."""
    shortest = min(len(s) for s in lits)
    return shortest - 0.01 * len(lits)


def _sequence(items: Any) -> Literals | None:
    best: Literals | None = None
    run: list[str] = []

    def consider(lits: Literals | None) -> None:
        nonlocal best
        if lits and (best is None or _score(lits) > _score(best)):
            best = lits

    for op, av in items:
        if op is C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            consider(frozenset(["".join(run)]))
            run = []
        consider(_item(op, av))
    if run:
        consider(frozenset(["".join(run)]))
    return best


def _branch(alternatives: Any) -> Literals | None:
    out: set[str] = set()
    for alt in alternatives:
        lits = _sequence(alt)
        if not lits:
            return None
        out |= lits
        if len(out) > _MAX_ALTERNATIVES:
            return None
    return frozenset(out)


def _item(op: Any, av: Any) -> Literals | None:
    if op is C.SUBPATTERN:
        return _sequence(av[-1])
    if op is C.BRANCH:
        return _branch(av[1])
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
        low, _high, body = av
        return _sequence(body) if low >= 1 else None
    if op is C.IN:
        chars = [chr(v) for o, v in av if o is C.LITERAL]
        if len(chars) == len(av) and 0 < len(chars) <= _MAX_CLASS:
            return frozenset(chars)
        return None
    if op is getattr(C, "ATOMIC_GROUP", None):
        return _sequence(av)
    return None


def required_literals(pattern: str, flags: int = 0) -> Literals | None:
    """Literal strings of which every match of ``pattern`` contains at least one.

    ``None`` when no such set can be derived (the pattern must then always run).
    Case-insensitive patterns are not analysed.
    """
    import re

    if flags & re.IGNORECASE or "(?i" in pattern:
        return None
    try:
        parsed = P.parse(pattern, flags)
    except Exception:  # noqa: BLE001 - a pattern the parser rejects is caught by lint
        return None
    return _sequence(list(parsed))
