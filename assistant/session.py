"""One call end to end above speech recognition: check, track the stage, suggest, archive.

``CallSession.feed(utterance)`` is synchronous and returns the events it produced:
the findings, a :class:`StageChanged` if any, and the :class:`Suggestion` list. With an
archive, every utterance, finding and shown suggestion is recorded as it happens.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from assistant.checker import Checker
from assistant.events import Finding, StageChanged, Suggestion, Utterance
from assistant.stages import StageRules, StageTracker
from assistant.suggest.library import ScriptLine, load_library
from assistant.suggest.suggester import Suggester


@dataclass
class Turn:
    """What one utterance produced."""

    utterance: Utterance
    findings: list[Finding]
    stage: list[StageChanged]
    suggestions: list[Suggestion]


@dataclass
class CallSession:
    """Everything above ASR for one call."""

    call_id: str
    lang: str
    case: Mapping[str, Any] = field(default_factory=dict)
    days_overdue: int | None = None
    checker: Checker | None = None
    lines: list[ScriptLine] | None = None
    stage_rules: StageRules | None = None
    archive: Any = None  # assistant.archive.Archive, written to when given
    top: int = 3

    def __post_init__(self) -> None:
        self.checker = self.checker or Checker(self.lang)
        lines = self.lines if self.lines is not None else load_library(self.lang)[0]
        if self.days_overdue is None and self.case.get("days_overdue") is not None:
            self.days_overdue = int(self.case["days_overdue"])
        self.tracker = StageTracker(self.call_id, self.lang, self.stage_rules)
        self.suggester = Suggester(self.call_id, lines, self.case, self.days_overdue, self.top)
        self.turns: list[Turn] = []

    @property
    def stage(self) -> str:
        """The current stage."""
        return self.tracker.stage

    def feed(self, utterance: Utterance) -> Turn:
        """Check a final utterance, update the stage, choose suggestions (and archive them)."""
        assert self.checker is not None
        findings = self.checker.check(utterance.text, utterance.speaker, lang=self.lang)
        changed = self.tracker.feed(utterance, findings)
        suggestions = self.suggester.feed(utterance, findings, self.tracker.stage, self.tracker.by_agent)
        if self.archive is not None:
            self.archive.add_utterance(self.call_id, utterance)
            for f in findings:
                self.archive.add_finding(self.call_id, utterance.seq, f)
            for s in suggestions:
                self.archive.add_suggestion(self.call_id, utterance.seq, s.line_id, s.text, "shown")
        turn = Turn(utterance, findings, changed, suggestions)
        self.turns.append(turn)
        return turn

    def use(self, line_id: str, seq: int) -> None:
        """The agent used a suggested line (recorded as used, never offered again)."""
        self.suggester.mark_said(line_id)
        if self.archive is not None:
            text = next((s.text for t in self.turns for s in t.suggestions if s.line_id == line_id), "")
            self.archive.add_suggestion(self.call_id, seq, line_id, text, "used")
