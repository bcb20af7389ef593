"""What the collector's screen shows, built from the call's events (shared by the terminal
and the browser views): the rolling transcript with each speaker's partial line, the alerts
in plain words, the stage, and the suggested lines."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from assistant.events import CallEnded, CallStarted, Finding, LowConfidence, Partial, StageChanged, Suggestion, SuggestionUsed, Utterance, Withdrawn
from assistant.views.labels import Labels, labels


@dataclass
class Alert:
    """One alert on screen."""

    finding: Finding
    status: str = "confirmed"  # provisional | confirmed | withdrawn

    def to_dict(self, text: Labels, verbose: bool) -> dict[str, Any]:
        """Plain words for the screen (rule ids and offsets only when ``verbose``)."""
        f = self.finding
        out = {"status": self.status, "kind": f.kind, "severity": f.severity, "severity_label": text.severity(f.severity),
               "category": text.category(f.category), "matched": f.matched, "say_instead": f.suggestion if f.kind == "violation" else "",
               "speaker": f.speaker, "seq": f.seq, "low_confidence": f.low_confidence}
        if verbose:
            out.update(rule_id=f.rule_id, span=[f.start, f.end], citation=f.citation)
        return out


@dataclass
class LiveState:
    """The screen of one call."""

    lang: str = "zh"
    verbose: bool = False
    max_lines: int = 12
    call_id: str = ""
    lines: deque[Any] = field(init=False)
    partial: dict[str, str] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    contact: list[Finding] = field(default_factory=list)  # contact rules the call breaks: a banner over the screen
    stage: str = "opening"
    suggestions: list[Suggestion] = field(default_factory=list)
    unsure: dict[int, str] = field(default_factory=dict)  # utterance seq → why it is low confidence
    ended: str = ""
    version: int = 0

    def __post_init__(self) -> None:
        self.lines = deque(maxlen=self.max_lines)
        self.text = labels(self.lang)

    def apply(self, event: Any) -> bool:
        """Update from one event; True when the screen changed."""
        if isinstance(event, CallStarted):
            self.call_id, self.lang = event.call_id, event.lang
            self.text = labels(event.lang)
        elif isinstance(event, Partial):
            if self.partial.get(event.speaker) == event.text:
                return False
            self.partial[event.speaker] = event.text
        elif isinstance(event, Utterance):
            self.partial.pop(event.speaker, None)
            self.lines.append(event)
        elif isinstance(event, Finding) and event.kind == "contact" and not event.case_update:
            self.contact.append(event)
        elif isinstance(event, Finding):
            if not event.provisional:  # the final's finding replaces its provisional alert
                self.alerts = [a for a in self.alerts if not (a.status == "provisional" and a.finding.speaker == event.speaker
                                                              and a.finding.category == event.category)]
            self.alerts.append(Alert(event, "provisional" if event.provisional else "confirmed"))
            self.alerts = self.alerts[-8:]
        elif isinstance(event, Withdrawn):
            for a in self.alerts:
                if a.status == "provisional" and a.finding == event.finding:
                    a.status = "withdrawn"
        elif isinstance(event, LowConfidence):
            self.unsure[event.seq] = event.reason
        elif isinstance(event, StageChanged):
            self.stage = event.stage
        elif isinstance(event, Suggestion):
            if not self.suggestions or self.suggestions[0].seq != event.seq:
                self.suggestions = []
            self.suggestions.append(event)
        elif isinstance(event, SuggestionUsed):
            self.suggestions = [s for s in self.suggestions if s.line_id != event.line_id]
        elif isinstance(event, CallEnded):
            self.ended = event.status
            self.partial.clear()
        else:
            return False
        self.version += 1
        return True

    def to_dict(self) -> dict[str, Any]:
        """The screen as plain data (the browser view renders it)."""
        t = self.text
        return {
            "version": self.version,
            "lang": self.lang,
            "call_id": self.call_id,
            "labels": {k: t[k] for k in t.data["text"]},
            "stage": t.stage(self.stage),
            "lines": [{"speaker": t.speaker(u.speaker), "role": u.speaker, "start": round(u.start, 1), "text": u.text,
                       "low_confidence": self.unsure.get(u.seq, "")} for u in self.lines],
            "partial": [{"speaker": t.speaker(s), "role": s, "text": p} for s, p in sorted(self.partial.items())],
            "alerts": [a.to_dict(t, self.verbose) for a in reversed(self.alerts)],
            "contact": [{"category": t.category(f.category), "severity": f.severity, "severity_label": t.severity(f.severity),
                         "explanation": f.explanation, **({"rule_id": f.rule_id, "citation": f.citation} if self.verbose else {})}
                        for f in self.contact],
            "suggestions": [{"key": k, "text": s.text, **({"line_id": s.line_id, "reason": s.reason} if self.verbose else {})}
                            for k, s in enumerate(self.suggestions[:3], 1)],
            "ended": t.status(self.ended) if self.ended else "",
        }
