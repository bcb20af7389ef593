"""Checks on single values that every reader of user input shares (transcripts, check input,
case files, the archive's own writer). Imports nothing of ours: the bottom of the graph."""
from __future__ import annotations

import difflib
import math
from datetime import datetime, timezone
from typing import Any, Iterable


def finite(value: Any) -> bool:
    """A real number (not a bool, NaN or infinite)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def span_problem(start: Any, end: Any) -> str | None:
    """What is wrong with a ``[start, end]`` time span in seconds, or None when it is usable."""
    if not (finite(start) and finite(end)):
        return f"start and end must be finite numbers of seconds (got {start!r}, {end!r})"
    if start < 0 or end < start:
        return f"start {start} is after end {end} (or negative): times must satisfy 0 ≤ start ≤ end"
    return None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 date or time as a datetime (naive ones are taken as UTC); None if unparsable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def near_miss(key: Any, known: Iterable[str]) -> str | None:
    """The known key that ``key`` is a typo of (``speeker`` → ``speaker``), if any."""
    if not isinstance(key, str):
        return None
    found = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    return found[0] if found else None
