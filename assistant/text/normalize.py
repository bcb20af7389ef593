"""Normalise utterances for matching while keeping a map back to the original offsets.

Every step works on a list of ``(char, original_index)`` pairs, so that a span found in
the normalised text can always be mapped back to the text the caller passed in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping, Protocol, Sequence

_FULLWIDTH_OFFSET = 0xFEE0

# The one table of CJK character ranges (regex class bodies): ideographs (unified, extension A,
# compatibility, the supplementary planes) and CJK punctuation / full-width forms.
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"
CJK_RE = re.compile(f"[{CJK_CHARS}]")


def is_cjk(ch: str) -> bool:
    """True for CJK unified ideographs (the characters of Chinese words)."""
    return CJK_RE.match(ch) is not None


def detect_language(text: str) -> str:
    """Guess ``zh`` or ``en`` from the share of CJK characters among the letters."""
    cjk = sum(1 for ch in text if is_cjk(ch))
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if cjk == 0 and latin == 0:
        return "zh" if any(is_cjk(ch) for ch in text) else "en"
    return "zh" if cjk * 2 >= latin / 4 else "en"


def language_share(text: str, lang: str) -> float:
    """Share of the written units of ``text`` in ``lang``'s script (CJK for zh, Latin for en);
    a run of Latin letters is one unit (a word), any other letter is one. 1.0 when it has no
    letters. A Korean model's Hangul on a Mandarin call scores 0; 你好APP scores 2/3."""
    units = _UNITS.findall(text)
    if not units:
        return 1.0
    mine = sum(1 for u in units if (is_cjk(u[0]) if lang == "zh" else u[0].isascii()))
    return mine / len(units)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


_WIDTH_TABLE = {code: code - _FULLWIDTH_OFFSET for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SPACE_RUN = re.compile(r"\s+")
_UNITS = re.compile(r"[A-Za-z]+|[^\W\d_]")


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
    lexicon's ``_language.yaml``. Length-preserving steps work on whole strings; only the
    steps that change length touch the offset map.
    """

    def __init__(self, replacements: Mapping[str, str] | None = None, max_run: int | None = None,
                 word_fixes: Mapping[str, str] | None = None) -> None:
        self.replacements = dict(replacements or {})
        self._fixes = _WordFixes(word_fixes) if word_fixes else None
        self.max_run = max_run
        self._long_run = re.compile(rf"\S{{{max_run}}}(?=\S)") if max_run else None
        keys = sorted(self.replacements, key=len, reverse=True)
        self._replace_re = re.compile("|".join(re.escape(k) for k in keys)) if keys else None

    def __call__(self, text: str) -> NormalizedText:
        """Normalise ``text``; see the class docstring for the steps."""
        s = text.translate(_WIDTH_TABLE)
        index: list[int] | None = None  # None: character k comes from original index k
        if CJK_RE.search(s):
            converted = _t2s().convert(s)
            if len(converted) == len(s):
                s = converted
            else:
                s, index = self._simplify_per_char(s)
        lowered = s.lower()
        if len(lowered) == len(s):
            s = lowered
        else:
            s, index = _expand(s, index, str.lower)
        s, index = self._fold_spaces(s, index)
        if self._replace_re is not None:
            s, index = self._replace(s, index)
        if self._fixes is not None:
            fixes = self._fixes.edits(s)
            if fixes:
                s, index = _splice(s, index, fixes)
        if self._long_run is not None and len(s) > (self.max_run or 0):
            breaks: list[tuple[_Spanned, str]] = [(m, m.group() + " ") for m in self._long_run.finditer(s)]
            if breaks:
                s, index = _splice(s, index, breaks)
        return NormalizedText(text, s, tuple(range(len(s))) if index is None else tuple(index))

    @staticmethod
    def _simplify_per_char(s: str) -> tuple[str, list[int]]:
        return _expand(s, None, lambda ch: _t2s().convert(ch) if is_cjk(ch) else ch)

    @staticmethod
    def _fold_spaces(s: str, index: list[int] | None) -> tuple[str, list[int] | None]:
        runs = list(_SPACE_RUN.finditer(s))
        if not runs or (all(m.group() == " " for m in runs) and not _any_dropped(s, runs)):
            return s, index
        edits = []
        for m in runs:
            prev = s[m.start() - 1] if m.start() > 0 else ""
            nxt = s[m.end()] if m.end() < len(s) else ""
            edits.append((m, " " if prev and nxt and not _drop_space(prev, nxt) else ""))
        return _splice(s, index, edits)

    def _replace(self, s: str, index: list[int] | None) -> tuple[str, list[int] | None]:
        assert self._replace_re is not None
        edits = [(m, self.replacements[m.group()]) for m in self._replace_re.finditer(s)]
        return _splice(s, index, edits) if edits else (s, index)


def longest_first(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Of overlapping ``(start, end, value)`` spans keep the longest (then the leftmost);
    the kept ones in text order. Linear in the spans' total length."""
    taken: set[int] = set()
    kept = []
    for start, end, value in sorted(spans, key=lambda f: (f[0] - f[1], f[0])):
        if any(k in taken for k in range(start, end)):
            continue
        taken.update(range(start, end))
        kept.append((start, end, value))
    return sorted(kept)


class _Spanned(Protocol):
    """Anything with a span: an ``re.Match`` or a :class:`_Span`."""

    def start(self) -> int: ...

    def end(self) -> int: ...


class _Span:
    """A matched span, shaped like the ``re.Match`` that :func:`_splice` takes."""

    def __init__(self, start: int, end: int) -> None:
        self._start, self._end = start, end

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end


class _WordFixes:
    """Whole-word rewrites from a large table (thousands of entries: Aho-Corasick, not a
    regex alternation); longest first, never overlapping, only at word boundaries."""

    def __init__(self, table: Mapping[str, str]) -> None:
        import ahocorasick

        self.automaton = ahocorasick.Automaton()
        for key, value in table.items():
            self.automaton.add_word(key, (key, value))
        self.automaton.make_automaton()

    def edits(self, s: str) -> list[tuple[_Span, str]]:
        found = []
        for end, (key, value) in self.automaton.iter(s):
            start = end - len(key) + 1
            if (_wordish(key[0]) and start > 0 and _wordish(s[start - 1])) or (_wordish(key[-1]) and end + 1 < len(s) and _wordish(s[end + 1])):
                continue
            found.append((start, end + 1, value))
        return [(_Span(a, b), v) for a, b, v in longest_first(found)]


def _wordish(ch: str) -> bool:
    return ch.isalnum() or ch == "'"


def _splice(s: str, index: list[int] | None, edits: Sequence[tuple[_Spanned, str]]) -> tuple[str, list[int]]:
    """Replace each matched span by its text; the k-th new character maps to the span's k-th."""
    src = index if index is not None else range(len(s))
    chars: list[str] = []
    out: list[int] = []
    pos = 0
    for m, repl in edits:
        chars.append(s[pos : m.start()])
        out.extend(src[pos : m.start()])
        span = src[m.start() : m.end()]
        chars.append(repl)
        # the k-th new character maps to the span's k-th; the last to the span's last, so a
        # shortened span still ends where the original did
        out.extend(span[len(span) - 1 if k == len(repl) - 1 else min(k, len(span) - 1)] for k in range(len(repl)))
        pos = m.end()
    chars.append(s[pos:])
    out.extend(src[pos:])
    return "".join(chars), out


def _expand(s: str, index: list[int] | None, fn: Callable[[str], str]) -> tuple[str, list[int]]:
    """Apply a per-character function that may change length, keeping the offset map."""
    src = index if index is not None else range(len(s))
    chars: list[str] = []
    out: list[int] = []
    for ch, i in zip(s, src):
        for c in fn(ch):
            chars.append(c)
            out.append(i)
    return "".join(chars), out


def _drop_space(prev: str, nxt: str) -> bool:
    """An ASR space between two Chinese characters (or one beside punctuation/digits) goes."""
    return _joins_cjk(prev) and _joins_cjk(nxt) and (is_cjk(prev) or is_cjk(nxt))


def _any_dropped(s: str, runs: list[re.Match[str]]) -> bool:
    for m in runs:
        prev = s[m.start() - 1] if m.start() > 0 else ""
        nxt = s[m.end()] if m.end() < len(s) else ""
        if not prev or not nxt or _drop_space(prev, nxt):
            return True
    return False


def _joins_cjk(ch: str) -> bool:
    """Characters beside which an ASR space is dropped: CJK, digits and punctuation."""
    return bool(ch) and (is_cjk(ch) or ch.isdigit() or not ch.isalnum())
