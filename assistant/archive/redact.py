"""Masking personal data in what leaves the archive: numbers however they are written or
spoken (ID, phone, card, SSN …), e-mail and IP addresses, people named with a title, and
the names a call or case knows. The detectors are data (``data/pii.yaml``), with examples
that the tests run.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml

PII_FILE = Path(__file__).parent / "data" / "pii.yaml"
_FULLWIDTH_DIGITS = {chr(0xFF10 + k): k for k in range(10)}


@dataclass(frozen=True)
class Span:
    """A masked stretch of text: ``[start, end)`` and what it was (ID, PHONE, NAME …)."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class _Config:
    min_digits: int
    max_gap: int
    separators: frozenset[str]
    numerals: dict[str, int]
    token: re.Pattern[str]
    keep: tuple[re.Pattern[str], ...]
    kinds: tuple[tuple[str, re.Pattern[str]], ...]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    examples: dict[str, list[str]]


@lru_cache(maxsize=1)
def config() -> _Config:
    """The detectors of ``data/pii.yaml``, compiled."""
    data = yaml.safe_load(PII_FILE.read_text(encoding="utf-8"))
    numbers = data["numbers"]
    numerals = {str(k): int(v) for k, v in numbers["numerals"].items()}
    words = {str(k).lower(): int(v) for k, v in numbers["words"].items()}
    token = re.compile(
        "[0-9\uff10-\uff19]|[" + "".join(numerals) + "]|(?i:\\b(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")\\b)"
    )
    numerals.update(words)
    return _Config(
        min_digits=int(numbers["min_digits"]),
        max_gap=int(numbers["max_gap"]),
        separators=frozenset(numbers["separators"]),
        numerals=numerals,
        token=token,
        keep=tuple(re.compile(k["regex"]) for k in numbers.get("keep", [])),
        kinds=tuple((k["label"], re.compile(k["digits"])) for k in numbers["kinds"]),
        patterns=tuple((p["label"], re.compile(p["regex"])) for p in data.get("patterns", [])),
        examples={k: list(v) for k, v in data.get("examples", {}).items()},
    )


def _digit(cfg: _Config, tok: str) -> int:
    if tok.isascii() and tok.isdigit():
        return int(tok)
    if tok in _FULLWIDTH_DIGITS:
        return _FULLWIDTH_DIGITS[tok]
    return cfg.numerals.get(tok, cfg.numerals.get(tok.lower(), 0))


def number_spans(text: str) -> list[Span]:
    """Runs of at least ``min_digits`` digits (written or spoken), except dates and amounts."""
    cfg = config()
    spans: list[Span] = []
    run: list[tuple[int, int, int]] = []  # (start, end, digit)

    def close() -> None:
        if len(run) >= cfg.min_digits:
            start, end = run[0][0], run[-1][1]
            digits = "".join(str(d) for _, _, d in run)
            if end < len(text) and text[end] in "Xx" and len(digits) == 17:
                end += 1
                digits += "X"
            raw = text[start:end]
            if not any(k.match(raw) for k in cfg.keep):
                label = next((name for name, rx in cfg.kinds if rx.match(digits)), "NUMBER")
                spans.append(Span(start, end, label))
        run.clear()

    for m in cfg.token.finditer(text):
        if run:
            gap = text[run[-1][1] : m.start()]
            if len(gap) > cfg.max_gap or any(ch not in cfg.separators for ch in gap):
                close()
        run.append((m.start(), m.end(), _digit(cfg, m.group())))
    close()
    return spans


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Known names (from the case and the call): whole names, and the parts of Latin-script
    names (first or last name alone); Chinese names whole and as surname + given name."""
    forms: set[str] = set()
    for name in names:
        name = (name or "").strip()
        if len(name) < 2:
            continue
        forms.add(name)
        if re.search(r"[A-Za-z]", name):
            forms.update(part for part in re.split(r"[\s,.]+", name) if len(part) >= 3)
        elif len(name) >= 3:
            forms.add(name[1:])  # the given name alone (李小明 → 小明)
    if not forms:
        return None
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?i)(?<![A-Za-z])(?:{alternatives})(?![A-Za-z])")


class Redactor:
    """Finds and masks personal data in text; ``names`` are people the call is about (the
    debtor, the agent, relatives named in the case), masked wherever they appear."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = _name_pattern(names)

    def spans(self, text: str) -> list[Span]:
        """Every personal item in ``text``, merged where they overlap, in order."""
        found = number_spans(text)
        for label, rx in config().patterns:
            found += [Span(m.start(), m.end(), label) for m in rx.finditer(text) if m.end() > m.start()]
        if self.names is not None:
            found += [Span(m.start(), m.end(), "NAME") for m in self.names.finditer(text) if m.end() > m.start()]
        found.sort(key=lambda s: (s.start, -s.end))
        merged: list[Span] = []
        for span in found:
            if merged and span.start < merged[-1].end:
                last = merged[-1]
                if span.end > last.end:
                    merged[-1] = Span(last.start, span.end, last.label)
                continue
            merged.append(span)
        return merged

    def mask(self, text: str, counts: Counter[str] | None = None, spans: list[Span] | None = None) -> str:
        """``text`` with every span replaced by ``[LABEL]``; ``counts`` tallies the labels.
        ``spans``: the text's :meth:`spans` when the caller has them already."""
        out, pos = [], 0
        for span in self.spans(text) if spans is None else spans:
            out.append(text[pos : span.start])
            out.append(f"[{span.label}]")
            pos = span.end
            if counts is not None:
                counts[span.label] += 1
        out.append(text[pos:])
        return "".join(out)

    def words(self, text: str, words: list[dict[str, Any]], counts: Counter[str] | None = None,
              spans: list[Span] | None = None) -> tuple[list[dict[str, Any]], list[tuple[float, float]], bool]:
        """Mask a word list (``{w, start, end, conf}``) consistently with its utterance's text.

        A word is masked when it is part of an item found in the joined words, or lies under
        an item found in the text. When text and words cannot be aligned and the text holds an
        item, every word is masked. Returns the words, the audio spans to silence, and
        whether the text held an item at all.
        """
        text_spans = self.spans(text) if spans is None else spans
        if not words:
            return [], [], bool(text_spans)
        joined, owner = "", []
        for k, w in enumerate(words):
            if joined:
                joined += " "
                owner.append(-1)
            token = str(w.get("w", ""))
            joined += token
            owner.extend([k] * len(token))
        hit: dict[int, str] = {}
        for span in self.spans(joined):
            for i in range(span.start, span.end):
                if owner[i] >= 0:
                    hit.setdefault(owner[i], span.label)
        if text_spans:
            text_chars = [i for i, ch in enumerate(text) if not ch.isspace()]
            word_chars = [i for i, ch in enumerate(joined) if not ch.isspace()]
            if "".join(text[i] for i in text_chars) == "".join(joined[i] for i in word_chars):
                where = {t: owner[w] for t, w in zip(text_chars, word_chars)}
                for span in text_spans:
                    for i in range(span.start, span.end):
                        if i in where:
                            hit.setdefault(where[i], span.label)
            else:
                for k in range(len(words)):
                    hit.setdefault(k, text_spans[0].label)
        masked = []
        for k, w in enumerate(words):
            if k in hit:
                masked.append({**w, "w": f"[{hit[k]}]"})
                if counts is not None:
                    counts["words"] += 1
            else:
                masked.append(dict(w))
        audio = [(float(words[k]["start"]), float(words[k]["end"])) for k in sorted(hit)]
        return masked, audio, bool(text_spans) or bool(hit)
