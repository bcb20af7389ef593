"""Scorecards as data: what a call's flags cost, which items are required, what fails a call.

A scorecard is a YAML file (``lexicons/<lang>/qa/scorecard.yaml`` is each language's default;
a trainer copies one, edits it and passes ``--scorecard FILE``)::

    scorecard: zh-default       # its name, stored with every score
    version: 3                  # bump on every change; stored with every score (with the file's SHA-256)
    lang: zh
    title: 催收通话质检评分卡
    start: 100                  # a call starts with this many points …
    pass_mark: 80               # … and passes with at least this many (and no auto-fail)
    points: {critical: 30, major: 15, minor: 5, info: 0}   # per flag, by severity
    categories: {abuse: 20}     # per flag of this category, instead of its severity's points
    max_per_category: 2         # one category costs at most this many times per call
    required:                   # call-level items (the `missing.*` findings of the call rules)
      - {category: missing.self_identification, label: 自报机构和姓名, points: 10}
    auto_fail:                  # one counted flag of these fails the call outright (score 0)
      - {category: threat_violence, label: 威胁人身安全}

What counts is decided by the review state (:mod:`assistant.archive.reviews`): a dismissed
flag costs nothing, and a flag whose words the recogniser was unsure of costs nothing until a
reviewer confirms it (the score says how many such flags wait). Customer cues never cost.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from assistant._yaml import read_checked
from assistant.archive.reviews import Flag
from assistant.constants import LANGUAGES, SEVERITIES, VIOLATION_CATEGORIES
from assistant.errors import ScorecardError

if TYPE_CHECKING:
    from assistant.archive.store import Archive

_ITEM = {"type": "object", "required": ["category", "label"], "additionalProperties": False,
         "properties": {"category": {"type": "string", "minLength": 1}, "label": {"type": "string", "minLength": 1},
                        "points": {"type": "number", "minimum": 0, "maximum": 1000}}}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["scorecard", "version", "lang", "title", "start", "pass_mark", "points"],
    "additionalProperties": False,
    "properties": {
        "scorecard": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        "version": {"type": "integer", "minimum": 1},
        "lang": {"enum": list(LANGUAGES)},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "start": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
        "pass_mark": {"type": "number", "minimum": 0, "maximum": 1000},
        "points": {"type": "object", "required": list(SEVERITIES), "additionalProperties": False,
                   "properties": {s: {"type": "number", "minimum": 0, "maximum": 1000} for s in SEVERITIES}},
        "categories": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1000}},
        "max_per_category": {"type": "integer", "minimum": 1},
        "required": {"type": "array", "items": {**_ITEM, "required": ["category", "label", "points"]}},
        "auto_fail": {"type": "array", "items": _ITEM},
    },
}


@dataclass(frozen=True)
class Item:
    """A required item or an auto-fail item of a scorecard."""

    category: str
    label: str
    points: float = 0.0


@dataclass(frozen=True)
class Scorecard:
    """A validated scorecard (see the module's docstring for the file)."""

    name: str
    version: int
    lang: str
    title: str
    start: float
    pass_mark: float
    points: Mapping[str, float]
    categories: Mapping[str, float] = field(default_factory=dict)
    max_per_category: int | None = None
    required: tuple[Item, ...] = ()
    auto_fail: tuple[Item, ...] = ()
    path: str = ""
    sha256: str = ""

    def cost(self, flag: Flag) -> tuple[float, str]:
        """What one counted flag costs, and the scorecard's label for it ("" for a plain flag:
        its category and severity say why)."""
        for item in self.required:
            if item.category == flag.category:
                return item.points, item.label
        if flag.category in self.categories:
            return float(self.categories[flag.category]), ""
        return float(self.points.get(flag.severity, 0.0)), ""

    def fails(self, flag: Flag) -> Item | None:
        """The auto-fail item this counted flag triggers, if any."""
        return next((i for i in self.auto_fail if i.category == flag.category), None)


def known_categories(lang: str) -> set[str]:
    """Every finding category a call in ``lang`` can carry that a scorecard may weigh."""
    from assistant.rules.call_rules import load_call_rules
    from assistant.rules.contact import load_contact_rules

    known = set(VIOLATION_CATEGORIES)
    known |= {r.category for r in load_call_rules(lang).rules}
    known |= {r.category for r in load_contact_rules(lang).rules}
    return known


def default_path(lang: str) -> Path:
    """The shipped default scorecard of a language."""
    from assistant.rules.loader import lexicon_root

    return lexicon_root() / lang / "qa" / "scorecard.yaml"


def load_scorecard(path: str | Path | None = None, *, lang: str = "zh") -> Scorecard:
    """Read and validate a scorecard file (default: the language's shipped one).

    Problems are reported together, each as ``file:line: what``.
    """
    p = Path(path) if path else default_path(lang)
    if not p.is_file():
        raise ScorecardError(f"no scorecard at {p}: copy {default_path(lang)} and edit it, or leave out --scorecard")
    data, loc, problems = read_checked(p, SCHEMA)
    if not problems:
        known = known_categories(data["lang"])
        named = [("categories", c) for c in data.get("categories", {})]
        named += [(key, i["category"]) for key in ("required", "auto_fail") for i in data.get(key, [])]
        for key, category in named:
            if category not in known:
                line = loc.line([key]) if loc is not None else 0
                problems.append(f"{p}:{line}: {key}: unknown category {category!r} (known for {data['lang']}: {', '.join(sorted(known))})")
        for item in data.get("required", []):
            if not str(item["category"]).startswith("missing."):
                problems.append(f"{p}: required: {item['category']!r} is not a call-level item (required items are missing.* categories)")
        if data["pass_mark"] > data["start"]:
            problems.append(f"{p}: pass_mark {data['pass_mark']} is above start {data['start']}: no call could pass")
    if problems:
        raise ScorecardError("scorecard is invalid:\n" + "\n".join(problems))
    return Scorecard(
        name=data["scorecard"], version=int(data["version"]), lang=data["lang"], title=data["title"], start=float(data["start"]),
        pass_mark=float(data["pass_mark"]), points={k: float(v) for k, v in data["points"].items()},
        categories={k: float(v) for k, v in data.get("categories", {}).items()}, max_per_category=data.get("max_per_category"),
        required=tuple(Item(i["category"], i["label"], float(i["points"])) for i in data.get("required", [])),
        auto_fail=tuple(Item(i["category"], i["label"]) for i in data.get("auto_fail", [])),
        path=str(p), sha256=hashlib.sha256(p.read_bytes()).hexdigest())


@dataclass(frozen=True)
class Deduction:
    """Points a flag cost (or the auto-fail it triggered)."""

    finding: str  # finding id
    category: str
    severity: str
    points: float
    label: str  # the scorecard item's label ("" for a flag costed by category or severity)
    auto_fail: bool = False


@dataclass(frozen=True)
class CallScore:
    """A call's score against a scorecard."""

    call_id: str
    agent_id: str
    started_at: str
    scorecard: str
    version: int
    sha256: str
    score: float
    max_score: float
    passed: bool
    auto_fail: tuple[str, ...]
    deductions: tuple[Deduction, ...]
    asr_review: int  # flags not counted because the recogniser was unsure and nobody confirmed them yet
    dismissed: int

    def as_record(self, scorer: str) -> dict[str, Any]:
        """The chained ``scores`` record."""
        return {"scorecard": self.scorecard, "scorecard_version": self.version, "scorecard_hash": self.sha256, "score": self.score,
                "passed": self.passed, "auto_fail": ", ".join(self.auto_fail),
                "deductions": [{"finding": d.finding, "category": d.category, "points": d.points, "label": d.label, "auto_fail": d.auto_fail}
                               for d in self.deductions],
                "asr_review": self.asr_review, "scorer": scorer}


def score_call(card: Scorecard, call_id: str, flags: Sequence[Flag], *, agent_id: str = "", started_at: str = "") -> CallScore:
    """Score one call from its flags (of any review state; what counts is decided here)."""
    deductions: list[Deduction] = []
    fails: list[str] = []
    per_category: dict[str, int] = {}
    asr_review = dismissed = 0
    for f in flags:
        if not f.is_flag:
            continue
        if not f.counts:
            if f.state == "dismissed":
                dismissed += 1
            else:
                asr_review += 1
            continue
        item = card.fails(f)
        if item is not None:
            fails.append(item.label)
            deductions.append(Deduction(f.id, f.category, f.severity, 0.0, item.label, auto_fail=True))
            continue
        per_category[f.category] = per_category.get(f.category, 0) + 1
        required = any(i.category == f.category for i in card.required)  # a required item is missing once, however often it is flagged
        limit = 1 if required else card.max_per_category
        if limit is not None and per_category[f.category] > limit:
            continue
        points, label = card.cost(f)
        if points:
            deductions.append(Deduction(f.id, f.category, f.severity, points, label))
    score = 0.0 if fails else max(0.0, card.start - sum(d.points for d in deductions))
    return CallScore(call_id, agent_id, started_at, card.name, card.version, card.sha256, round(score, 2), card.start,
                     not fails and score >= card.pass_mark, tuple(dict.fromkeys(fails)), tuple(deductions), asr_review, dismissed)


def score_calls(archive: "Archive", card: Scorecard, call_ids: Sequence[str] | None = None) -> list[CallScore]:
    """Score the ended calls in the scorecard's language (default: all of them)."""
    from assistant.archive.reviews import ended_calls

    return [score_call(card, c["call_id"], flags, agent_id=str(c.get("agent_id") or ""), started_at=str(c.get("started_at") or ""))
            for c, flags in ended_calls(archive, call_ids) if c.get("lang") == card.lang]


def record_scores(archive: "Archive", scores: Sequence[CallScore], scorer: str) -> int:
    """Store each score whose value differs from the call's latest one; returns how many."""
    latest = latest_scores(archive)
    written = 0
    for s in scores:
        record = s.as_record(scorer)
        old = latest.get(s.call_id)
        if old is not None and all(_same(old.get(k), v) for k, v in record.items() if k != "scorer"):  # who scored is no change
            continue
        archive.add_score(s.call_id, record)
        written += 1
    return written


def _same(stored: Any, value: Any) -> bool:
    from assistant.archive.store import _stored

    return bool(stored == _stored(value))


def latest_scores(archive: "Archive") -> dict[str, dict[str, Any]]:
    """Each call's latest stored score record (a dict of its columns)."""
    rows = archive.conn.execute(
        "SELECT s.* FROM scores s JOIN (SELECT call_id, max(pos) AS pos FROM scores GROUP BY call_id) m ON m.call_id = s.call_id AND m.pos = s.pos")
    return {r["call_id"]: dict(r) for r in rows}


@dataclass(frozen=True)
class AgentScore:
    """An agent's calls summed up."""

    agent_id: str
    calls: int
    mean: float
    passed: int
    auto_failed: int
    flags_counted: int


def agent_scores(scores: Sequence[CallScore]) -> list[AgentScore]:
    """Per agent: calls, mean score, passes, auto-fails; weakest first."""
    by_agent: dict[str, list[CallScore]] = {}
    for s in scores:
        by_agent.setdefault(s.agent_id or "-", []).append(s)
    out = [AgentScore(agent, len(group), round(sum(s.score for s in group) / len(group), 1), sum(s.passed for s in group),
                      sum(1 for s in group if s.auto_fail), sum(len(s.deductions) for s in group)) for agent, group in by_agent.items()]
    return sorted(out, key=lambda a: (a.mean, a.agent_id))


def record_agent_scores(archive: "Archive", scores: Sequence[CallScore], scorer: str) -> list[AgentScore]:
    """Record the per-agent summary of these call scores as a chained archive-log entry
    (``agent_scores``: each agent's calls, mean, passes and auto-fails, with the scorecards'
    names, versions and hashes); returns the summary."""
    import json

    agents = agent_scores(scores)
    if agents:
        cards = sorted({(s.scorecard, s.version, s.sha256) for s in scores})
        archive.log_event("agent_scores", scorer, json.dumps({
            "scorecards": [{"scorecard": n, "version": v, "sha256": h} for n, v, h in cards],
            "agents": [a.__dict__ for a in agents]}, ensure_ascii=False, sort_keys=True))
    return agents


__all__ = ["AgentScore", "CallScore", "Deduction", "Item", "Scorecard", "agent_scores", "default_path", "known_categories", "latest_scores",
           "load_scorecard", "record_agent_scores", "record_scores", "score_call", "score_calls"]
