"""The checker: the library entry point every caller uses (CLI, streaming session, QA).

``Checker(lang="zh").check(text, speaker="agent")`` returns the findings of one utterance.
The rule layer runs on every call; the meaning layer (a sentence classifier) runs only
on final utterances (``final=True``), because partial ASR hypotheses arrive many times a
second and the rule layer alone must keep up with them.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable

from assistant.constants import LANGUAGES, MAX_CHARS
from assistant.errors import TextTooLongError, UnknownLanguageError
from assistant.events import Finding, as_speaker
from assistant.rules.engine import Candidate, RuleEngine
from assistant.rules.loader import Lexicon, load_lexicon
from assistant.rules.meaning import MeaningLayer, load_meaning_layer
from assistant.text import detect_language


class Checker:
    """Check utterances against the rules of one or both languages.

    ``lang`` is ``zh``, ``en`` or ``auto`` (detect per utterance). ``meaning=False``
    turns the meaning layer off (rules only). ``max_chars`` is the longest utterance
    accepted. Engines are built on first use and reused.
    """

    def __init__(self, lang: str = "auto", *, root: Path | None = None, meaning: bool = True, max_chars: int = MAX_CHARS) -> None:
        if lang not in (*LANGUAGES, "auto"):
            raise UnknownLanguageError(f"unknown language {lang!r}: use zh, en or auto")
        self.lang = lang
        self.root = root
        self.use_meaning = meaning
        self.max_chars = max_chars
        self._engines: dict[str, RuleEngine] = {}
        self._meaning: dict[str, MeaningLayer | None] = {}

    def engine(self, lang: str) -> RuleEngine:
        """The rule engine of ``lang``, built on first use."""
        if lang not in LANGUAGES:
            raise UnknownLanguageError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
        if lang not in self._engines:
            self._engines[lang] = RuleEngine(load_lexicon(lang, self.root))
        return self._engines[lang]

    def lexicon(self, lang: str) -> Lexicon:
        """The loaded lexicon of ``lang``."""
        return self.engine(lang).lexicon

    def meaning(self, lang: str) -> MeaningLayer | None:
        """The meaning layer of ``lang`` (None when turned off)."""
        if not self.use_meaning:
            return None
        if lang not in self._meaning:
            engine = self.engine(lang)
            self._meaning[lang] = load_meaning_layer(engine.lexicon, self.root, engine.context)
        return self._meaning[lang]

    def warm_up(self, langs: Iterable[str] | None = None) -> None:
        """Build engines (and meaning layers) now rather than on the first utterance."""
        for lang in langs or ([self.lang] if self.lang != "auto" else LANGUAGES):
            self.engine(lang)
            layer = self.meaning(lang)
            if layer is not None:
                layer.warm_up()

    def resolve_lang(self, text: str, lang: str | None = None) -> str:
        """The language to use for ``text``: explicit, the checker's own, or detected."""
        chosen = lang or self.lang
        if chosen == "auto":
            return detect_language(text)
        if chosen not in LANGUAGES:
            raise UnknownLanguageError(f"unknown language {chosen!r}: use one of {', '.join(LANGUAGES)}")
        return chosen

    def rule_hits(self, text: str, speaker: str = "agent", *, lang: str | None = None) -> set[str]:
        """Ids of the rules whose patterns match ``text`` and survive their context checks,
        before findings of one category are merged (used to test each rule on its own)."""
        engine = self.engine(self.resolve_lang(text, lang))
        return {c.rule.id for c in engine.candidates(engine.normalize(text), speaker) if not c.suppressed_by}

    def check(self, text: str, speaker: str = "agent", *, lang: str | None = None, final: bool = True) -> list[Finding]:
        """Findings for one utterance.

        Agent lines can only yield violations and customer lines only cues. ``final=False``
        marks a partial ASR hypothesis: rules only, findings marked provisional.
        """
        as_speaker(speaker)  # UnknownSpeakerError for anyone else
        if len(text) > self.max_chars:
            raise TextTooLongError(
                f"utterance has {len(text):,} characters, over max_chars={self.max_chars:,}: "
                "check one utterance at a time, or raise max_chars"
            )
        lang = self.resolve_lang(text, lang)
        engine = self.engine(lang)
        norm = engine.normalize(text)
        candidates: list[Candidate] = engine.candidates(norm, speaker)
        findings = engine.findings(norm, candidates)
        if final:
            layer = self.meaning(lang)
            if layer is not None and norm.text.strip():
                findings += layer.findings(norm, speaker, candidates, findings)
        else:
            findings = [replace(f, provisional=True) for f in findings]
        return findings
