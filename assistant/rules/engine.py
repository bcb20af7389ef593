"""The rule layer: spaCy PhraseMatcher/Matcher and regular expressions over normalised text.

Built once per language and reused for every utterance (partials included), so it must
stay cheap: one normalisation, one ``make_doc``, a handful of matcher passes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import spacy
from spacy.matcher import Matcher, PhraseMatcher

from assistant.events import Finding
from assistant.rules.context import ContextRules
from assistant.rules.loader import Lexicon, Rule
from assistant.text import NormalizedText, Normalizer


@dataclass(frozen=True)
class Candidate:
    """A pattern hit before context checks; ``suppressed_by`` says why it is not a finding."""

    rule: Rule
    start: int
    end: int
    suppressed_by: str = ""


def _make_nlp(lang: str) -> spacy.language.Language:
    # zh: the blank pipeline segments per character, so phrases match whatever a word
    # segmenter would have done with them (不还钱 → 不/还钱 or 不/还/钱).
    return spacy.blank(lang)


class RuleEngine:
    """Finds rule matches in one language's utterances."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.lang = lexicon.lang
        self.normalize = Normalizer(lexicon.config.replacements)
        self.context = ContextRules(lexicon.config)
        self.nlp = _make_nlp(self.lang)
        attr = "ORTH" if self.lang == "zh" else "LOWER"
        self.phrase_matcher = PhraseMatcher(self.nlp.vocab, attr=attr)
        self.matcher = Matcher(self.nlp.vocab)
        self.rules: dict[str, Rule] = {}
        self.regexes: list[tuple[Rule, re.Pattern[str]]] = []
        self.unless: dict[str, re.Pattern[str] | None] = {}
        for rule in lexicon.rules:
            self.rules[rule.id] = rule
            if rule.patterns.phrases:
                docs = [self.nlp.make_doc(self.normalize(p).text) for p in rule.patterns.phrases]
                self.phrase_matcher.add(rule.id, docs)
            if rule.patterns.tokens:
                self.matcher.add(rule.id, [list(p) for p in rule.patterns.tokens])
            if rule.patterns.regex:
                self.regexes.append((rule, re.compile("|".join(f"(?:{r})" for r in rule.patterns.regex))))
            self.unless[rule.id] = self._compile_unless(rule)

    def _compile_unless(self, rule: Rule) -> re.Pattern[str] | None:
        parts = [f"(?:{r})" for r in rule.unless.regex]
        parts += [re.escape(self.normalize(p).text) for p in rule.unless.phrases]
        return re.compile("|".join(parts)) if parts else None

    def candidates(self, norm: NormalizedText, speaker: str) -> list[Candidate]:
        """Every pattern hit for rules that apply to ``speaker``, with context verdicts."""
        text = norm.text
        hits: list[tuple[Rule, int, int]] = []
        doc = self.nlp.make_doc(text)
        strings = self.nlp.vocab.strings
        for match_id, s, e in self.phrase_matcher(doc):
            hits.append((self.rules[strings[match_id]], doc[s].idx, doc[e - 1].idx + len(doc[e - 1])))
        if len(self.matcher):
            for match_id, s, e in self.matcher(doc):
                hits.append((self.rules[strings[match_id]], doc[s].idx, doc[e - 1].idx + len(doc[e - 1])))
        for rule, rx in self.regexes:
            for m in rx.finditer(text):
                if m.end() > m.start():
                    hits.append((rule, m.start(), m.end()))
        out = []
        for rule, s, e in hits:
            if rule.speaker not in (speaker, "any"):
                continue
            out.append(Candidate(rule, s, e, self._suppression(rule, text, s, e)))
        return out

    def _suppression(self, rule: Rule, text: str, start: int, end: int) -> str:
        ctx = self.context
        if rule.unless.negation and ctx.is_negated(text, start):
            return "negation"
        if rule.unless.quote and rule.kind == "violation" and ctx.is_quoted(text, start):
            return "quote"
        unless = self.unless[rule.id]
        if unless is not None:
            a, b = ctx.sentence_bounds(text, start, end)
            if unless.search(text, a, b):
                return "unless"
        return ""

    def findings(self, norm: NormalizedText, candidates: list[Candidate]) -> list[Finding]:
        """Turn unsuppressed candidates into findings, one per category and span.

        Longer matches win over overlapping shorter ones of the same category.
        """
        kept: list[Candidate] = []
        live = sorted((c for c in candidates if not c.suppressed_by), key=lambda c: (c.start, -(c.end - c.start)))
        for cand in live:
            if any(k.rule.category == cand.rule.category and cand.start < k.end and k.start < cand.end for k in kept):
                continue
            kept.append(cand)
        out = []
        for cand in kept:
            rule = cand.rule
            s, e = norm.original_span(cand.start, cand.end)
            out.append(
                Finding(
                    kind=rule.kind,  # type: ignore[arg-type]
                    category=rule.category,
                    rule_id=rule.id,
                    severity=rule.severity,  # type: ignore[arg-type]
                    start=s,
                    end=e,
                    matched=norm.original[s:e],
                    citation=rule.citation_text,
                    explanation=rule.explanation,
                    suggestion=rule.suggestion,
                    extra={"rule_version": rule.version, "verification": rule.verification},
                )
            )
        return out
