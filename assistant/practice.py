"""Role-play practice: a scripted customer persona speaks, the trainee answers as the agent,
and gets live flags, suggestions and an end-of-session score with what to improve."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from assistant.checker import Checker
from assistant.constants import CUE_CATEGORIES, STAGES
from assistant.errors import ScriptError
from assistant.events import Utterance
from assistant.files import library_root, load_mapping
from assistant.pipeline import CallPipeline, Turn

PENALTY = {"critical": 30, "major": 20, "minor": 10, "info": 0}


@dataclass(frozen=True)
class Scenario:
    """A practice scenario: persona, case values and the customer's lines."""

    id: str
    lang: str
    title: str
    persona: str
    case: dict[str, Any]
    turns: tuple[dict[str, Any], ...]
    goals: tuple[str, ...]


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    p = Path(path)
    data = load_mapping(p, "scenario", ScriptError)
    missing = [k for k in ("lang", "title", "persona", "case", "turns") if k not in data]
    if missing:
        raise ScriptError(f"{p}: missing {', '.join(missing)}")
    if data["lang"] not in ("zh", "en"):
        raise ScriptError(f"{p}: lang is zh or en")
    for k, turn in enumerate(data["turns"], 1):
        if not isinstance(turn, dict) or not str(turn.get("say", "")).strip():
            raise ScriptError(f"{p}: turn {k} needs `say:`")
        for cue in turn.get("cues", []):
            if cue not in CUE_CATEGORIES:
                raise ScriptError(f"{p}: turn {k}: unknown cue {cue!r}")
    goals = tuple(data.get("goals", ()))
    for goal in goals:
        if goal not in STAGES:
            raise ScriptError(f"{p}: unknown goal stage {goal!r}")
    return Scenario(str(data.get("id", p.stem)), data["lang"], data["title"], data["persona"], dict(data["case"]), tuple(data["turns"]), goals)


def shipped_scenarios() -> list[Path]:
    """The scenarios that come with the library."""
    return sorted((library_root() / "practice").glob("*/*.yaml"))


@dataclass
class Score:
    """The end-of-session result."""

    points: int
    violations: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    missed_stages: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)

    def advice(self, lang: str) -> list[str]:
        """What to improve, one line each."""
        out = []
        zh = lang == "zh"
        for v in self.violations:
            out.append(("违规：" if zh else "Violation: ") + v)
        for cue in self.unanswered:
            out.append((f"客户的「{cue}」信号没有得到回应" if zh else f"The customer's {cue} cue was not answered"))
        for stage in self.missed_stages:
            out.append((f"通话没有走到「{stage}」环节" if zh else f"The call never reached the {stage} stage"))
        return out or (["做得很好：合规、回应了客户的每个信号。"] if zh else ["Well done: compliant, and every cue was answered."])


def run_practice(scenario: Scenario, ask: Callable[[str], str], show: Callable[[str], None], checker: Checker | None = None) -> Score:
    """Play a scenario: ``ask(prompt)`` returns the trainee's line, ``show(text)`` displays."""
    session = CallPipeline(f"practice-{scenario.id}", scenario.lang, case=scenario.case, checker=checker or Checker(scenario.lang))
    zh = scenario.lang == "zh"
    show(f"== {scenario.title} ==\n{scenario.persona}\n")
    seq, t = 0, 0.0
    violations: list[str] = []
    pending: list[str] = []
    answered: list[str] = []
    unanswered: list[str] = []

    def utter(speaker: str, text: str) -> Turn:
        nonlocal seq, t
        seq += 1
        t += 3.0
        session.feed(Utterance(session.call_id, seq, speaker, t, t + 2.5, text))  # type: ignore[arg-type]
        return session.turns[-1]

    for turn in scenario.turns:
        said = str(turn["say"]).strip()
        show(("客户：" if zh else "Customer: ") + said)
        result = utter("customer", said)
        cues = sorted({f.category for f in result.findings if f.kind == "cue"} | set(turn.get("cues", [])))
        if cues:
            show(("  信号：" if zh else "  cues: ") + ", ".join(cues))
            pending = cues
        for s in result.suggestions:
            show(f"  → [{s.line_id}] {s.text}  ({s.reason})")
        line = ask("坐席> " if zh else "Agent> ").strip()
        if not line:
            line = "……" if zh else "..."
        mine = utter("agent", line)
        for f in mine.findings:
            if f.kind == "violation":
                violations.append(f"{f.category} «{f.matched}» — {f.explanation}".strip())
                show(f"  ! {f.severity} {f.category}: «{f.matched}»")
                if f.suggestion:
                    show(("    可以这样说：" if zh else "    Say instead: ") + f.suggestion)
        for cue in pending:
            (answered if session.suggester is not None and session.suggester.resembles(line, cue) >= 0.2 else unanswered).append(cue)
        pending = []
        if mine.stage:
            show(("  环节：" if zh else "  stage: ") + mine.stage[-1].stage)
    reached = {stage for _, stage in session.tracker.history}
    missed = [g for g in scenario.goals if g not in reached]
    penalty = sum(PENALTY.get(f.severity, 10) for t_ in session.turns for f in t_.findings if f.kind == "violation")
    penalty += 10 * len(unanswered) + 5 * len(missed)
    score = Score(max(0, 100 - penalty), violations, unanswered, missed, answered)
    show(("\n得分：" if zh else "\nScore: ") + f"{score.points}/100")
    for advice in score.advice(scenario.lang):
        show("  - " + advice)
    return score
