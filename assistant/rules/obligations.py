"""What the agent owes the customer after a cue: an answer within a few turns.

A customer cue (``dispute``, ``hardship``, ``promise_to_pay`` …) opens an obligation; an
agent line matching one of the cue's ``answered_by`` patterns in
``lexicons/<lang>/_obligations.yaml`` meets it; ``within`` agent turns without one leave it
unmet. The data is one file per language, validated like the rule files; its examples are
tests. Practice scores a trainee with it, so a trainee is judged by what the line says, not
by how many characters it shares with a script line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from assistant.constants import CUE_CATEGORIES
from assistant.errors import RuleFileError
from assistant.rules.loader import compile_regex, language_normalizer, read_language_file

FILE = "_obligations.yaml"

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lang", "within", "cues"],
    "properties": {
        "lang": {"enum": ["zh", "en"]},
        "within": {"type": "integer", "minimum": 1},
        "cues": {
            "type": "object",
            "additionalProperties": False,
            "properties": {cue: {
                "type": "object",
                "additionalProperties": False,
                "required": ["answered_by", "examples"],
                "properties": {
                    "answered_by": {**_STRINGS, "minItems": 1},
                    "within": {"type": "integer", "minimum": 1},
                    "examples": {"type": "object", "additionalProperties": False, "required": ["answers", "misses"],
                                 "properties": {"answers": {**_STRINGS, "minItems": 1}, "misses": _STRINGS}},
                },
            } for cue in CUE_CATEGORIES},
        },
    },
}


@dataclass(frozen=True)
class CueRule:
    """How one cue is answered."""

    cue: str
    answered_by: tuple[str, ...]
    within: int
    answers: tuple[str, ...] = ()
    misses: tuple[str, ...] = ()

    def answered_by_line(self, said: str) -> bool:
        """Whether an agent line, already normalised, answers the cue."""
        return any(compile_regex(p).search(said) for p in self.answered_by)


@dataclass(frozen=True)
class Obligation:
    """An open or settled obligation: the cue, the customer's utterance that raised it,
    and (once settled) the agent utterance that met it or the last one that did not."""

    cue: str
    raised_seq: int
    raised_text: str
    settled_seq: int | None = None
    met: bool | None = None


@lru_cache(maxsize=4)
def load_obligations(lang: str, root: str | None = None) -> dict[str, CueRule]:
    """The cue rules of a language (:class:`RuleFileError` naming the line of any problem)."""
    path, data, loc = read_language_file(lang, FILE, SCHEMA, root)
    within = int(data["within"])
    out = {}
    for cue, spec in data["cues"].items():
        for k, pattern in enumerate(spec["answered_by"]):
            try:
                compile_regex(pattern)
            except re.error as exc:
                raise RuleFileError([f"{path}:{loc.line(['cues', cue, 'answered_by', k])}: {cue}: bad regex: {exc}"]) from exc
        ex = spec["examples"]
        out[cue] = CueRule(cue, tuple(spec["answered_by"]), int(spec.get("within", within)), tuple(ex["answers"]), tuple(ex.get("misses") or ()))
    return out


@dataclass
class CueObligations:
    """The obligations of one call, fed utterance by utterance."""

    lang: str
    root: Path | None = None
    open: list[Obligation] = field(default_factory=list)
    _turns: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rules = load_obligations(self.lang, str(self.root) if self.root else None)
        self._norm = language_normalizer(self.lang, self.root)

    def answers(self, text: str, cue: str) -> bool:
        """Whether an agent line answers ``cue``."""
        rule = self.rules.get(cue)
        return rule is not None and rule.answered_by_line(self._norm(text).text)

    def customer(self, seq: int, text: str, cues: Iterable[str]) -> list[Obligation]:
        """A customer utterance with its cues: opens an obligation per cue not already open."""
        opened = []
        for cue in dict.fromkeys(cues):
            if cue in self.rules and not any(o.cue == cue for o in self.open):
                ob = Obligation(cue, seq, text)
                self.open.append(ob)
                self._turns[cue] = 0
                opened.append(ob)
        return opened

    def agent(self, seq: int, text: str) -> tuple[list[Obligation], list[Obligation]]:
        """An agent utterance: ``(met, missed)`` — the obligations it answers, and those
        whose last allowed turn it was."""
        met, missed, still = [], [], []
        for ob in self.open:
            self._turns[ob.cue] += 1
            if self.answers(text, ob.cue):
                met.append(Obligation(ob.cue, ob.raised_seq, ob.raised_text, seq, True))
            elif self._turns[ob.cue] >= self.rules[ob.cue].within:
                missed.append(Obligation(ob.cue, ob.raised_seq, ob.raised_text, seq, False))
            else:
                still.append(ob)
        self.open = still
        return met, missed

    def finish(self) -> list[Obligation]:
        """The end of the call: whatever is still open is unmet."""
        missed = [Obligation(o.cue, o.raised_seq, o.raised_text, None, False) for o in self.open]
        self.open = []
        return missed
