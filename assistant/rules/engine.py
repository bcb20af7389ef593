"""The rule layer: spaCy PhraseMatcher/Matcher, Chinese phrases by sound, and regular
expressions over normalised text.

Built once per language and reused for every utterance (partials included), so it must
stay cheap: one normalisation, one ``make_doc``, a handful of matcher passes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import ahocorasick

from assistant import _spacy

_spacy.load()  # spaCy without its command line (0.4 s of start-up); the imports below find it loaded

import spacy  # noqa: E402
from spacy.matcher import Matcher, PhraseMatcher  # noqa: E402

from assistant.events import Finding, as_kind, as_severity
from assistant.rules.context import Bounds, ContextRules
from assistant.rules.homophones import HomophoneMatcher, lexicon_terms
from assistant.rules.loader import Lexicon, Rule, compile_regex
from assistant.rules.prefilter import required_literals
from assistant.text import NormalizedText, Normalizer


@dataclass(frozen=True)
class Candidate:
    """A pattern hit before context checks; ``suppressed_by`` says why it is not a finding."""

    rule: Rule
    start: int
    end: int
    suppressed_by: str = ""


class _LiteralScanner:
    """Which regexes can match a text: one Aho-Corasick pass over every gate literal."""

    def __init__(self, gates: list[frozenset[str] | None]) -> None:
        self.always = [k for k, g in enumerate(gates) if g is None]
        index: dict[str, list[int]] = {}
        for k, gate in enumerate(gates):
            for lit in gate or ():
                index.setdefault(lit, []).append(k)
        self.automaton = ahocorasick.Automaton()
        for lit, ks in index.items():
            self.automaton.add_word(lit, tuple(ks))
        self.empty = not index
        if not self.empty:
            self.automaton.make_automaton()

    def candidates(self, text: str) -> list[int]:
        """Indexes of the regexes worth running on ``text``, in lexicon order."""
        if self.empty:
            return self.always
        found = set(self.always)
        for _, ks in self.automaton.iter(text):
            found.update(ks)
        return sorted(found)


def _make_nlp(lang: str) -> spacy.language.Language:
    # zh: the blank pipeline segments per character, so phrases match whatever a word
    # segmenter would have done with them (不还钱 → 不/还钱 or 不/还/钱).
    return spacy.blank(lang)


class RuleEngine:
    """Finds rule matches in one language's utterances."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.lang = lexicon.lang
        # English: no word is 40 characters long; longer unbroken runs (pasted junk) are split so
        # that spaCy's tokenizer, quadratic on such runs, stays linear.
        self.normalize = Normalizer(lexicon.config.replacements, max_run=None if self.lang == "zh" else 40, word_fixes=lexicon.word_fixes or None)
        self.context = ContextRules(lexicon.config)
        self.nlp = _make_nlp(self.lang)
        attr = "ORTH" if self.lang == "zh" else "LOWER"
        self.phrase_matcher = PhraseMatcher(self.nlp.vocab, attr=attr)
        self.matcher = Matcher(self.nlp.vocab)
        self.rules: dict[str, Rule] = {}
        # Per speaker: every rule regex, and a literal scanner that says which of them can match.
        self.regexes: dict[str, list[tuple[Rule, str]]] = {"agent": [], "customer": []}  # compiled on first use
        gates: dict[str, list[frozenset[str] | None]] = {"agent": [], "customer": []}
        self.unless: dict[str, str | None] = {}
        spoken: list[str] = []  # normalised phrases: zh phrases are also matched by sound
        for rule in lexicon.rules:
            self.rules[rule.id] = rule
            if rule.patterns.phrases:
                texts = [self.normalize(p).text for p in rule.patterns.phrases]
                self.phrase_matcher.add(rule.id, [self.nlp.make_doc(t) for t in texts])
                spoken += texts
            if rule.patterns.tokens:
                self.matcher.add(rule.id, [list(p) for p in rule.patterns.tokens])
            for pattern in rule.patterns.regex:
                gate = lexicon.gates[pattern] if pattern in lexicon.gates else required_literals(pattern)
                for speaker in self.regexes:
                    if rule.speaker in (speaker, "any"):
                        self.regexes[speaker].append((rule, pattern))
                        gates[speaker].append(gate)
            self.unless[rule.id] = self._compile_unless(rule)
        self._scanners = {speaker: _LiteralScanner(g) for speaker, g in gates.items()}
        # zh: the lexicon's terms heard with a character slip are rewritten to the term before
        # matching (法远执行 → 法院执行).
        self.homophones = None
        if lexicon.homophones:
            terms = lexicon_terms(spoken, lexicon.gates)
            self.homophones = HomophoneMatcher(lexicon.homophones, terms, lexicon.slips, lexicon.slip_words)

    def _compile_unless(self, rule: Rule) -> str | None:
        """The rule's `unless` as one regex (compiled on first use: most never are)."""
        parts = [f"(?:{r})" for r in rule.unless.regex]
        parts += [re.escape(self.normalize(p).text) for p in rule.unless.phrases]
        return "|".join(parts) if parts else None

    def candidates(self, norm: NormalizedText, speaker: str) -> list[Candidate]:
        """Every pattern hit for rules that apply to ``speaker``, with context verdicts."""
        text = norm.text if self.homophones is None else self.homophones.correct(norm.text)
        hits: list[tuple[Rule, int, int]] = []
        doc = self.nlp.make_doc(text)
        strings = self.nlp.vocab.strings
        for match_id, s, e in self.phrase_matcher(doc):
            hits.append((self.rules[strings[match_id]], doc[s].idx, doc[e - 1].idx + len(doc[e - 1])))
        if len(self.matcher):
            for match_id, s, e in self.matcher(doc):
                hits.append((self.rules[strings[match_id]], doc[s].idx, doc[e - 1].idx + len(doc[e - 1])))
        regexes = self.regexes[speaker]
        for k in self._scanners[speaker].candidates(text):
            rule, pattern = regexes[k]
            for m in compile_regex(pattern).finditer(text):
                if m.end() > m.start():
                    hits.append((rule, m.start(), m.end()))
        out = []
        bounds = self.context.bounds(text) if hits else None
        unless_seen: dict[tuple[str, int, int], bool] = {}
        for rule, s, e in hits:
            if rule.speaker not in (speaker, "any"):
                continue
            out.append(Candidate(rule, s, e, self._suppression(rule, text, s, e, bounds, unless_seen)))
        return out

    def _suppression(self, rule: Rule, text: str, start: int, end: int, bounds: Bounds | None = None,
                     unless_seen: dict[tuple[str, int, int], bool] | None = None) -> str:
        ctx = self.context
        if rule.unless.negation and ctx.is_negated(text, start, bounds):
            return "negation"
        if rule.unless.quote and rule.kind == "violation" and ctx.is_quoted(text, start, bounds):
            return "quote"
        if rule.unless.quote and rule.kind == "violation" and ctx.is_talk(text, start, end, bounds):
            return "talk"
        unless = self.unless[rule.id]
        if unless is not None:
            a, b = ctx.sentence_bounds(text, start, end, bounds)
            key = (rule.id, a, b)  # one search per rule and sentence, however many matches it holds
            seen = unless_seen if unless_seen is not None else {}
            if key not in seen:
                seen[key] = compile_regex(unless).search(text, a, b) is not None
            if seen[key]:
                return "unless"
        return ""

    def findings(self, norm: NormalizedText, candidates: list[Candidate]) -> list[Finding]:
        """Turn unsuppressed candidates into findings, one per category and span.

        Longer matches win over overlapping shorter ones of the same category.
        """
        kept: list[Candidate] = []
        live = sorted((c for c in candidates if not c.suppressed_by), key=lambda c: (c.start, -(c.end - c.start)))
        reach: dict[str, int] = {}  # per category, the furthest end of a kept match (all kept start earlier)
        for cand in live:
            if cand.start < reach.get(cand.rule.category, -1):
                continue
            kept.append(cand)
            reach[cand.rule.category] = max(reach.get(cand.rule.category, -1), cand.end)
        out = []
        for cand in kept:
            rule = cand.rule
            s, e = norm.original_span(cand.start, cand.end)
            out.append(
                Finding(
                    kind=as_kind(rule.kind),
                    category=rule.category,
                    rule_id=rule.id,
                    severity=as_severity(rule.severity),
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
