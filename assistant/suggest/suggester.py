"""Choose the next lines for the agent after each final utterance.

Order of preference, each with its reason:
1. after an agent violation: the library's compliant rewrites for that category (then
   the rule's own rewrite if the library has none);
2. lines answering the customer's latest cues (most recent first), preferring the stage;
3. lines of the current stage that answer no cue.
Lines must suit the overdue rung, render with the case's values, and not repeat a line
already said in this call (said = offered and then spoken, or spoken nearly word for word).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from assistant.constants import STAGES
from assistant.errors import ScriptError
from assistant.events import Finding, Suggestion, Utterance
from assistant.rules.loader import language_normalizer
from assistant.suggest.library import ScriptLine, ladder_rung, render
from assistant.text.normalize import Normalizer

_TONE_ORDER = {3: ("warm", "neutral", "firm"), 7: ("neutral", "warm", "firm"), 15: ("neutral", "firm", "warm"), 30: ("firm", "neutral", "warm")}


def char_pairs(text: str) -> set[str]:
    """Neighbouring-character pairs of the letters and digits of ``text`` (for similarity)."""
    t = "".join(ch for ch in text if ch.isalnum())
    return {t[i : i + 2] for i in range(len(t) - 1)} or {t}


@dataclass
class Suggester:
    """Suggestions for one call (``lines`` of its language, ``case`` its variable values)."""

    call_id: str
    lines: Sequence[ScriptLine]
    case: Mapping[str, Any]
    days_overdue: int | None = None
    top: int = 3
    said: set[str] = field(default_factory=set)
    recent_cues: list[str] = field(default_factory=list)
    cue_age: dict[str, int] = field(default_factory=dict)  # agent turns since the cue was raised
    cue_words: dict[str, str] = field(default_factory=dict)  # what the customer said when the cue was raised (normalised)

    def __post_init__(self) -> None:
        self._norm = language_normalizer(self.lines[0].lang) if self.lines else Normalizer()
        self._rendered: dict[str, str] = {}
        for line in self.lines:
            try:
                self._rendered[line.id] = render(line, self.case)
            except ScriptError:
                continue  # the case lacks a value this line needs: it is not offered
        self._pairs = {lid: char_pairs(self._norm(text).text) for lid, text in self._rendered.items()}
        self._tone_rank = {tone: k for k, tone in enumerate(_TONE_ORDER[ladder_rung(self.days_overdue or 0)])}
        self._order = {line.id: k for k, line in enumerate(self.lines)}  # the trainers' order of preference

    def mark_said(self, line_id: str) -> None:
        """Record that the agent used a line (e.g. clicked it)."""
        self.said.add(line_id)

    def _spoken(self, text: str) -> None:
        """Mark as said any rendered line the agent just spoke nearly word for word."""
        mine = char_pairs(self._norm(text).text)
        for lid, pairs in self._pairs.items():
            if lid not in self.said and pairs and len(mine & pairs) / len(pairs) >= 0.6:
                self.said.add(lid)

    def _usable(self, line: ScriptLine) -> bool:
        return line.id in self._rendered and line.id not in self.said and line.fits(self.days_overdue)

    def _key(self, line: ScriptLine, stage: str) -> tuple[Any, ...]:
        """Stage lines: the tone that suits the overdue rung first, then the library's order."""
        return (line.stage != stage, self._tone_rank.get(line.tone, 9), self._order[line.id])

    def feed(self, utterance: Utterance, findings: Sequence[Finding], stage: str, stage_done: bool = False) -> list[Suggestion]:
        """Suggestions after ``utterance`` (with its findings) in ``stage``.

        ``stage_done``: the agent's own words brought the call into this stage, so the
        next stage's lines come first.
        """
        if utterance.speaker == "agent":
            self._spoken(utterance.text)
            for cue in list(self.recent_cues):  # a cue is settled once answered, or after two agent turns
                self.cue_age[cue] = self.cue_age.get(cue, 0) + 1
                answered = any(cue in x.cues and x.id in self.said for x in self.lines)
                if answered or self.cue_age[cue] >= 2:
                    self.recent_cues.remove(cue)
        else:
            for f in findings:
                if f.kind == "cue":
                    self.cue_words[f.category] = self._norm(utterance.text).text
                    if f.category in self.recent_cues:
                        self.recent_cues.remove(f.category)
                    self.recent_cues.insert(0, f.category)
                    self.cue_age[f.category] = 0
            del self.recent_cues[3:]
        chosen: list[tuple[ScriptLine | None, str, str]] = []  # (line, text, reason)
        taken: set[str] = set()

        def take(line: ScriptLine, reason: str) -> None:
            if len(chosen) < self.top and line.id not in taken:
                taken.add(line.id)
                chosen.append((line, self._rendered[line.id], reason))

        violations = [f for f in findings if f.kind == "violation"] if utterance.speaker == "agent" else []
        for f in violations:
            fixes = sorted((x for x in self.lines if f.category in x.after_violation and self._usable(x)), key=lambda x: self._key(x, stage))
            for line in fixes[:1]:
                take(line, f"compliant rewrite after {f.category} ({f.rule_id})")
            if not fixes and f.suggestion and len(chosen) < self.top:
                chosen.append((None, f.suggestion, f"the rule's compliant rewrite after {f.category} ({f.rule_id})"))
        for cue in self.recent_cues:
            # answers keep the library's order: trainers put the first thing to say first
            said = self.cue_words.get(cue, "")
            answers = sorted((x for x in self.lines if cue in x.cues and self._usable(x) and x.suits(said)), key=lambda x: self._order[x.id])
            for line in answers[:2]:
                take(line, f"answers the customer's {cue}")
        flow = STAGES[:-1]
        following = flow[flow.index(stage) + 1] if stage in flow[:-1] else None
        procedural = stage in ("opening", "verification", "disclosure")  # said once, then done
        order = [following, stage] if stage_done and procedural and following else [stage, following]
        for name in order:
            if name is None:
                continue
            staged = sorted((x for x in self.lines if x.stage == name and not x.cues and not x.after_violation and self._usable(x)),
                            key=lambda x: self._key(x, name))
            for line in staged:
                take(line, f"fits the {name} stage" if name == stage else f"next: the {name} stage")
        out = []
        for picked, text, reason in chosen:
            lid = picked.id if picked else f"rule:{reason.split('(')[-1].rstrip(')')}"
            out.append(Suggestion(self.call_id, utterance.seq, lid, text, reason, stage))
        return out
