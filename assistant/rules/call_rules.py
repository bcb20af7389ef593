"""Call-level rules: what must be said in a call, and what must follow what the customer said.

Line rules judge one utterance. These judge the call so far, and keep state between turns:

- ``opening``: elements (institution, agent, purpose …) that must all be said within the
  first agent turns of the call, or of the turns after the right party was verified;
- ``before_right_party``: talk of the debt before the callee said they are the debtor;
- ``wrong_party``: talk of the debt after the callee turned out not to be the debtor (a
  ``wrong_party`` cue, or ``callee_role`` in the case);
- ``after_cue``: a customer cue (``dispute``, ``attorney``, ``distress`` …) opens an
  obligation that an agent line answering it (``_obligations.yaml``) meets; pressing for
  payment before it is answered breaks it at once, and ``within`` agent turns without an
  answer leave it missed;
- ``voicemail``: a message left where others may hear it must hold the required elements
  and nothing that names the debt.

A finding is raised the moment an obligation is broken (live) and, at the end of the call,
for whatever is still owed. Each one names the utterance that opened the obligation and the
one that broke it (``extra["opened_by"]``, ``extra["broken_by"]``). The rules are data:
``lexicons/<lang>/call/rules.yaml``, validated like the line rules; their example calls are
tests (:func:`run_example`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from assistant.constants import CUE_CATEGORIES, LANGUAGES, SEVERITIES
from assistant.errors import RuleFileError
from assistant.events import Finding, Severity, Speaker, Utterance, as_kind, as_severity, as_speaker
from assistant.rules.loader import compile_regex, language_normalizer, read_language_file
from assistant.rules.obligations import load_obligations

FILE = "call/rules.yaml"
CHECKS = ("opening", "before_right_party", "wrong_party", "after_cue", "voicemail")
# callee roles (catalogue `callee_role`) with whom the debt may be discussed; any other named
# role makes the call a wrong-party call from its start
CONSUMER_ROLES = {"zh": ("debtor", "guarantor"), "en": ("debtor", "spouse", "attorney", "guardian", "executor")}

# what broke, in the call's language (the collector's screen speaks it)
MESSAGES: dict[str, dict[str, str]] = {
    "zh": {"not_said": "未说：{names}。", "granted": "客户约定的联系时段: {window}", "refused": "客户不便接听的时段: {window}", "broken": "发生在客户{cue}之后（第 {opened} 句）。",
           "unanswered": "客户{cue}（第 {opened} 句）后 {within} 轮坐席发言内未回应。", "never": "客户{cue}（第 {opened} 句）直到通话结束都未回应。"},
    "en": {"not_said": "Not said: {names}.", "granted": "Time the customer agreed to be called: {window}",
           "refused": "Time the customer said not to call: {window}", "broken": "After the customer's {cue} (utterance {opened}).",
           "unanswered": "No answer to the customer's {cue} (utterance {opened}) within {within} agent turns.",
           "never": "The customer's {cue} (utterance {opened}) was never answered."},
}

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_LINES = {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[AC]: ."}}
_EXAMPLE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["call"],
    "properties": {
        "call": _LINES,
        "case": {"type": "object"},
        "at": {"oneOf": [{"type": "integer", "minimum": 1}, {"const": "end"}]},
        "note": {"type": "string"},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lang", "terms", "rules"],
    "properties": {
        "lang": {"enum": list(LANGUAGES)},
        "terms": {
            "type": "object",
            "required": ["debt", "collecting", "identity_ask", "confirm"],
            "additionalProperties": {**_STRINGS, "minItems": 1},
        },
        "case_notes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "category", "cue", "update", "explanation"],
                "properties": {
                    "id": {"type": "string", "pattern": r"^(zh|en)\.call\.note_[a-z_]+$"},
                    "category": {"type": "string", "pattern": r"^contact\.[a-z_]+$"},
                    "cue": {"enum": list(CUE_CATEGORIES)},
                    "pattern_only": {"type": "boolean"},
                    "requires": {"type": "array", "items": {"type": "string"}},
                    "unless": {"type": "array", "items": {"type": "string"}},
                    "update": {"type": "object", "minProperties": 1},
                    "explanation": {"type": "string", "minLength": 1},
                },
            },
        },
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "category", "kind", "severity", "check", "catalogue", "citation", "verification",
                             "explanation", "say_instead", "examples"],
                "properties": {
                    "id": {"type": "string", "pattern": r"^(zh|en)\.call\.[a-z_]+$"},
                    "category": {"type": "string", "pattern": r"^(missing|contact)\.[a-z_]+$|^[a-z_]+$"},
                    "kind": {"enum": ["missing", "violation", "contact"]},  # not cue: call rules judge the agent
                    "severity": {"enum": list(SEVERITIES)},
                    "check": {"enum": list(CHECKS)},
                    "catalogue": {"type": "array", "items": {"type": "string"}},
                    "citation": {"type": "string"},
                    "verification": {"type": "string", "minLength": 1},
                    "explanation": {"type": "string", "minLength": 1},
                    "say_instead": {"type": "string", "minLength": 1},
                    "within": {"type": "integer", "minimum": 1},
                    "after_right_party": {"type": "boolean"},
                    "when_case": {"type": "object", "additionalProperties": {"type": "array"}},
                    "elements": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name", "patterns"],
                            "properties": {"name": {"type": "string"}, "patterns": {**_STRINGS, "minItems": 1},
                                           "when_case": {"type": "string"}},
                        },
                    },
                    "cues": {"type": "array", "items": {"enum": list(CUE_CATEGORIES)}},
                    "breaks_with": {"type": "array", "items": {"type": "string"}},
                    "keeps_after_answer": {"type": "boolean"},
                    "forbids": {"type": "array", "items": {"type": "string"}},
                    "examples": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["raise", "pass"],
                        "properties": {"raise": {"type": "array", "minItems": 1, "items": _EXAMPLE},
                                       "pass": {"type": "array", "minItems": 1, "items": _EXAMPLE}},
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Element:
    """Something that must be said (``when_case``: only when the case has this field set)."""

    name: str
    patterns: tuple[str, ...]
    when_case: str = ""


@dataclass(frozen=True)
class CallExample:
    """An example call: ``(speaker, text)`` lines, its case, and the line (1-based) at which
    the rule must be raised (``None``: at the end of the call)."""

    lines: tuple[tuple[Speaker, str], ...]
    case: Mapping[str, Any]
    at: int | None = None
    note: str = ""


@dataclass(frozen=True)
class CallRule:
    """One call-level rule family."""

    id: str
    category: str
    kind: str
    severity: Severity
    check: str
    catalogue: tuple[str, ...]
    citation: str
    verification: str
    explanation: str
    say_instead: str
    within: int = 2
    after_right_party: bool = False
    when_case: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    elements: tuple[Element, ...] = ()
    cues: tuple[str, ...] = ()
    breaks_with: tuple[str, ...] = ()
    keeps_after_answer: bool = False
    forbids: tuple[str, ...] = ()
    raises: tuple[CallExample, ...] = ()
    passes: tuple[CallExample, ...] = ()

    def applies(self, case: Mapping[str, Any]) -> bool:
        """Whether the case meets the rule's ``when_case`` conditions (``null`` allows a missing field)."""
        return all(case.get(key) in allowed for key, allowed in self.when_case.items())


@dataclass(frozen=True)
class CaseNote:
    """What a customer cue changes on the case (``attorney_on_file``, an opted-out medium …):
    the archive writes ``update`` onto the case, and the contact rules read it."""

    id: str
    category: str
    cue: str
    update: Mapping[str, Any]
    explanation: str
    pattern_only: bool = False  # only a cue the patterns found (not the meaning layer's)
    requires: tuple[str, ...] = ()  # term sets the line must match
    unless: tuple[str, ...] = ()  # term sets it must not


@dataclass(frozen=True)
class CallRuleSet:
    """A language's call rules, case notes and the named term sets they share."""

    lang: str
    terms: Mapping[str, tuple[str, ...]]
    rules: tuple[CallRule, ...]
    notes: tuple[CaseNote, ...] = ()


def _example(spec: Mapping[str, Any]) -> CallExample:
    lines = tuple((as_speaker("agent" if s[0] == "A" else "customer"), s[3:].strip()) for s in spec["call"])
    at = spec.get("at", "end")
    return CallExample(lines, dict(spec.get("case") or {}), None if at == "end" else int(at), str(spec.get("note", "")))


@lru_cache(maxsize=4)
def load_call_rules(lang: str, root: str | None = None) -> CallRuleSet:
    """The call rules of a language (:class:`RuleFileError` naming the line of every problem)."""
    path, data, loc = read_language_file(lang, FILE, SCHEMA, root)
    problems: list[str] = []
    terms = {name: tuple(patterns) for name, patterns in data["terms"].items()}
    for name, patterns in terms.items():
        for k, pattern in enumerate(patterns):
            try:
                compile_regex(pattern)
            except re.error as exc:
                problems.append(f"{path}:{loc.line(['terms', name, k])}: terms.{name}: bad regex {pattern!r}: {exc}")
    rules, seen = [], set()
    cues = load_obligations(lang, root)
    for i, spec in enumerate(data["rules"]):
        where = f"{path}:{loc.line(['rules', i])}: {spec['id']}"
        if spec["id"] in seen:
            problems.append(f"{where}: the id is used twice")
        seen.add(spec["id"])
        if not spec["id"].startswith(f"{lang}.call."):
            problems.append(f"{where}: a {lang} call rule id starts with {lang}.call.")
        for name in [*spec.get("breaks_with", []), *spec.get("forbids", [])]:
            if name not in terms:
                problems.append(f"{where}: no term set {name!r} (known: {', '.join(sorted(terms))})")
        for cue in spec.get("cues", []):
            if cue not in cues:
                problems.append(f"{where}: cue {cue!r} has no answers in {lang}/_obligations.yaml")
        needs = {"opening": "elements", "voicemail": "elements", "after_cue": "cues"}.get(spec["check"])
        if needs and not spec.get(needs):
            problems.append(f"{where}: a {spec['check']} rule needs {needs}")
        if not spec["citation"] and "no regulation" not in spec["verification"]:
            problems.append(f"{where}: no citation: say in verification that no regulation in the catalogue backs it")
        elements = []
        for j, el in enumerate(spec.get("elements", [])):
            for k, pattern in enumerate(el["patterns"]):
                try:
                    compile_regex(pattern)
                except re.error as exc:
                    problems.append(f"{path}:{loc.line(['rules', i, 'elements', j, 'patterns', k])}: bad regex {pattern!r}: {exc}")
            elements.append(Element(el["name"], tuple(el["patterns"]), el.get("when_case", "")))
        rules.append(CallRule(
            spec["id"], spec["category"], as_kind(spec["kind"]), as_severity(spec["severity"]), spec["check"], tuple(spec["catalogue"]),
            spec["citation"], spec["verification"], spec["explanation"].strip(), spec["say_instead"].strip(), int(spec.get("within", 2)),
            bool(spec.get("after_right_party", False)), {k: tuple(v) for k, v in (spec.get("when_case") or {}).items()}, tuple(elements),
            tuple(spec.get("cues", ())), tuple(spec.get("breaks_with", ())), bool(spec.get("keeps_after_answer", False)),
            tuple(spec.get("forbids", ())), tuple(_example(e) for e in spec["examples"]["raise"]),
            tuple(_example(e) for e in spec["examples"]["pass"])))
    notes = []
    for i, spec in enumerate(data.get("case_notes") or []):
        for name in [*spec.get("requires", []), *spec.get("unless", [])]:
            if name not in terms:
                problems.append(f"{path}:{loc.line(['case_notes', i])}: {spec['id']}: no term set {name!r}")
        notes.append(CaseNote(spec["id"], spec["category"], spec["cue"], dict(spec["update"]), spec["explanation"].strip(),
                              bool(spec.get("pattern_only", False)), tuple(spec.get("requires", ())), tuple(spec.get("unless", ()))))
    if problems:
        raise RuleFileError(problems)
    return CallRuleSet(lang, terms, tuple(rules), tuple(notes))


@dataclass
class _Obligation:
    rule: CallRule
    cue: str
    opened_by: int
    opened_text: str
    turns: int = 0
    answered: bool = False


class CallRules:
    """The call rules of one call, fed turn by turn (``turn``), then ``finish``.

    ``case`` is the case file (``callee_role``, ``outsourced_agency``,
    ``initial_communication``, ``channel``, ``right_party_verified`` …); ``meta`` the call's
    details (a ``channel`` of ``voicemail`` there counts too).
    """

    def __init__(self, lang: str, case: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None,
                 root: Path | None = None) -> None:
        self.lang = lang
        self.case = dict(case or {})
        self.ruleset = load_call_rules(lang, str(root) if root else None)
        self.cue_rules = load_obligations(lang, str(root) if root else None)
        self._norm = language_normalizer(lang, root)
        self.say = MESSAGES.get(lang, MESSAGES["en"])
        channel = str(self.case.get("channel") or (meta or {}).get("channel") or "")
        self.voicemail = channel == "voicemail"
        self.rules = [r for r in self.ruleset.rules if r.applies(self.case) and (r.check == "voicemail") == self.voicemail]
        role = str(self.case.get("callee_role") or "")
        self.party = "unknown"  # unknown → verified | wrong
        if role and role not in CONSUMER_ROLES.get(lang, ("debtor",)) and role != "unknown":
            self.party = "wrong"
        elif self.case.get("right_party_verified") is True:
            self.party = "verified"
        self.asked = False  # the agent asked whether this is the debtor
        self.agent_turns = 0
        self.turns_since_verified = 0
        self.said: dict[str, set[str]] = {r.id: set() for r in self.rules}
        self.done: set[str] = set()  # opening / once-per-call rules settled (met or raised)
        self.open: list[_Obligation] = []
        self.last_seq = 0
        self.last_text = ""
        self.heard: list[str] = []  # a voicemail's lines, judged whole at its end

    # ---- matching --------------------------------------------------------------------------
    def _has(self, said: str, names: Iterable[str]) -> bool:
        return any(compile_regex(p).search(said) for n in names for p in self.ruleset.terms.get(n, ()))

    def _required(self, rule: CallRule) -> list[Element]:
        return [e for e in rule.elements if not e.when_case or self.case.get(e.when_case)]

    def _finding(self, rule: CallRule, seq: int, text: str, detail: str, **extra: Any) -> Finding:
        return Finding(
            as_kind(rule.kind), rule.category, rule.id, rule.severity, 0, len(text), text[:120],
            citation=rule.citation, explanation=f"{rule.explanation} {detail}".strip(), suggestion=rule.say_instead,
            extra={"call_rule": True, "catalogue": list(rule.catalogue), "verification": rule.verification, **extra},
            seq=seq)

    # ---- the call ----------------------------------------------------------------------------
    def turn(self, utt: Utterance, findings: Sequence[Finding] = ()) -> list[Finding]:
        """One final utterance with its line findings (the customer's cues among them)."""
        said = self._norm(utt.text).text
        self.last_seq, self.last_text = utt.seq, utt.text
        if utt.speaker == "customer":
            return self._customer(utt, said, [f for f in findings if f.kind == "cue"])
        return self._agent(utt, said)

    def _customer(self, utt: Utterance, said: str, found: list[Finding]) -> list[Finding]:
        """Who is on the line, what the customer changed on the case, and the obligations
        their cues open."""
        if self.party != "verified" and self._has(said, ["consumer_role"]):  # a spouse (US), a guarantor (CN) …
            self.party = "verified"
        else:
            confirms = self.asked and self._has(said, ["confirm"])
            # a pattern's wrong_party wins; the meaning layer's only when the line is no "yes, it's me"
            if any(f.category == "wrong_party" and (f.source == "rule" or not confirms) for f in found):
                self.party = "wrong"
            elif self.party == "unknown" and confirms:
                self.party = "verified"
        out = self._time_window(utt, said) + self._notes(utt, said, found)
        for rule in self.rules:
            if rule.check != "after_cue":
                continue
            for cue in (f.category for f in found):
                if cue in rule.cues and not any(o.rule.id == rule.id and not o.answered for o in self.open):
                    self.open.append(_Obligation(rule, cue, utt.seq, utt.text))
        return out

    def _notes(self, utt: Utterance, said: str, found: Sequence[Finding]) -> list[Finding]:
        """What the customer's cues change on the case (``case_notes``): ``info`` contact
        findings whose ``case_update`` the archive writes onto the case."""
        out = []
        for note in self.ruleset.notes:
            if not any(f.category == note.cue and (f.source == "rule" or not note.pattern_only) for f in found):
                continue
            if (note.requires and not all(self._has(said, [n]) for n in note.requires)) or (note.unless and self._has(said, note.unless)):
                continue
            out.append(Finding("contact", note.category, note.id, "info", 0, len(utt.text), utt.text[:120], explanation=note.explanation,
                               extra={"call_rule": True, "case_update": dict(note.update)}, seq=utt.seq))
        return out

    def _time_window(self, utt: Utterance, said: str) -> list[Finding]:
        """A time of day the customer grants or refuses for calls: an ``info`` contact finding
        whose ``case_update`` the archive writes onto the case (the contact rules read it)."""
        from assistant.rules.time_windows import time_window

        refused = self._has(said, ["refuse_window"])
        if not refused and not self._has(said, ["grant_window"]):
            return []
        window = time_window(self.lang, said, granted=not refused)
        if window is None:
            return []
        field_name = "inconvenient_times" if refused else "consent_time_windows"
        return [Finding("contact", "contact.time_window", f"{self.lang}.call.time_window", "info", 0, len(utt.text), utt.text[:120],
                        explanation=self.say["refused" if refused else "granted"].format(window=window),
                        extra={"call_rule": True, "case_update": {field_name: [window]}}, seq=utt.seq)]

    def _agent(self, utt: Utterance, said: str) -> list[Finding]:
        out: list[Finding] = []
        self.agent_turns += 1
        if self.party == "verified":
            self.turns_since_verified += 1
        if self.voicemail:
            self.heard.append(said)
        talks_debt = self._has(said, ["debt"])
        for rule in self.rules:
            if rule.id in self.done:
                continue
            if rule.check == "opening":
                out += self._opening(rule, utt, said)
            elif rule.check == "before_right_party" and talks_debt and self.party == "unknown":
                self.done.add(rule.id)
                out.append(self._finding(rule, utt.seq, utt.text, "", broken_by=utt.seq))
            elif rule.check == "wrong_party" and talks_debt and self.party == "wrong":
                out.append(self._finding(rule, utt.seq, utt.text, "", broken_by=utt.seq))
            elif rule.check == "voicemail" and rule.forbids and self._has(said, rule.forbids):
                self.done.add(rule.id)
                out.append(self._finding(rule, utt.seq, utt.text, "", broken_by=utt.seq, names_the_debt=True))
        out += self._obligations(utt, said)
        if self._has(said, ["identity_ask"]):
            self.asked = True
        return out

    def _opening(self, rule: CallRule, utt: Utterance, said: str) -> list[Finding]:
        if rule.after_right_party and self.party != "verified":
            return []
        counted = self.turns_since_verified if rule.after_right_party else self.agent_turns
        if counted > rule.within:
            return []
        required = self._required(rule)
        met = self.said[rule.id]
        met.update(e.name for e in required if any(compile_regex(p).search(said) for p in e.patterns))
        if all(e.name in met for e in required):
            self.done.add(rule.id)
            return []
        if counted == rule.within:
            self.done.add(rule.id)
            return [self._missing(rule, utt.seq, utt.text)]
        return []

    def _missing(self, rule: CallRule, seq: int, text: str, **extra: Any) -> Finding:
        absent = [e.name for e in self._required(rule) if e.name not in self.said[rule.id]]
        return self._finding(rule, seq, text, self.say["not_said"].format(names=("、" if self.lang == "zh" else ", ").join(absent)),
                             missing=absent, broken_by=seq, **extra)

    def _cue(self, cue: str) -> str:
        from assistant.views.labels import labels

        return labels(self.lang).category(cue) if self.lang == "zh" else cue.replace("_", " ")

    def _obligations(self, utt: Utterance, said: str) -> list[Finding]:
        out, still = [], []
        for ob in self.open:
            rule = ob.rule
            if not ob.answered and any(c in self.cue_rules and self.cue_rules[c].answered_by_line(said) for c in rule.cues):  # the family's answers
                ob.answered = True
                if rule.keeps_after_answer:
                    still.append(ob)
                continue
            if rule.breaks_with and self._has(said, rule.breaks_with):
                out.append(self._finding(rule, utt.seq, utt.text, self.say["broken"].format(cue=self._cue(ob.cue), opened=ob.opened_by),
                                         cue=ob.cue, opened_by=ob.opened_by, broken_by=utt.seq))
                continue
            ob.turns += 1
            if not ob.answered and ob.turns >= rule.within:
                out.append(self._finding(rule, utt.seq, utt.text,
                                         self.say["unanswered"].format(cue=self._cue(ob.cue), opened=ob.opened_by, within=rule.within),
                                         cue=ob.cue, opened_by=ob.opened_by, broken_by=utt.seq))
                continue
            still.append(ob)
        self.open = still
        return out

    def finish(self) -> list[Finding]:
        """The end of the call: whatever is still owed."""
        out: list[Finding] = []
        for rule in self.rules:
            if rule.id in self.done:
                continue
            if rule.check == "opening" and (not rule.after_right_party or self.party == "verified") and self.agent_turns:
                self.done.add(rule.id)
                out.append(self._missing(rule, self.last_seq, self.last_text, at_end=True))
            elif rule.check == "voicemail" and self.heard:
                said = " ".join(self.heard)
                self.said[rule.id] = {e.name for e in self._required(rule) if any(compile_regex(p).search(said) for p in e.patterns)}
                if len(self.said[rule.id]) < len(self._required(rule)):
                    self.done.add(rule.id)
                    out.append(self._missing(rule, self.last_seq, self.last_text, at_end=True))
        for ob in self.open:
            if not ob.answered:
                out.append(self._finding(ob.rule, self.last_seq, self.last_text,
                                         self.say["never"].format(cue=self._cue(ob.cue), opened=ob.opened_by),
                                         cue=ob.cue, opened_by=ob.opened_by, broken_by=None, at_end=True))
        self.open = []
        return out


def run_example(lang: str, example: CallExample, checker: Any = None, root: Path | None = None) -> list[Finding]:
    """The call findings of an example call, with the customer's cues from the line checker
    (``checker``: an :class:`assistant.checker.Checker`, built when not given)."""
    if checker is None:
        from assistant.checker import Checker

        checker = Checker(lang)
    rules = CallRules(lang, example.case, root=root)
    out: list[Finding] = []
    for seq, (speaker, text) in enumerate(example.lines, 1):
        found = checker.check(text, speaker, lang=lang)
        out += rules.turn(Utterance("example", seq, speaker, float(seq), float(seq) + 0.5, text), found)
    return out + [f for f in rules.finish()]
