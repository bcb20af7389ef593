"""Whole-call commands of the CLI: ``callassist precall`` and ``callassist check-call``."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant._cli_common import EXIT_FAILED, archive_option, emit, existing_archive, format_option, lang_option
from assistant._screen import safe

if TYPE_CHECKING:
    from assistant.events import Finding


@click.command("precall")
@archive_option
@click.argument("case_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--at", "at_text", help="When the call would be made: HH:MM (the debtor's local time today), 2026-12-05T23:00 "
                                      "(the debtor's local time) or ISO 8601 with an offset. Default: now.")
@click.option("--number", default="", help="The number to be dialled (per-number limits, opt-outs, prohibited work numbers).")
@lang_option("Whose rules: zh (CN) or en (US) (default: the case's `lang`, else its `jurisdiction`).")
@format_option(choices=("text", "json", "jsonl"))
@click.pass_context
def precall(ctx: click.Context, case_file: Path, at_text: str | None, number: str, lang: str | None, fmt: str) -> None:
    """Before dialling: may this debtor be called now? Exit 1 when blocked.

    Checks the contact rules (hours in the debtor's time zone, calls per day or per 7 days,
    cease notice, attorney, opt-outs) against the case and its earlier calls in the archive
    (none are counted when there is no archive). Each reason names its rule and citation;
    at --at 23:00 the same case is blocked. Example:

        callassist precall recordings_fixtures/zh/threats_and_insults.case.yaml --at 10:30
    """
    from assistant.archive.history import contact_decision
    from assistant.archive.importer import load_case
    from assistant.rules.contact import JURISDICTION, case_lang, case_zones, parse_when

    case = load_case(case_file)
    use_lang = case_lang(case, lang)
    at = parse_when(at_text, case_zones(case, use_lang))
    store = existing_archive(ctx)
    decision = contact_decision(store, case, at, use_lang, number=number)
    if fmt != "text":
        emit([decision.to_dict()], fmt, [])
    else:
        verdict = "ALLOWED" if decision.allowed else "BLOCKED"
        click.echo(f"{verdict}: case {safe(decision.case_id)} at {'; '.join(decision.local())}")
        counted = f"{decision.counted} earlier call(s) counted" if store is not None else "no archive: no earlier calls counted"
        click.echo(f"  {len(decision.checked)} contact rules checked ({JURISDICTION[use_lang]}); {counted}")
        for reason in decision.reasons:
            r = reason.rule
            click.echo(f"  ✗ {r.category} [{r.id}] {r.severity}: {safe(reason.detail)}")
            click.echo(f"      {safe(r.explanation)}")
            click.echo(f"      citation: {safe(r.citation)}")
            click.echo(f"      verification: {safe(r.verification)}")
    if not decision.allowed:
        ctx.exit(EXIT_FAILED)


def _finding_row(f: "Finding", texts: dict[int, tuple[str, str]], at_end: bool) -> dict[str, Any]:
    speaker, text = texts.get(f.seq, ("", ""))
    return {"seq": f.seq, "speaker": speaker, "kind": f.kind, "category": f.category, "severity": f.severity, "rule_id": f.rule_id,
            "level": "call" if f.extra.get("call_rule") else "line", "at_end": at_end, "opened_by": f.extra.get("opened_by"),
            "broken_by": f.extra.get("broken_by"), "matched": f.matched, "text": text, "explanation": f.explanation,
            "citation": f.citation, "suggestion": f.suggestion}


@click.command("check-call")
@archive_option
@click.argument("transcript", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--case", "case_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Case file (YAML): callee role, agency, initial communication, time zone … for the call and contact rules "
                   "(default: the transcript header's `case`, if any).")
@lang_option("Language (default: the transcript header, else detected).")
@format_option()
@click.pass_context
def check_call(ctx: click.Context, transcript: Path, case_file: Path | None, lang: str | None, fmt: str) -> None:
    """Check a whole call: line findings and call findings (what was never said, obligations
    after a cue, and with --case and a start time, the contact rules).

    Runs the call pipeline over a timed transcript without recording anything. Example:

        callassist check-call recordings_fixtures/zh/threats_and_insults.jsonl --case recordings_fixtures/zh/threats_and_insults.case.yaml
    """
    from assistant.archive.importer import load_case, prepare_import
    from assistant.events import Finding

    case = load_case(case_file) if case_file else None
    prepared = prepare_import(transcript, lang=lang, case=case)
    texts = {utt.seq: (utt.speaker, utt.text) for utt, _ in prepared.judged}
    rows = [_finding_row(f, texts, False) for f in prepared.contact_findings(existing_archive(ctx))]
    for _, events in prepared.judged:
        rows += [_finding_row(e, texts, bool(e.extra.get("at_end"))) for e in events if isinstance(e, Finding) and not e.provisional]
    if fmt != "text":
        emit(rows, fmt, ["seq", "speaker", "level", "kind", "category", "severity", "rule_id", "opened_by", "broken_by", "text", "explanation"])
        return
    click.echo(f"call {safe(prepared.call_id)} ({prepared.lang}): {len(prepared.judged)} utterances, "
               f"{sum(r['level'] == 'line' for r in rows)} line findings, {sum(r['level'] == 'call' for r in rows)} call findings")
    contact = [r for r in rows if r["kind"] == "contact"]
    for r in contact:
        click.echo(f"  ✗ {r['category']} [{r['rule_id']}] {r['severity']}: {safe(r['explanation'])}")
    for seq, (speaker, text) in texts.items():
        here = [r for r in rows if r["seq"] == seq and not r["at_end"] and r["kind"] != "contact"]
        if not here:
            continue
        click.echo(f"{seq:>3} {speaker}: {safe(text)}")
        for r in here:
            opened = f" (after utterance {r['opened_by']})" if r["opened_by"] else ""
            click.echo(f"      → {r['category']} {r['severity']}{opened}: {safe(r['explanation'] or r['matched'])}")
    ends = [r for r in rows if r["at_end"]]
    if ends:
        click.echo("at the end of the call:")
        for r in ends:
            click.echo(f"      → {r['category']} {r['severity']}: {safe(r['explanation'])}")
