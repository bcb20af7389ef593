"""Normalise utterances for matching while keeping a map back to the original offsets.

Every step works on a list of ``(char, original_index)`` pairs, so that a span found in
the normalised text can always be mapped back to the text the caller passed in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

_FULLWIDTH_OFFSET = 0xFEE0


def is_cjk(ch: str) -> bool:
    """True for CJK unified ideographs (the characters of Chinese words)."""
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FA1F
    )


def detect_language(text: str) -> str:
    """Guess ``zh`` or ``en`` from the share of CJK characters among the letters."""
    cjk = sum(1 for ch in text if is_cjk(ch))
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if cjk == 0 and latin == 0:
        return "zh" if any(is_cjk(ch) for ch in text) else "en"
    return "zh" if cjk * 2 >= latin / 4 else "en"


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def _width(ch: str) -> str:
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - _FULLWIDTH_OFFSET)
    if code == 0x3000:
        return " "
    return ch


@dataclass(frozen=True)
class NormalizedText:
    """Normalised text plus, for each of its characters, the index in the original."""

    original: str
    text: str
    to_original: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of :attr:`text` to a span of :attr:`original`."""
        if not self.text or end <= start:
            pos = self.to_original[start] if start < len(self.to_original) else len(self.original)
            return pos, pos
        first = self.to_original[start]
        last = self.to_original[min(end, len(self.to_original)) - 1]
        return first, last + 1


class Normalizer:
    """Normalise text for one language.

    Steps: full-width → half-width; Traditional → Simplified (OpenCC ``t2s``);
    lower-casing; spaces that ASR puts between Chinese characters removed; runs of white
    space folded; then language-specific replacements (e.g. ASR homophones) from the
    lexicon's ``_language.yaml``.
    """

    def __init__(self, replacements: Mapping[str, str] | None = None) -> None:
        self.replacements = dict(replacements or {})
        keys = sorted(self.replacements, key=len, reverse=True)
        self._replace_re = re.compile("|".join(re.escape(k) for k in keys)) if keys else None

    def __call__(self, text: str) -> NormalizedText:
        """Normalise ``text``; see the class docstring for the steps."""
        pairs = [(_width(ch), i) for i, ch in enumerate(text)]
        pairs = self._simplify(pairs)
        pairs = [(ch.lower(), i) for ch, i in pairs]
        pairs = self._fold_spaces(pairs)
        if self._replace_re is not None:
            pairs = self._replace(pairs)
        return NormalizedText(text, "".join(ch for ch, _ in pairs), tuple(i for _, i in pairs))

    @staticmethod
    def _simplify(pairs: list[tuple[str, int]]) -> list[tuple[str, int]]:
        if not any(is_cjk(ch) for ch, _ in pairs):
            return pairs
        joined = "".join(ch for ch, _ in pairs)
        converted = _t2s().convert(joined)
        if len(converted) == len(joined):
            return [(c, i) for c, (_, i) in zip(converted, pairs)]
        out: list[tuple[str, int]] = []
        for ch, i in pairs:
            for c in _t2s().convert(ch) if is_cjk(ch) else ch:
                out.append((c, i))
        return out

    @staticmethod
    def _fold_spaces(pairs: list[tuple[str, int]]) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        n = len(pairs)
        k = 0
        while k < n:
            ch, i = pairs[k]
            if not ch.isspace():
                out.append((ch, i))
                k += 1
                continue
            j = k
            while j < n and pairs[j][0].isspace():
                j += 1
            prev = out[-1][0] if out else ""
            nxt = pairs[j][0] if j < n else ""
            joins = _joins_cjk(prev) and _joins_cjk(nxt) and (is_cjk(prev) or is_cjk(nxt))
            if prev and nxt and not joins:
                out.append((" ", i))
            k = j
        return out

    def _replace(self, pairs: list[tuple[str, int]]) -> list[tuple[str, int]]:
        assert self._replace_re is not None
        joined = "".join(ch for ch, _ in pairs)
        out: list[tuple[str, int]] = []
        pos = 0
        for m in self._replace_re.finditer(joined):
            out.extend(pairs[pos : m.start()])
            repl = self.replacements[m.group()]
            src = [i for _, i in pairs[m.start() : m.end()]]
            for k, c in enumerate(repl):
                out.append((c, src[min(k, len(src) - 1)]))
            pos = m.end()
        out.extend(pairs[pos:])
        return out


def _joins_cjk(ch: str) -> bool:
    """Characters beside which an ASR space is dropped: CJK, digits and punctuation."""
    return bool(ch) and (is_cjk(ch) or ch.isdigit() or not ch.isalnum())
