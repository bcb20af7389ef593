"""Archive commands of the CLI: ``callassist archive …``."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from assistant._cli_common import archive_option, emit, fail, format_option, lang_option, open_archive
from assistant._screen import safe


@click.group()
@archive_option
@click.option("--max-bytes", type=int, default=None, help="Refuse to grow the archive beyond this size.")
@click.pass_context
def archive(ctx: click.Context, max_bytes: int | None) -> None:
    """The evidence archive: import, verify, search, export, retention.

    The archive is a plain SQLite file: open it with `sqlite-utils tables FILE` or
    `datasette FILE`. Set CALLASSIST_ARCHIVE_KEY to sign every record (HMAC).
    """
    ctx.ensure_object(dict)
    ctx.obj["max_bytes"] = max_bytes


@archive.command("import")
@archive_option
@click.argument("transcript", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The call's recording (its SHA-256 is recorded).")
@click.option("--case", "case_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Case file (YAML: id, debtor_name, amount_due …).")
@click.option("--call-id", help="Call id (default: from the transcript header or the file name).")
@click.option("--agent", "agent_id", default="", help="Agent id.")
@lang_option("Language (default: the transcript header, else detected).")
@click.option("--resume", is_flag=True, help="Finish a call that was interrupted earlier, under the same id (recorded in its chain).")
@click.pass_context
def archive_import(ctx: click.Context, transcript: Path, audio: Path | None, case_file: Path | None, call_id: str | None, agent_id: str,
                   lang: str | None, resume: bool) -> None:
    """Check a timed transcript and record the whole call, sealed (all or nothing).

    Example:

        callassist archive import recordings_fixtures/zh/threats_and_insults.jsonl --audio recordings_fixtures/zh/threats_and_insults.wav
    """
    from assistant.archive.importer import load_case, prepare_import, record_import

    case = load_case(case_file) if case_file else None
    with click.progressbar(length=1, label="checking", file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(1)

        prepared = prepare_import(transcript, audio=audio, call_id=call_id, lang=lang, progress=progress, case=case)
    store = open_archive(ctx)  # only once everything checked out: a bad input never creates an archive
    result = record_import(store, prepared, case=case, agent_id=agent_id, resume=resume)
    for warning in result.warnings[:20]:
        click.echo(f"warning: {safe(warning)}", err=True)
    if len(result.warnings) > 20:
        click.echo(f"warning: … and {len(result.warnings) - 20} more", err=True)
    found = ", ".join(f"{k} {v}" for k, v in sorted(result.findings.items())) or "none"
    resumed = f" (resumed after {result.resumed_after} recorded utterances)" if result.resumed_after is not None else ""
    click.echo(f"recorded call {safe(result.call_id)}{resumed}: {result.utterances} utterances, findings: {found}")
    click.echo(f"sealed; chain head {result.head}")


@archive.command("attempt")
@archive_option
@click.argument("case_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--outcome", type=click.Choice(["unanswered", "voicemail", "connected", "conversation"]), default="unanswered", show_default=True,
              help="How the call went (conversation: an effective conversation with the debtor).")
@click.option("--at", "at_text", help="When: HH:MM (the debtor's local time today), 2026-12-05T09:30 (debtor's local time) or ISO 8601. Default: now.")
@click.option("--number", default="", help="The number dialled.")
@click.option("--direction", type=click.Choice(["outbound", "inbound"]), default="outbound", show_default=True)
@click.option("--agent", "agent_id", default="", help="Agent id.")
@click.pass_context
def archive_attempt(ctx: click.Context, case_file: Path, outcome: str, at_text: str | None, number: str, direction: str, agent_id: str) -> None:
    """Record a call that left no transcript (unanswered, voicemail), so the contact rules count it.

    Example:

        callassist archive attempt recordings_fixtures/zh/threats_and_insults.case.yaml --outcome unanswered --at 09:30
    """
    from assistant.archive.history import record_attempt
    from assistant.archive.importer import load_case
    from assistant.rules.contact import case_lang, case_zones, parse_when

    case = load_case(case_file)
    lang = case_lang(case)
    at = parse_when(at_text, case_zones(case, lang))
    cid = record_attempt(open_archive(ctx), case, at=at, outcome=outcome, number=number, direction=direction, agent_id=agent_id, lang=lang)
    click.echo(f"recorded {direction} call {cid} to case {safe(str(case['id']))}: {outcome} at {at.isoformat(timespec='minutes')}")


@archive.command("verify")
@archive_option
@click.option("--call-id", "--call", "call_id", help="Only this call.")
@click.option("--head", "head_file", type=click.Path(path_type=Path, dir_okay=False), help="A copy of the archive head file (default: ARCHIVE.head beside it).")
@click.pass_context
def archive_verify(ctx: click.Context, call_id: str | None, head_file: Path | None) -> None:
    """Check every hash chain, the archive head, statuses, cases and the search index.

    Lists each modified, deleted, inserted or reordered record; read-only. Example:

        callassist archive verify --call-id zh-threats_and_insults
    """
    from assistant.archive.verify import verify

    store = open_archive(ctx, readonly=True)
    report = verify(store, call_id, head=head_file)
    for problem in report.problems:
        click.echo(safe(str(problem)))
    if not store.signed:
        note = " (unsigned: set CALLASSIST_ARCHIVE_KEY when creating an archive to also detect a rewritten chain)"
    elif store.key:
        note = " (signatures checked)"
    else:
        note = " (signed archive, but no key given: signatures NOT checked; set CALLASSIST_ARCHIVE_KEY)"
    for spot in report.blind_spots:
        click.echo(f"cannot see: {spot}", err=True)
    if report.problems:
        fail(f"{len(report.problems)} problem(s) in {report.calls} call(s), {report.records} records{note}")
    click.echo(f"ok: {report.calls} call(s), {report.records} records{note}")
    click.echo(f"archive head {report.heads.get('_archive', '')}")


@archive.command("search")
@archive_option
@click.argument("query")
@click.option("--agent", help="Only this agent's calls.")
@click.option("--since", help="Calls on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Calls on or before this date (YYYY-MM-DD).")
@click.option("--category", help="Only utterances with a finding of this category.")
@click.option("--severity", type=click.Choice(["critical", "major", "minor", "info"]))
@click.option("--limit", type=int, default=50, show_default=True)
@format_option()
@click.pass_context
def archive_search(ctx: click.Context, query: str, agent: str | None, since: str | None, until: str | None, category: str | None,
                   severity: str | None, limit: int, fmt: str) -> None:
    """Find what was said: Chinese words of one or two characters (坐牢, 还钱) or English words.

    Example:

        callassist archive search 坐牢 --category threat_arrest --since 2026-11-01
    """
    from assistant.archive.search import search

    store = open_archive(ctx, readonly=True)
    try:
        hits = search(store, query, agent=agent, since=since, until=until, category=category, severity=severity, limit=limit)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="QUERY") from exc

    def lines(rows: list[dict[str, Any]]) -> str:
        out = []
        for h in rows:
            tags = f"  [{', '.join(h['categories'])}]" if h["categories"] else ""
            ids = f"  findings: {' '.join(safe(i) for i in h['findings'])}" if h["findings"] else ""
            out.append(f"{safe(h['call_id'])} line {h['seq']} {safe(str(h['started_at'] or ''))[:16]} {safe(h['agent_id'] or '-')} {h['speaker']:8} "
                       f"{safe(h['text'])}{tags}{ids}")
        return "\n".join(out)

    emit((dict(h.__dict__) for h in hits), fmt, ["call_id", "seq", "started_at", "agent_id", "speaker", "text", "categories", "findings"], lines)
    if fmt == "text":
        click.echo(f"{len(hits)} match(es)", err=True)


@archive.command("export")
@archive_option
@click.argument("call_id")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="A new folder, or a file name ending in .zip.")
@click.option("--redact", is_flag=True, help="Mask personal data everywhere (texts, words, ids, names, file names, case values) and in the audio.")
@click.option("--no-audio", is_flag=True, help="Leave the recording out.")
@click.option("--mute-utterances", is_flag=True, help="With --redact: replace whole utterances by a tone where personal data has no word times.")
@click.pass_context
def archive_export(ctx: click.Context, call_id: str, out: Path, redact: bool, no_audio: bool, mute_utterances: bool) -> None:
    """Write a self-contained evidence bundle of one call (files private to you).

    Example:

        callassist archive export zh-threats_and_insults --out evidence.zip --redact
    """
    from assistant.archive.export import export_call

    store = open_archive(ctx, readonly=True)
    path = export_call(store, call_id, out, redact=redact, include_audio=not no_audio, mute_unaligned=mute_utterances,
                       progress=lambda msg: click.echo(msg, err=True))
    click.echo(f"wrote {path}")


@archive.command("verify-bundle")
@click.argument("bundle", type=click.Path(path_type=Path))
def archive_verify_bundle(bundle: Path) -> None:
    """Check an exported bundle on its own (no archive needed).

    Example:

        callassist archive verify-bundle evidence.zip
    """
    from assistant.archive.export import verify_bundle
    from assistant.archive.store import key_from_env

    problems = verify_bundle(bundle, key_from_env())
    for problem in problems:
        click.echo(safe(str(problem)))
    if problems:
        fail(f"{len(problems)} problem(s)")
    click.echo(f"ok: {bundle} holds up")


def _hold(ctx: click.Context, call_id: str, reason: str, held: bool) -> None:
    store = open_archive(ctx)
    store.hold(call_id, reason, held)
    click.echo(f"call {call_id}: legal hold {'on' if held else 'lifted'}")


@archive.command("hold")
@archive_option
@click.argument("call_id")
@click.option("--reason", required=True, help="Why (case number, dispute, regulator request).")
@click.pass_context
def archive_hold(ctx: click.Context, call_id: str, reason: str) -> None:
    """Put a call under legal hold: purge will skip it. Example:

        callassist archive hold zh-threats_and_insults --reason "dispute 2026-118"
    """
    _hold(ctx, call_id, reason, True)


@archive.command("unhold")
@archive_option
@click.argument("call_id")
@click.option("--reason", required=True, help="Why the hold ends.")
@click.pass_context
def archive_unhold(ctx: click.Context, call_id: str, reason: str) -> None:
    """Lift a legal hold. Example:

        callassist archive unhold zh-threats_and_insults --reason "dispute closed"
    """
    _hold(ctx, call_id, reason, False)


@archive.command("purge")
@archive_option
@click.option("--older-than", "days", type=float, required=True, help="Delete ended calls that started more than this many days ago.")
@click.option("--dry-run", is_flag=True, help="Only say what would go.")
@click.pass_context
def archive_purge(ctx: click.Context, days: float, dry_run: bool) -> None:
    """Retention: delete old calls, except those under legal hold; each purge is recorded.

    Example:

        callassist archive purge --older-than 1095 --dry-run
    """
    store = open_archive(ctx)
    report = store.purge(days, dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    click.echo(f"{verb} {len(report['purged'])} call(s); kept {len(report['held'])} under legal hold; skipped {len(report['open'])} still open")
    for cid in report["held"]:
        click.echo(f"  held: {safe(cid)}")
    for cid in report["undated"]:
        click.echo(f"  kept, no usable start time: {safe(cid)}", err=True)


@archive.command("calls")
@archive_option
@format_option()
@click.pass_context
def archive_calls(ctx: click.Context, fmt: str) -> None:
    """List the calls with their status. Example:

        callassist archive calls --format csv
    """
    store = open_archive(ctx, readonly=True)
    rows = [{"call_id": row["call_id"], "status": row["status"], "started_at": row["started_at"], "agent_id": row["agent_id"],
             "lang": row["lang"], "legal_hold": store.is_held(row["call_id"])} for row in store.calls()]
    emit(rows, fmt, ["call_id", "status", "started_at", "agent_id", "lang", "legal_hold"])


@archive.command("review")
@archive_option
@click.argument("finding")
@click.argument("finding_pos", type=int, required=False)
@click.option("--confirm", "decision", flag_value="confirm", help="The flag is right.")
@click.option("--dismiss", "decision", flag_value="dismiss", help="The flag is wrong.")
@click.option("--dispute", "decision", flag_value="dispute", help="The agent disputes the flag (a note says why); a reviewer answers with --confirm/--dismiss.")
@click.option("--reviewer", required=True, help="Who decides (or, with --dispute, the agent).")
@click.option("--note", default="", help="Why; needed for a dispute and for answering one.")
@click.pass_context
def archive_review(ctx: click.Context, finding: str, finding_pos: int | None, decision: str | None, reviewer: str, note: str) -> None:
    """Confirm, dismiss or dispute a finding, by its id (CALL_ID#POS, as `archive show` and
    `archive search` print it; `CALL_ID POS` also works).

    Every decision is a chained record; earlier ones stay as history. Example:

        callassist archive review "zh-threats_and_insults#9" --confirm --reviewer qa.li --note "clear arrest threat"
    """
    from assistant.archive.reviews import finding_id, get_flag, parse_finding_id, record_review

    if decision is None:
        raise click.UsageError("say --confirm, --dismiss or --dispute")
    try:
        fid = finding_id(*parse_finding_id(finding, finding_pos))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="FINDING") from exc
    store = open_archive(ctx)
    pos = record_review(store, fid, decision, reviewer, note)
    flag = get_flag(store, fid)
    click.echo(f"{fid} ({flag.category}): {decision} recorded at position {pos}; now {flag.state}")


@archive.command("show")
@archive_option
@click.argument("call_id")
@format_option()
@click.pass_context
def archive_show(ctx: click.Context, call_id: str, fmt: str) -> None:
    """Print a call: utterances, findings with their ids (for `review`) and states, reviews, scores.

    Example:

        callassist archive show zh-threats_and_insults
    """
    store = open_archive(ctx, readonly=True)
    rows = store.records(call_id)
    if not rows:
        raise click.BadParameter(f"no call {call_id!r} in {store.path}", param_hint="CALL_ID")
    if fmt != "text":
        from assistant.archive.reviews import finding_id as fid

        records = [{"table": table, **{k: r[k] for k in r.keys() if k not in ("id", "mac", "salt", "prev_hash")},
                    **({"finding_id": fid(call_id, int(r["pos"]))} if table == "findings" else {})} for table, r in rows]
        emit(records, fmt, ["table", "pos", "finding_id", "start", "end", "speaker", "text", "kind", "category", "severity", "rule_id", "matched",
                            "finding_pos", "decision", "reviewer", "note", "event", "at", "detail", "hash"])
        return
    from assistant.archive.reviews import finding_id, load_flags

    flags = {f.pos: f for f in load_flags(store, [call_id])}
    click.echo(f"call {safe(call_id)} ({store.status(call_id)})")
    for table, r in rows:
        if table == "utterances":
            click.echo(f"#{r['pos']:<4} [{float(r['start']):7.2f}] {r['speaker']:8} {safe(str(r['text']))}")
        elif table == "findings":
            state = flags[int(r["pos"])].state if int(r["pos"]) in flags else ""
            click.echo(f"#{r['pos']:<4}      ! {r['kind']}:{r['category']} {r['severity']} [{r['rule_id']}] «{safe(str(r['matched']))}»"
                       f"  id {safe(finding_id(call_id, int(r['pos'])))} ({state})")
        elif table == "reviews":
            click.echo(f"#{r['pos']:<4}      {r['decision']} of {safe(finding_id(call_id, int(r['finding_pos'])))} by {safe(str(r['reviewer']))} "
                       f"{safe(str(r['note']))}".rstrip())
        elif table == "scores":
            click.echo(f"#{r['pos']:<4}      score {r['score']} ({'passed' if r['passed'] else 'failed'}) on {safe(str(r['scorecard']))} v{r['scorecard_version']}")
        elif table == "call_events":
            click.echo(f"#{r['pos']:<4} {r['event']} {r['at']} {safe(str(r['detail'] or ''))}".rstrip())
