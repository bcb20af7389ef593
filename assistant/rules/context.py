"""Clause-level context around a match: negation, reported speech, lawful framing.

All offsets are into the *normalised* text. The language settings come from the
lexicon's ``_language.yaml`` so that the behaviour is data, not code.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from assistant.rules.loader import LanguageConfig


def _alternation(words: tuple[str, ...], word_bounded: bool) -> re.Pattern[str] | None:
    if not words:
        return None
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    if word_bounded:
        return re.compile(rf"(?<![\w'])(?:{body})(?![\w])")
    return re.compile(f"(?:{body})")


CONDITION_WINDOW = 60  # characters before a negator in which a conditional can govern it
TALK_WINDOW = 120  # characters around a match in which talk about such conduct counts


@dataclass(frozen=True)
class Bounds:
    """Where the sentences and clauses of one text end, and where it talks about conduct,
    found once per text so that each match's context is looked up in O(log n): checking
    stays linear in the text's length."""

    sentences: tuple[int, ...]
    clauses: tuple[int, ...]
    length: int
    talks: tuple[tuple[int, int], ...] = ()

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        i = bisect_right(self.sentences, start - 1)
        a = self.sentences[i - 1] + 1 if i else 0
        j = bisect_left(self.sentences, end)
        return a, self.sentences[j] if j < len(self.sentences) else self.length

    def clause_start(self, pos: int) -> int:
        i = bisect_right(self.clauses, pos - 1)
        return self.clauses[i - 1] + 1 if i else 0


@dataclass
class ContextRules:
    """Compiled context settings of one language."""

    config: LanguageConfig

    def __post_init__(self) -> None:
        cfg = self.config
        self.word_bounded = cfg.lang != "zh"
        self.clause_chars = set(cfg.clause_delimiters)
        self.sentence_chars = set(cfg.sentence_delimiters)
        self.breakers = _alternation(cfg.scope_breakers, self.word_bounded)
        self.negators = _alternation(cfg.negators, False)
        self.barriers = _alternation(cfg.negation_barriers, self.word_bounded)
        self.exceptions = [re.compile(x) for x in cfg.negation_exceptions]
        self.causal = _alternation(cfg.negation_causal, self.word_bounded)
        self.conditionals = _alternation(cfg.conditionals, self.word_bounded)
        self.frames = _alternation(cfg.quote_frames, self.word_bounded)
        self.quote_breakers = _alternation(cfg.quote_breakers, self.word_bounded)
        self.talk = re.compile("|".join(f"(?:{x})" for x in cfg.talk_markers)) if cfg.talk_markers else None
        self.turns = _alternation(cfg.talk_turns, self.word_bounded)
        if self.word_bounded and self.negators is not None:
            body = "|".join(re.escape(w) for w in sorted(cfg.negators, key=len, reverse=True))
            self.negators = re.compile(rf"(?:(?<![\w'])(?:{body})(?![\w])|n't(?![\w]))")

    def _window_start(self, text: str, end: int, size: int) -> int:
        """Start of the last ``size`` units (characters for zh, words for en) before ``end``."""
        if not self.word_bounded:
            return max(0, end - size)
        pos = end
        words = 0
        while pos > 0 and words < size:
            pos -= 1
            while pos > 0 and text[pos - 1] != " ":
                pos -= 1
            words += 1
        return pos

    def bounds(self, text: str) -> Bounds:
        """The sentence and clause delimiters of ``text`` and its talk about conduct (compute
        once, pass to the checks)."""
        talks = tuple((m.start(), m.end()) for m in self.talk.finditer(text)) if self.talk is not None else ()
        return Bounds(tuple(k for k, ch in enumerate(text) if ch in self.sentence_chars),
                      tuple(k for k, ch in enumerate(text) if ch in self.clause_chars), len(text), talks)

    def sentence_bounds(self, text: str, start: int, end: int, bounds: Bounds | None = None) -> tuple[int, int]:
        """``[a, b)`` of the sentence containing the span ``[start, end)``."""
        return (bounds or self.bounds(text)).sentence(start, end)

    def _clause_start(self, text: str, pos: int, bounds: Bounds | None = None) -> int:
        """Start of the punctuation-delimited clause containing ``pos``."""
        return (bounds or self.bounds(text)).clause_start(pos)

    def is_negated(self, text: str, start: int, bounds: Bounds | None = None) -> bool:
        """True when a negator in the same clause governs the match starting at ``start``.

        The negator must stand within ``negation_window`` before the match, with no new
        first-person subject (a barrier) and no scope breaker between them (in 不还就坐牢
        the 不 belongs to 还) — unless the breaker closes a causal clause opened right after
        the negator (我们不会因为一次逾期就…, "not … just because …").
        """
        if self.negators is None:
            return False
        lo = max(self._clause_start(text, start, bounds), self._window_start(text, start, self.config.negation_window))
        for m in self.negators.finditer(text, lo, start):
            if not self._live(text, m.start(), bounds):
                continue
            between = text[m.end() : start]
            if self.barriers is not None and self.barriers.search(between):
                continue
            if self.breakers is not None and self.breakers.search(between):
                if self.causal is None or not self.causal.match(between.lstrip()):
                    continue
            return True
        return False

    def _live(self, text: str, pos: int, bounds: Bounds | None = None) -> bool:
        """A negator at ``pos`` that really negates: not an exception (别怪, "why not"), not
        part of a condition."""
        return not any(x.match(text, pos) for x in self.exceptions) and not self._in_condition(text, pos, bounds)

    def _in_condition(self, text: str, pos: int, bounds: Bounds | None = None) -> bool:
        """True when the negator at ``pos`` belongs to a condition ("if this isn't paid…",
        "如果您不…"): a conditional opens its clause (within :data:`CONDITION_WINDOW`
        characters) with no new first-person subject since."""
        if self.conditionals is None:
            return False
        clause = max(self._clause_start(text, pos, bounds), pos - CONDITION_WINDOW)
        matches = list(self.conditionals.finditer(text, clause, pos))
        if not matches:
            return False
        last = matches[-1]
        return not (self.barriers is not None and self.barriers.search(text, last.end(), pos))

    def is_quoted(self, text: str, start: int, bounds: Bounds | None = None) -> bool:
        """True when the match sits in reported speech ("you said…", "您说…") in its sentence."""
        if self.frames is None:
            return False
        sent_start, _ = self.sentence_bounds(text, start, start, bounds)
        lo = max(sent_start, self._window_start(text, start, self.config.quote_window))
        for m in self.frames.finditer(text, lo, start):
            between = text[m.end() : start]
            if self.quote_breakers is not None and self.quote_breakers.search(between):
                continue
            return True
        return False

    def is_talk(self, text: str, start: int, end: int, bounds: Bounds | None = None) -> bool:
        """True when the match's sentence talks *about* such conduct (condemns it, denies a
        rumour, reports it, trains against it) within ``TALK_WINDOW`` characters of the match,
        and no turn ("but I…", 我就…) separates that talk from the match."""
        bounds = bounds or self.bounds(text)
        spans = bounds.talks
        if not spans:
            return False
        a, b = bounds.sentence(start, end)
        lo, hi = max(a, start - TALK_WINDOW), min(b, end + TALK_WINDOW)
        for m_start, m_end in spans[bisect_left(spans, (lo, -1)) :]:
            if m_start >= hi:
                break
            if m_end > b:
                continue
            between = text[end:m_start] if m_start >= end else text[m_end:start] if m_end <= start else ""
            if self.turns is None or not self.turns.search(between):
                return True
        return False

    def features(self, text: str) -> tuple[float, float, float]:
        """Whole-utterance context signals for the meaning layer, which cannot see negation
        well on its own: a live negator (not an exception, not inside a condition), a
        reported-speech frame, a conditional."""
        bounds = self.bounds(text)
        negated = float(self.negators is not None and any(self._live(text, m.start(), bounds) for m in self.negators.finditer(text)))
        quoted = 1.0 if (self.frames is not None and self.frames.search(text)) or (self.talk is not None and self.talk.search(text)) else 0.0
        conditional = 1.0 if self.conditionals is not None and self.conditionals.search(text) else 0.0
        return negated, quoted, conditional
