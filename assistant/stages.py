"""Follow the stage of a collection call from both speakers' utterances and findings.

Agent lines move the call forward (never back) to the furthest stage whose marker they
contain; customer cues move it as ``scripts_library/stages.yaml`` says (a promise to pay →
commitment, distress → escalation …). ``feed(utterance, findings)`` returns a
:class:`StageChanged` when the stage changes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from assistant._yaml import read_checked
from assistant.constants import CUE_CATEGORIES, LANGUAGES, STAGES
from assistant.errors import ScriptError
from assistant.events import Finding, StageChanged, Utterance
from assistant.files import library_root
from assistant.rules.loader import language_normalizer
from assistant.text.normalize import CJK_RE

FLOW = STAGES[:-1]  # opening … closing; escalation can happen at any point


@dataclass(frozen=True)
class StageRules:
    """Markers per language and stage, and the stage each cue leads to."""

    markers: dict[str, dict[str, tuple[re.Pattern[str], ...]]]
    cue_stage: dict[str, str]
    titles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    self_intro: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)


_WORDS = {"type": "array", "items": {"type": "string"}}
_PER_LANG = {"type": "object", "propertyNames": {"enum": list(LANGUAGES)}, "additionalProperties": _WORDS}
STAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["markers"],
    "properties": {
        "markers": {"type": "object", "propertyNames": {"enum": list(LANGUAGES)},
                    "additionalProperties": {"type": "object", "propertyNames": {"enum": list(STAGES)}, "additionalProperties": _WORDS}},
        "cue_stage": {"type": "object", "propertyNames": {"enum": list(CUE_CATEGORIES)}, "additionalProperties": {"enum": list(STAGES)}},
        "titles": _PER_LANG,
        "self_intro": _PER_LANG,
    },
}


def load_stage_rules(root: Path | None = None) -> StageRules:
    """Read ``stages.yaml`` from the script library, checked against :data:`STAGE_SCHEMA`."""
    path = (root or library_root()) / "stages.yaml"
    data, _, problems = read_checked(path, STAGE_SCHEMA)
    if problems:
        raise ScriptError("invalid stage rules:\n" + "\n".join(problems[:20]))
    def pattern(marker: str, lang: str) -> re.Pattern[str]:
        text = re.escape(language_normalizer(lang)(marker).text)  # read as the checker reads: ASR fixes included
        return re.compile(text if CJK_RE.search(marker) else rf"\b{text}\b")  # Latin: whole words

    markers = {
        lang: {stage: tuple(pattern(m, lang) for m in words if m.strip()) for stage, words in stages.items()}
        for lang, stages in data["markers"].items()
    }
    titles = {lang: tuple(language_normalizer(lang)(t).text for t in words) for lang, words in (data.get("titles") or {}).items()}
    self_intro = {lang: tuple(pattern(m, lang) for m in words if m.strip()) for lang, words in (data.get("self_intro") or {}).items()}
    return StageRules(markers, dict(data.get("cue_stage") or {}), titles, self_intro)


class StageTracker:
    """The stage of one call."""

    def __init__(self, call_id: str, lang: str, rules: StageRules | None = None) -> None:
        self.call_id = call_id
        self.lang = lang
        self.rules = rules or load_stage_rules()
        self.stage = "opening"
        self.history: list[tuple[int, str]] = [(0, "opening")]
        self.by_agent = False  # whether the agent's own words moved the call into this stage
        self._norm = language_normalizer(lang)

    def _agent_stage(self, text: str) -> tuple[str, str] | None:
        t = self._norm(text).text
        hits: dict[str, str] = {}
        for stage, patterns in self.rules.markers.get(self.lang, {}).items():
            for p in patterns:
                m = p.search(t)
                if m:
                    hits[stage] = m.group()
                    break
        if "escalation" in hits and hits["escalation"] in (self.rules.titles or {}).get(self.lang, ()) and \
                any(p.search(t) for p in (self.rules.self_intro or {}).get(self.lang, ())):
            del hits["escalation"]  # "我是催收专员…", "an account specialist": a title in a self-introduction
        if "escalation" in hits and self.stage != "escalation":
            return "escalation", f"agent said «{hits['escalation']}»"
        if self.stage == "escalation":  # from an escalation only an agreement or the end moves on
            current = FLOW.index("plan_options")
        else:
            current = FLOW.index(self.stage)
        ahead = [s for s in FLOW if s in hits and FLOW.index(s) > current]
        if ahead:
            best = ahead[-1]
            return best, f"agent said «{hits[best]}»"
        return None

    def feed(self, utterance: Utterance, findings: Sequence[Finding] = ()) -> list[StageChanged]:
        """Update the stage after a final utterance and its findings."""
        move: tuple[str, str] | None = None
        if utterance.speaker == "customer":
            for f in findings:
                target = self.rules.cue_stage.get(f.category) if f.kind == "cue" else None
                if target and target != self.stage:
                    move = (target, f"customer cue {f.category}")
                    break
        else:
            move = self._agent_stage(utterance.text)
        if move is None or move[0] == self.stage:
            return []
        previous, self.stage = self.stage, move[0]
        self.by_agent = utterance.speaker == "agent"
        self.history.append((utterance.seq, self.stage))
        return [StageChanged(self.call_id, utterance.seq, self.stage, previous, move[1])]
