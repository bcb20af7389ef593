"""Masking personal data in exported text: Chinese resident ID numbers, phone numbers,
bank card numbers, e-mail addresses (also digit strings spoken as Chinese numerals)."""
from __future__ import annotations

import re

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
    ("ID", re.compile(r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])")),
    ("CARD", re.compile(r"(?<![0-9])(?:\d[ -]?){15,18}\d(?![0-9])")),
    ("PHONE", re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![0-9])")),
    ("PHONE", re.compile(r"(?<![0-9])(?:\+?1[-. ]?)?\(?[2-9]\d{2}\)?[-. ]?\d{3}[-. ]?\d{4}(?![0-9])")),
    ("PHONE", re.compile(r"(?<![0-9])0\d{2,3}-?\d{7,8}(?![0-9])")),
    ("NUMBER", re.compile(r"[零〇一二三四五六七八九幺两]{7,}")),  # a phone or card number spoken digit by digit
)


def redact(text: str) -> tuple[str, int]:
    """``text`` with personal numbers and addresses masked, and how many were masked."""
    count = 0
    for label, pattern in _PATTERNS:
        text, n = pattern.subn(f"[{label}]", text)
        count += n
    return text, count
