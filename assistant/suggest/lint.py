"""Checks over the whole script library: every line renders and passes the checker; coverage."""
from __future__ import annotations

from collections import Counter

from assistant.checker import Checker
from assistant.constants import CUE_CATEGORIES, STAGES
from assistant.errors import ScriptError
from assistant.suggest.library import ScriptLine, load_library, render, sample_case


def lint_library(lang: str, checker: Checker | None = None) -> tuple[list[ScriptLine], list[str]]:
    """Lines and problems: schema, variables, rendering, and any violation the checker finds."""
    lines, problems = load_library(lang)
    checker = checker or Checker()
    case = sample_case(lang)
    for line in lines:
        try:
            text = render(line, case)
        except ScriptError as exc:
            problems.append(f"{line.source}: {exc.message}")
            continue
        for f in checker.check(text, "agent", lang=lang):
            if f.kind == "violation":
                problems.append(f"{line.source}: {line.id} triggers {f.category} [{f.rule_id}] on «{f.matched}»: {text}")
    return lines, problems


def coverage(lines: dict[str, list[ScriptLine]]) -> tuple[list[tuple[str, str, dict[str, int]]], list[str]]:
    """Rows ``(kind, name, {lang: count})`` for every stage and cue, and the empty cells."""
    rows = []
    gaps = []
    for kind, names in (("stage", STAGES), ("cue", CUE_CATEGORIES)):
        for name in names:
            counts = {}
            for lang, ls in lines.items():
                counts[lang] = sum(1 for line in ls if (line.stage == name if kind == "stage" else name in line.cues))
                if counts[lang] == 0:
                    gaps.append(f"{kind} {name}: no {lang} line")
            rows.append((kind, name, counts))
    return rows, gaps


def ladder_coverage(lines: list[ScriptLine]) -> Counter[int]:
    """How many lines suit each rung of the overdue ladder."""
    counts: Counter[int] = Counter()
    for line in lines:
        for rung in line.overdue or (3, 7, 15, 30):
            counts[rung] += 1
    return counts
