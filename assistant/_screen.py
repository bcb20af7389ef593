"""Text shown on a terminal: control characters made visible, never obeyed.

A transcript is untrusted input. An escape sequence inside it (``\\x1b[2J``, a hyperlink,
a window-title change) or a bidirectional override must not act on the reviewer's
terminal, and a lone surrogate must not crash the output: each is shown as a visible
escape (``\\x1b``, ``\\u202e``, ``\\ud800``).
"""
from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (but tab and newline) and DEL, C1
    "\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional marks, embeddings, overrides, isolates
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff]"  # lone surrogates (undecodable bytes smuggled through JSON)
)
_UNSAFE_WITH_NEWLINE = re.compile("\n|" + _UNSAFE.pattern)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (newlines kept if asked)."""
    pattern = _UNSAFE if keep_newlines else _UNSAFE_WITH_NEWLINE
    return pattern.sub(_escape, text)
