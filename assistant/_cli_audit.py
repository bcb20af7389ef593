"""``callassist audit``: check and archive a whole folder of recordings."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from assistant._cli_common import EXIT_FAILED, archive_option, archive_path, lang_option, open_archive, text_table
from assistant._screen import safe


@click.command("audit")
@archive_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: one per CPU, at most 4).")
@click.option("--transcripts-only", is_flag=True, help="Only recordings with a transcript beside them (no speech model needed).")
@click.option("--model", help="Speech model for WAVs without a transcript (directory, alias or installed name).")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV, one row per recording: `file`, optional `started_at`, `agent_id`, and case fields (`case_id`, `lang`, `timezone` …).")
@click.option("--cluster", help="A Ray cluster (its head HOST:6379, or ray://HOST:10001): spread the recordings over its workers (they need the same paths).")
@click.option("--scorecard", "scorecard_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Scorecard YAML (one per language; default: lexicons/LANG/qa/scorecard.yaml).")
@lang_option("Language of the calls (default: each transcript's header, else detected).")
@click.pass_context
def audit(ctx: click.Context, paths: tuple[Path, ...], workers: int | None, transcripts_only: bool, model: str | None, manifest: Path | None,
          cluster: str | None, scorecard_files: tuple[Path, ...], lang: str | None) -> None:
    """Check and archive every recording under PATHS (WAV, timed transcript, or both).

    Recordings already in the archive are skipped, so a second run, or a run after an
    interruption, does only what is left. A file that fails is listed and the rest go on
    (exit 1 when any failed). A `NAME.case.yaml` beside a recording is its case; a
    --manifest row adds case fields and the call's start time (for the contact rules). Example:

        callassist audit recordings_fixtures/zh --transcripts-only --workers 1
    """
    from assistant.archive.audit import cluster_executor, default_workers, find_recordings, read_manifest, run_audit, with_manifest

    cards = scorecards(scorecard_files)
    recordings, left = find_recordings(paths, transcripts_only)
    if manifest is not None:
        recordings, unknown = with_manifest(recordings, read_manifest(manifest))
        left += [f"{manifest}: {name} is listed but no recording has that name" for name in unknown]
    for line in left:
        click.echo(f"skipped: {safe(line)}", err=True)
    if not recordings:
        click.echo("no recordings found (WAV or timed-transcript JSONL files)", err=True)
        return
    store = open_archive(ctx)
    executor, disconnect = cluster_executor(cluster) if cluster else (None, None)
    try:
        with click.progressbar(length=len(recordings), label="auditing", file=sys.stderr, item_show_func=lambda name: name) as bar:
            summary = run_audit(store, recordings, workers=workers or default_workers(), model=model, lang=lang,
                                progress=lambda name: bar.update(1, name), scorecards=cards, executor=executor)
    finally:
        if disconnect is not None:
            disconnect()
    if not summary.audited and not summary.failed:
        from assistant.archive.backend import describe

        click.echo(f"nothing to audit: all {len(summary.skipped)} recording(s) are already in {describe(archive_path(ctx))}")
        return
    click.echo(f"audited {len(summary.audited)} call(s), {summary.audio_seconds / 3600:.2f} h of audio; "
               f"skipped {len(summary.skipped)} already archived; {len(summary.failed)} failed")
    if summary.severities:
        click.echo("flags by severity: " + ", ".join(f"{k} {v}" for k, v in summary.severities.most_common()))
    if summary.categories:
        rows = [{"category": k, "flags": v} for k, v in summary.categories.most_common()]
        click.echo(text_table(rows, ["category", "flags"]))
    if summary.scores:
        from assistant.archive.scorecard import record_agent_scores

        record_agent_scores(store, summary.scores, "audit")
        echo_scores(summary.scores)
    if summary.seconds:
        click.echo("slowest: " + ", ".join(f"{safe(name)} {s:.1f} s" for name, s in summary.slowest()))
    for name, reason in summary.failed:
        first, *more = reason.splitlines() or [""]
        click.echo(f"FAILED: {safe(name)}: {safe(first)}")
        for line in more[:5]:
            click.echo(f"    {safe(line)}")
        if len(more) > 5:
            click.echo(f"    … and {len(more) - 5} more line(s)")
    if summary.failed:
        ctx.exit(EXIT_FAILED)


def scorecards(files: tuple[Path, ...]) -> dict[str, Any]:
    """Language → scorecard: the files given (one per language), else the shipped defaults."""
    from assistant.archive.scorecard import load_scorecard
    from assistant.constants import LANGUAGES

    given = [load_scorecard(f) for f in files]
    cards = {c.lang: c for c in given}
    if len(cards) < len(given):
        raise click.BadParameter("give one scorecard per language", param_hint="--scorecard")
    for lang in LANGUAGES:
        cards.setdefault(lang, load_scorecard(lang=lang))
    return cards


def echo_scores(scores: list[Any]) -> None:
    """Scores per agent, and the flags left for a human because the recogniser was unsure."""
    from assistant.archive.scorecard import agent_scores

    cards = sorted({f"{s.scorecard} v{s.version}" for s in scores})
    click.echo(f"scores ({', '.join(cards)}): mean {sum(s.score for s in scores) / len(scores):.1f}, "
               f"{sum(s.passed for s in scores)} of {len(scores)} passed, {sum(1 for s in scores if s.auto_fail)} auto-failed")
    rows = [{"agent": a.agent_id, "calls": a.calls, "mean score": a.mean, "passed": a.passed, "auto-failed": a.auto_failed}
            for a in agent_scores(scores)]
    click.echo(text_table(rows, ["agent", "calls", "mean score", "passed", "auto-failed"]))
    held = sum(s.asr_review for s in scores)
    if held:
        click.echo(f"{held} flag(s) not scored: the recogniser was unsure of their words; they wait for a reviewer (`callassist serve`, queue)")
