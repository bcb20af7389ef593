"""Trainer commands: ``callassist scripts lint|coverage|render|list`` and ``callassist practice``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

import click

from assistant._cli_common import emit, fail, format_option, lang_filter_option, languages, report_problems


@click.group()
def scripts() -> None:
    """Check, render and measure the script library in scripts_library/."""


@scripts.command("lint")
@lang_filter_option()
def scripts_lint(lang: str | None) -> None:
    """Render every line with sample values and run the checker on it.

    A line fails when it is malformed, uses an undeclared variable, cannot be rendered,
    or triggers a violation. Example:

        callassist scripts lint --lang zh
    """
    from assistant.checker import Checker
    from assistant.suggest.lint import lint_library

    checker = Checker()
    total, problems = 0, []
    for code in languages(lang):
        lines, found = lint_library(code, checker)
        total += len(lines)
        problems += found
    report_problems(problems, "problem(s)", f"ok: {total} lines render and pass the checker")


@scripts.command("coverage")
def scripts_coverage() -> None:
    """Lines per stage and per cue, in each language; exits 1 when a cell is empty.

    Example:

        callassist scripts coverage
    """
    from assistant.suggest.library import load_library
    from assistant.suggest.lint import coverage, ladder_coverage

    libs = {code: load_library(code)[0] for code in ("zh", "en")}
    rows, gaps = coverage(libs)
    click.echo(f"{'':6} {'':22} {'zh':>4} {'en':>4}")
    for kind, name, counts in rows:
        mark = "  <- empty" if 0 in counts.values() else ""
        click.echo(f"{kind:6} {name:22} {counts['zh']:>4} {counts['en']:>4}{mark}")
    for code, lines in libs.items():
        ladder = ladder_coverage(lines)
        click.echo(f"overdue ladder {code}: " + ", ".join(f"{rung}+ days {ladder[rung]}" for rung in (3, 7, 15, 30)))
    if gaps:
        fail(f"{len(gaps)} empty cell(s): " + "; ".join(gaps))
    click.echo("ok: every stage and cue has lines in both languages")


def load_case_file(path: Path | None) -> dict[str, Any]:
    """Case values from YAML (``id`` optional); empty without a file."""
    from assistant.errors import ScriptError
    from assistant.files import load_case_mapping

    return load_case_mapping(path, ScriptError) if path is not None else {}


@scripts.command("render")
@click.argument("line_id")
@click.option("--case", "case_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Case values (YAML).")
@click.option("--samples", is_flag=True, help="Fill what the case lacks with sample values.")
def scripts_render(line_id: str, case_file: Path | None, samples: bool) -> None:
    """Fill one line with a case's values.

    Example:

        callassist scripts render zh.opening.self_intro --case recordings_fixtures/zh/threats_and_insults.case.yaml --samples
    """
    from assistant.suggest.library import load_library, render, sample_case

    lang = line_id.split(".", 1)[0]
    if lang not in ("zh", "en"):
        raise click.BadParameter("a line id starts with zh. or en.", param_hint="LINE_ID")
    loaded, problems = load_library(lang)
    lines = {line.id: line for line in loaded}
    if line_id not in lines:
        near = [i for i in lines if i.split(".")[1] == line_id.split(".")[1]] if line_id.count(".") >= 1 else []
        hint = f" (in that family: {', '.join(near[:8])})" if near else ""
        if problems:
            hint += f"; the library has {len(problems)} problem(s), see `callassist scripts lint`"
        raise click.BadParameter(f"no line {line_id!r}{hint}", param_hint="LINE_ID")
    case = {**(sample_case(lang) if samples else {}), **load_case_file(case_file)}
    click.echo(render(lines[line_id], case))


@scripts.command("list")
@lang_filter_option()
@click.option("--stage", help="Only this stage.")
@click.option("--cue", help="Only lines answering this cue.")
@format_option()
def scripts_list(lang: str | None, stage: str | None, cue: str | None, fmt: str) -> None:
    """List lines with stage, cues and tone. Example:

        callassist scripts list --lang en --cue hardship
    """
    from assistant.suggest.library import load_library

    rows = [{"id": line.id, "stage": line.stage, "cues": list(line.cues), "tone": line.tone, "template": line.template}
            for code in languages(lang) for line in load_library(code)[0]
            if not (stage and line.stage != stage) and not (cue and cue not in line.cues)]
    emit(rows, fmt, ["id", "stage", "cues", "tone", "template"])


@click.command()
@click.argument("scenario", required=False)
@click.option("--answers", type=click.File("r", encoding="utf-8"), help="Read the trainee's lines from a file (one per turn) instead of the keyboard.")
@click.option("--list", "list_", is_flag=True, help="List the shipped scenarios.")
def practice(scenario: str | None, answers: TextIO | None, list_: bool) -> None:
    """Role-play a call: a scripted customer speaks, you answer as the agent.

    Live flags and suggestions after every line, a score and what to improve at the end.
    SCENARIO is a YAML file or the name of a shipped one (see --list). Run
    `callassist practice zh/refuses_to_sign` and answer at the prompts, or give the answers
    one per line (`-` reads them from stdin). Example:

        echo "您好，我是诚信金融的客服小王，工号1024。" | callassist practice zh/refuses_to_sign --answers -
    """
    from assistant.files import library_root
    from assistant.practice import load_scenario, run_practice, shipped_scenarios

    if list_ or not scenario:
        for path in shipped_scenarios():
            sc = load_scenario(path)
            click.echo(f"{path.parent.name}/{path.stem:24} {sc.title}")
        if not scenario:
            return
    path = Path(str(scenario))
    if not path.exists():
        path = library_root() / "practice" / f"{scenario}.yaml"
    if not path.exists():
        raise click.BadParameter(f"no scenario {scenario!r}: give a YAML file or one of `callassist practice --list`", param_hint="SCENARIO")
    lines = iter(answers.read().splitlines()) if answers else None

    def ask(prompt: str) -> str:
        if lines is not None:
            text = next(lines, "")
            click.echo(prompt + text)
            return text
        return str(click.prompt(prompt, default="", show_default=False, prompt_suffix=""))

    score = run_practice(load_scenario(path), ask, click.echo)
    if score.violations:
        fail(f"{len(score.violations)} violation(s) in this practice call")
