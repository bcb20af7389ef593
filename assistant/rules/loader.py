"""Load and validate lexicon files (rules as data) with ``file:line`` error reporting."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

from assistant import settings
from assistant._yaml import LineLocator, read_checked, read_yaml, schema_problems
from assistant.constants import CUE_CATEGORIES, LANGUAGES, VIOLATION_CATEGORIES
from assistant.errors import LexiconMissingError, RuleFileError, UnknownLanguageError, UnknownRuleError
from assistant.rules.schema import LANGUAGE_FILE, RULE_FILE
from assistant.text import Normalizer


def lexicon_root() -> Path:
    """The folder holding ``zh/`` and ``en/`` lexicons.

    ``$CALLASSIST_LEXICONS`` wins; otherwise the shipped ``lexicons/`` (inside the installed
    package, or at the top of the source tree).
    """
    env = settings.get("lexicons")
    if env:
        return Path(env)
    from assistant.files import data_dir

    return data_dir("lexicons")


@dataclass(frozen=True)
class Patterns:
    """What a rule matches: literal phrases, regular expressions, spaCy token patterns."""

    phrases: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    tokens: tuple[tuple[dict[str, Any], ...], ...] = ()


@dataclass(frozen=True)
class Unless:
    """When a match is *not* a finding: negated, reported speech, or a lawful framing."""

    phrases: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    negation: bool = True
    quote: bool = True


@dataclass(frozen=True)
class Rule:
    """One rule: a family of phrasings that map to one category."""

    id: str
    lang: str
    category: str
    kind: str
    severity: str
    speaker: str
    citation: tuple[str, ...]
    verification: str
    explanation: str
    suggestion: str
    patterns: Patterns
    unless: Unless
    examples_flag: tuple[str, ...]
    examples_pass: tuple[str, ...]
    version: int = 1
    description: str = ""
    source: str = ""

    @property
    def citation_text(self) -> str:
        """All clauses this rule enforces, joined into one line."""
        return "；".join(self.citation) if self.lang == "zh" else "; ".join(self.citation)


@dataclass(frozen=True)
class CategoryInfo:
    """File-level defaults for a category: used by findings of the meaning layer."""

    lang: str
    category: str
    kind: str
    severity: str
    citation: tuple[str, ...]
    verification: str
    explanation: str
    suggestion: str


@dataclass(frozen=True)
class LanguageConfig:
    """Per-language settings from ``_language.yaml``: negation, quoting, clause splitting."""

    lang: str
    replacements: dict[str, str]
    clause_delimiters: str
    sentence_delimiters: str
    scope_breakers: tuple[str, ...]
    negators: tuple[str, ...]
    negation_window: int
    negation_barriers: tuple[str, ...]
    negation_exceptions: tuple[str, ...]
    negation_causal: tuple[str, ...]
    conditionals: tuple[str, ...]
    quote_frames: tuple[str, ...]
    quote_breakers: tuple[str, ...]
    quote_window: int
    talk_markers: tuple[str, ...] = ()
    talk_turns: tuple[str, ...] = ()
    fillers: tuple[str, ...] = ()
    sound_terms: tuple[str, ...] = ()
    unless_sets: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)


@dataclass
class Lexicon:
    """Every rule and setting of one language."""

    lang: str
    config: LanguageConfig
    rules: list[Rule]
    categories: dict[str, CategoryInfo] = field(default_factory=dict)
    digest: str = ""
    gates: dict[str, Any] = field(default_factory=dict)  # regex -> literals one of which every match holds (kept in the cache)
    homophones: dict[str, int] = field(default_factory=dict)  # zh: character -> syllable id, for matching phrases by sound
    word_fixes: dict[str, str] = field(default_factory=dict)  # en: split, merged and filler words a recogniser makes -> repaired
    slips: dict[str, str] = field(default_factory=dict)  # zh: key term with one homophone slip -> the term
    slip_words: frozenset[str] = frozenset()  # zh: two-character words, so a slip that makes one with its neighbour is left alone

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (:class:`UnknownRuleError`, a KeyError, if none)."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise UnknownRuleError(f"no rule {rule_id!r} in the {self.lang} lexicon (see `callassist rules list`)")


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def read_language_file(lang: str, name: str, schema: dict[str, Any], root: str | Path | None = None) -> tuple[Path, Any, LineLocator]:
    """``<root>/<lang>/<name>`` read and checked against ``schema`` and its ``lang`` field:
    ``(path, data, locator)``; :class:`RuleFileError` naming the line of every problem."""
    path = (Path(root) if root else lexicon_root()) / lang / name
    data, loc, problems = read_checked(path, schema)
    if not problems and isinstance(data, dict) and data.get("lang") != lang:
        problems = [f"{path}:1: lang is {data.get('lang')!r} but the file is under {lang}/"]
    if problems or loc is None:
        raise RuleFileError(problems or [f"{path}:1: cannot read"])
    return path, data, loc


@lru_cache(maxsize=None)
def compile_regex(pattern: str) -> "re.Pattern[str]":
    """A rule regex, compiled once per process (the loader validates it, the engine uses it;
    Python's own cache of 512 patterns is smaller than the lexicons)."""
    return re.compile(pattern)


def _regex_problems(path: Path, loc: LineLocator, base: list[Any], patterns: dict[str, Any]) -> list[str]:
    out = []
    for k, rx in enumerate(patterns.get("regex") or []):
        try:
            compile_regex(rx)
        except re.error as exc:
            out.append(f"{path}:{loc.line(base + ['regex', k])}: bad regex {rx!r}: {exc}")
    return out


def load_language_config(lang: str, root: Path | None = None) -> LanguageConfig:
    """Read and validate ``<root>/<lang>/_language.yaml``."""
    path = (root or lexicon_root()) / lang / "_language.yaml"
    data, _, problems = read_checked(path, LANGUAGE_FILE)
    if problems:
        raise RuleFileError(problems)
    return LanguageConfig(
        lang=data["lang"],
        replacements={**(data.get("dialect_replacements") or {}), **(data.get("replacements") or {})},
        clause_delimiters=data["clause_delimiters"],
        sentence_delimiters=data["sentence_delimiters"],
        scope_breakers=_tuple(data.get("scope_breakers")),
        negators=_tuple(data["negators"]),
        negation_window=int(data.get("negation_window", 8)),
        negation_barriers=_tuple(data.get("negation_barriers")),
        negation_exceptions=_tuple(data.get("negation_exceptions")),
        negation_causal=_tuple(data.get("negation_causal")),
        conditionals=_tuple(data.get("conditionals")),
        quote_frames=_tuple(data["quote_frames"]),
        quote_breakers=_tuple(data.get("quote_breakers")),
        talk_markers=_tuple(data.get("talk_markers")),
        talk_turns=_tuple(data.get("talk_turns")),
        fillers=_tuple(data.get("fillers")),
        sound_terms=_tuple(data.get("sound_terms")),
        quote_window=int(data.get("quote_window", 25)),
        unless_sets={name: {k: _tuple(v.get(k)) for k in ("regex", "phrases")} for name, v in (data.get("unless_sets") or {}).items()},
    )


@lru_cache(maxsize=8)
def _language_normalizer(lang: str, root: str | None) -> Normalizer:
    return Normalizer(load_language_config(lang, Path(root) if root else None).replacements)


def language_normalizer(lang: str, root: Path | None = None) -> Normalizer:
    """The normaliser of a language (its ``_language.yaml`` replacements, dialect and ASR
    homophone fixes included): what stage markers, suggestions and obligations read text
    with, so they see what the checker sees. The checker's own adds long-run breaks and
    English word repair on top."""
    if lang not in LANGUAGES:
        return Normalizer()
    return _language_normalizer(lang, str(root) if root else None)


UnlessSets = Mapping[str, Mapping[str, tuple[str, ...]]]


def resolve_unless(own: Mapping[str, Any] | None, inherited: Unless | None, sets: UnlessSets) -> tuple[Unless, list[str]]:
    """An ``unless`` block on top of what it inherits (a rule's from its file's defaults).

    Lists extend: the inherited regexes and phrases, then the shared sets named in
    ``include`` (``_language.yaml``'s ``unless_sets``), then the block's own. ``drop``
    removes inherited entries by their exact text, or an included set by its name.
    ``negation`` and ``quote`` override. Returns the result and its problems (an unknown
    set, a ``drop`` that removes nothing).
    """
    own = own or {}
    problems: list[str] = []
    regex = list(inherited.regex) if inherited else []
    phrases = list(inherited.phrases) if inherited else []
    for name in own.get("include") or ():
        if name not in sets:
            problems.append(f"unknown unless set {name!r} (defined in _language.yaml: {', '.join(sorted(sets)) or 'none'})")
            continue
        regex += sets[name].get("regex", ())
        phrases += sets[name].get("phrases", ())
    regex += own.get("regex") or []
    phrases += own.get("phrases") or []
    for item in own.get("drop") or ():
        gone = set(sets[item].get("regex", ())) | set(sets[item].get("phrases", ())) if item in sets else {item}
        if not gone & (set(regex) | set(phrases)):
            problems.append(f"`drop` names {item!r}, which is not inherited")
            continue
        regex = [r for r in regex if r not in gone]
        phrases = [p for p in phrases if p not in gone]
    unless = Unless(
        phrases=tuple(dict.fromkeys(phrases)),
        regex=tuple(dict.fromkeys(regex)),
        negation=bool(own.get("negation", inherited.negation if inherited else True)),
        quote=bool(own.get("quote", inherited.quote if inherited else True)),
    )
    return unless, problems


def rule_files(lang: str, root: Path | None = None) -> list[Path]:
    """The rule files of a language, sorted (``_language.yaml`` excluded)."""
    folder = (root or lexicon_root()) / lang
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_"))


def _build_rules(path: Path, data: dict[str, Any], unless_of: list[Unless]) -> Iterator[Rule | CategoryInfo]:
    """The file's category and rules; ``unless_of`` holds each rule's resolved ``unless``."""
    defaults = data["defaults"]
    yield CategoryInfo(
        lang=data["lang"],
        category=data["category"],
        kind=data["kind"],
        severity=defaults["severity"],
        citation=_tuple(defaults["citation"]),
        verification=defaults["verification"],
        explanation=defaults["explanation"],
        suggestion=defaults["suggestion"],
    )
    for raw, unless in zip(data["rules"], unless_of):
        merged = {**defaults, **raw}
        pats = raw["patterns"]
        yield Rule(
            id=raw["id"],
            lang=data["lang"],
            category=merged.get("category", data["category"]),
            kind=merged.get("kind", data["kind"]),
            severity=merged["severity"],
            speaker=merged["speaker"],
            citation=_tuple(merged["citation"]),
            verification=merged["verification"],
            explanation=merged["explanation"],
            suggestion=merged["suggestion"],
            patterns=Patterns(
                phrases=_tuple(pats.get("phrases")),
                regex=_tuple(pats.get("regex")),
                tokens=tuple(tuple(p) for p in pats.get("tokens") or ()),
            ),
            unless=unless,
            examples_flag=_tuple((raw.get("examples") or {}).get("flag")),
            examples_pass=_tuple((raw.get("examples") or {}).get("pass")),
            version=int(merged.get("version", 1)),
            description=merged.get("description", ""),
            source=str(path),
        )


def lint_lexicon(lang: str, root: Path | None = None, config: LanguageConfig | None = None) -> tuple[list[str], list[Rule], dict[str, CategoryInfo]]:
    """Validate every file of a language; return ``(problems, rules, categories)``
    (``config``: the language settings when already read)."""
    problems: list[str] = []
    rules: list[Rule] = []
    categories: dict[str, CategoryInfo] = {}
    seen: dict[str, str] = {}
    if config is None:
        try:
            config = load_language_config(lang, root)
        except (RuleFileError, OSError):
            config = None  # the language file's own problems are reported by load_language_config
    sets: UnlessSets = config.unless_sets if config is not None else {}
    files = rule_files(lang, root)
    if not files:
        problems.append(f"{(root or lexicon_root()) / lang}:1: no rule files found")
    for path in files:
        data, loc, probs = read_yaml(path)
        if probs or loc is None:
            problems.extend(probs)
            continue
        probs = schema_problems(path, data, RULE_FILE, loc)
        if probs:
            problems.extend(probs)
            continue
        if data["lang"] != lang:
            problems.append(f"{path}:{loc.line(['lang'])}: lang is {data['lang']!r} but the file is under {lang}/")
        allowed = VIOLATION_CATEGORIES if data["kind"] == "violation" else CUE_CATEGORIES
        if data["category"] not in allowed:
            problems.append(f"{path}:{loc.line(['category'])}: category {data['category']!r} is not a {data['kind']} category")
        if data["category"] in categories:
            problems.append(f"{path}:{loc.line(['category'])}: category {data['category']!r} already defined in another file")
        file_unless, found = resolve_unless(data["defaults"].get("unless"), None, sets)
        problems.extend(f"{path}:{loc.line(['defaults', 'unless'])}: defaults: {p}" for p in found)
        unless_of: list[Unless] = []
        for k, raw in enumerate(data["rules"]):
            base = ["rules", k]
            rid = raw["id"]
            if not rid.startswith(f"{lang}."):
                problems.append(f"{path}:{loc.line(base + ['id'])}: rule id {rid!r} must start with '{lang}.'")
            if rid in seen:
                problems.append(f"{path}:{loc.line(base + ['id'])}: duplicate rule id {rid!r} (also in {seen[rid]})")
            seen[rid] = str(path)
            speaker = raw.get("speaker", data["defaults"]["speaker"])
            wanted = "agent" if raw.get("kind", data["kind"]) == "violation" else "customer"
            if speaker != wanted:
                problems.append(f"{path}:{loc.line(base + ['id'])}: rule {rid} is a {data['kind']} rule, so its speaker must be {wanted!r}, not {speaker!r}")
            pats = raw["patterns"]
            if not any(pats.get(key) for key in ("phrases", "regex", "tokens")):
                problems.append(f"{path}:{loc.line(base + ['patterns'])}: rule {rid} has no patterns")
            problems.extend(_regex_problems(path, loc, base + ["patterns"], pats))
            problems.extend(_regex_problems(path, loc, base + ["unless"], raw.get("unless") or {}))
            unless, found = resolve_unless(raw.get("unless"), file_unless, sets)
            unless_of.append(unless)
            problems.extend(f"{path}:{loc.line(base + ['unless'])}: rule {rid}: {p}" for p in found)
            if not (raw.get("examples") or {}).get("flag"):
                problems.append(f"{path}:{loc.line(base + ['examples'])}: rule {rid} needs at least one `flag` example")
        problems.extend(_regex_problems(path, loc, ["defaults", "unless"], data["defaults"].get("unless") or {}))
        for item in _build_rules(path, data, unless_of):
            if isinstance(item, CategoryInfo):
                categories[item.category] = item
            else:
                rules.append(item)
    return problems, rules, categories


def load_lexicon(lang: str, root: Path | None = None) -> Lexicon:
    """Load one language's lexicon, raising :class:`RuleFileError` on any problem."""
    if lang not in LANGUAGES:
        raise UnknownLanguageError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    root = root or lexicon_root()
    if not (root / lang).is_dir():
        raise LexiconMissingError(f"no lexicon folder {root / lang}: set ${settings.SETTINGS['lexicons'].env} to a lexicons/ folder with zh/ and en/, "
                                  "or reinstall callassist (the lexicons ship inside the package)")
    from assistant.files import fingerprint, read_cached, write_cached

    digest = fingerprint([root / lang / "_language.yaml", *rule_files(lang, root)])
    cached = _cache_path(lang, digest)
    lexicon: Lexicon | None = read_cached(cached, Lexicon)
    if lexicon is not None:
        return lexicon
    config = load_language_config(lang, root)
    problems, rules, categories = lint_lexicon(lang, root, config)
    if problems:
        raise RuleFileError(problems)
    from assistant.rules.prefilter import required_literals

    gates = {rx: required_literals(rx) for rule in rules for rx in rule.patterns.regex}
    homophones: dict[str, int] = {}
    slips: dict[str, str] = {}
    slip_words: frozenset[str] = frozenset()
    if lang == "zh":
        from assistant.rules.homophones import build_slips, build_table, lexicon_terms
        norm = language_normalizer(lang, root)
        homophones = build_table(lexicon_terms((norm(p).text for rule in rules for p in rule.patterns.phrases), gates))
        slips, slip_words = build_slips(config.sound_terms)
    word_fixes: dict[str, str] = {}
    if lang == "en":
        from assistant.rules.asr_words import build_word_fixes

        word_fixes = build_word_fixes(rules, gates, config.fillers)
    lexicon = Lexicon(lang=lang, config=config, rules=rules, categories=categories, digest=digest[:16], gates=gates,
                      homophones=homophones, word_fixes=word_fixes, slips=slips, slip_words=slip_words)
    write_cached(cached, lexicon, family=f"lexicon-{lang}-")
    return lexicon


def _cache_path(lang: str, digest: str) -> Path:
    """Where a validated lexicon is kept: keyed by the files' contents and the loader's code."""
    from assistant import __version__

    here = Path(__file__)
    code = hashlib.sha256(b"".join(here.with_name(name).read_bytes() for name in ("loader.py", "schema.py", "homophones.py", "asr_words.py"))).hexdigest()[:12]
    from assistant.files import cache_dir

    return cache_dir() / f"lexicon-{lang}-{digest[:24]}-{__version__}-{code}.pickle"

