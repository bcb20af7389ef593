"""Role-play practice: a scripted customer persona speaks, the trainee answers as the agent,
and gets live flags, suggestions and an end-of-session score with what to improve."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from assistant._yaml import read_checked
from assistant.checker import Checker
from assistant.constants import CUE_CATEGORIES, SEVERITIES, STAGES, VIOLATION_CATEGORIES
from assistant.errors import ScriptError
from assistant.events import Finding, Utterance, as_speaker
from assistant.files import library_root
from assistant.pipeline import CallPipeline, Turn
from assistant.rules.obligations import CueObligations
from assistant.views.labels import labels

PENALTY = {"critical": 30, "major": 20, "minor": 10, "info": 0}


@dataclass(frozen=True)
class Reaction:
    """How the scripted customer answers a violation: a line, then go on or hang up."""

    say: str
    then: str = "continue"  # continue | hang_up


@dataclass(frozen=True)
class Scenario:
    """A practice scenario: persona, case values, the customer's lines, and how the customer
    reacts to a violation (by category, else by severity)."""

    id: str
    lang: str
    title: str
    persona: str
    case: dict[str, Any]
    turns: tuple[dict[str, Any], ...]
    goals: tuple[str, ...]
    reactions: dict[str, Reaction] = field(default_factory=dict)

    def reaction(self, findings: list[Finding]) -> Reaction | None:
        """The reaction to the worst of a line's violations (its category's, else its severity's)."""
        worst = sorted((f for f in findings if f.kind == "violation"), key=lambda f: SEVERITIES.index(f.severity))
        for f in worst:
            found = self.reactions.get(f.category) or self.reactions.get(f.severity)
            if found:
                return found
        return None


_TURN = {"type": "object", "additionalProperties": False, "required": ["say"],
         "properties": {"say": {"type": "string", "pattern": r"\S"}, "cues": {"type": "array", "items": {"enum": list(CUE_CATEGORIES)}}}}
_REACTION = {"type": "object", "additionalProperties": False, "required": ["say"],
             "properties": {"say": {"type": "string", "pattern": r"\S"}, "then": {"enum": ["continue", "hang_up"]}}}
SCENARIO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lang", "title", "persona", "case", "turns"],
    "properties": {
        "id": {"type": "string"},
        "lang": {"enum": ["zh", "en"]},
        "title": {"type": "string", "pattern": r"\S"},
        "persona": {"type": "string", "pattern": r"\S"},
        "case": {"type": "object"},
        "goals": {"type": "array", "items": {"enum": list(STAGES)}},
        "turns": {"type": "array", "minItems": 1, "items": _TURN},
        "reactions": {"type": "object", "additionalProperties": False,
                      "properties": {name: _REACTION for name in (*VIOLATION_CATEGORIES, *SEVERITIES)}},
    },
}


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file, checked against :data:`SCENARIO_SCHEMA` (problems name their line)."""
    p = Path(path)
    data, _, problems = read_checked(p, SCENARIO_SCHEMA)
    if problems:
        raise ScriptError("invalid scenario:\n" + "\n".join(problems[:20]))
    reactions = {k: Reaction(v["say"], v.get("then", "continue")) for k, v in (data.get("reactions") or {}).items()}
    return Scenario(str(data.get("id", p.stem)), data["lang"], data["title"], data["persona"], dict(data["case"]), tuple(data["turns"]),
                    tuple(data.get("goals", ())), reactions)


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
    hung_up: bool = False

    def advice(self, lang: str) -> list[str]:
        """What to improve, one line each, in the scenario's language."""
        words = labels(lang)
        zh = lang == "zh"
        out = [("违规：" if zh else "Violation: ") + v for v in self.violations]
        if self.hung_up:
            out.append("客户被激怒后挂断了电话" if zh else "The customer hung up after the violation")
        for cue in self.unanswered:
            out.append(f"客户说的「{words.category(cue)}」没有得到回应" if zh else f"The customer's {words.category(cue)} was not answered")
        for stage in self.missed_stages:
            out.append(f"通话没有走到「{words.stage(stage)}」环节" if zh else f"The call never reached the {words.stage(stage)} stage")
        return out or (["做得很好：合规、回应了客户的每个信号。"] if zh else ["Well done: compliant, and every cue was answered."])


def run_practice(scenario: Scenario, ask: Callable[[str], str], show: Callable[[str], None], checker: Checker | None = None) -> Score:
    """Play a scenario: ``ask(prompt)`` returns the trainee's line, ``show(text)`` displays.

    The customer answers a violation as the scenario declares (and may hang up); whether
    each cue was answered is judged by :class:`~assistant.rules.obligations.CueObligations`,
    the same obligations QA applies."""
    session = CallPipeline(f"practice-{scenario.id}", scenario.lang, case=scenario.case, checker=checker or Checker(scenario.lang))
    owed = CueObligations(scenario.lang)
    words = labels(scenario.lang)
    zh = scenario.lang == "zh"
    show(f"== {scenario.title} ==\n{scenario.persona}\n")
    seq, t = 0, 0.0
    violations: list[str] = []
    answered: list[str] = []
    unanswered: list[str] = []
    hung_up = False

    def utter(speaker: str, text: str) -> Turn:
        nonlocal seq, t
        seq += 1
        t += 3.0
        session.feed(Utterance(session.call_id, seq, as_speaker(speaker), t, t + 2.5, text))
        return session.turns[-1]

    def customer(text: str, declared: Iterable[str] = ()) -> None:
        show(("客户：" if zh else "Customer: ") + text)
        result = utter("customer", text)
        cues = sorted({f.category for f in result.findings if f.kind == "cue"} | set(declared))
        owed.customer(seq, text, cues)
        if cues:
            show(("  信号：" if zh else "  cues: ") + ("、" if zh else ", ").join(words.category(c) for c in cues))
        for s in result.suggestions:
            show(f"  → {s.text}")

    for turn in scenario.turns:
        customer(str(turn["say"]).strip(), turn.get("cues", []))
        line = ask("坐席> " if zh else "Agent> ").strip() or ("……" if zh else "...")
        mine = utter("agent", line)
        for f in mine.findings:
            if f.kind == "violation":
                violations.append(f"{words.category(f.category)} «{f.matched}» — {f.explanation}".strip())
                show(f"  ! {words.severity(f.severity)} {words.category(f.category)}: «{f.matched}»")
                if f.suggestion:
                    show(("    可以这样说：" if zh else "    Say instead: ") + f.suggestion)
        met, missed = owed.agent(seq, line)
        answered += [o.cue for o in met]
        unanswered += [o.cue for o in missed]
        if mine.stage:
            show(("  环节：" if zh else "  stage: ") + words.stage(mine.stage[-1].stage))
        reaction = scenario.reaction(mine.findings)
        if reaction is not None:
            customer(reaction.say)
            if reaction.then == "hang_up":
                show("（客户挂断了电话）" if zh else "(The customer hangs up.)")
                hung_up = True
                break
    unanswered += [o.cue for o in owed.finish()]
    reached = {stage for _, stage in session.tracker.history}
    missed_stages = [g for g in scenario.goals if g not in reached]
    penalty = sum(PENALTY.get(f.severity, 10) for t_ in session.turns for f in t_.findings if f.kind == "violation")
    penalty += 10 * len(unanswered) + 5 * len(missed_stages) + (20 if hung_up else 0)
    score = Score(max(0, 100 - penalty), violations, unanswered, missed_stages, answered, hung_up)
    show(("\n得分：" if zh else "\nScore: ") + f"{score.points}/100")
    for advice in score.advice(scenario.lang):
        show("  - " + advice)
    return score
