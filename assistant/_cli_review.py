"""QA review commands of the CLI: ``callassist score``, ``report``, ``users …`` and ``serve``."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from assistant._cli_audit import echo_scores, scorecards
from assistant._cli_common import archive_option, emit, format_option, lang_option, open_archive
from assistant._screen import safe

_SCORECARD = click.option("--scorecard", "scorecard_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                          help="Scorecard YAML (one per language; default: lexicons/LANG/qa/scorecard.yaml).")
_TEMPLATES = click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path),
                          help="Folder of templates that override the shipped ones (same file names).")


@click.command("score")
@archive_option
@click.option("--call-id", "call_ids", multiple=True, help="Only this call (repeatable; default: every ended call).")
@_SCORECARD
@format_option()
@click.pass_context
def score(ctx: click.Context, call_ids: tuple[str, ...], scorecard_files: tuple[Path, ...], fmt: str) -> None:
    """Score calls against the scorecards and record each new score in the call's chain.

    A score follows the reviews: a dismissed flag costs nothing, a flag the recogniser was
    unsure of costs nothing until a reviewer confirms it. Scores that did not change are
    not recorded again. Example:

        callassist score --scorecard lexicons/zh/qa/scorecard.yaml
    """
    from assistant.archive.scorecard import record_agent_scores, record_scores, score_calls

    cards = scorecards(scorecard_files)
    store = open_archive(ctx)
    results = [s for card in cards.values() for s in score_calls(store, card, list(call_ids) or None)]
    if call_ids and not results:
        raise click.BadParameter("none of these is an ended call in the archive (`callassist archive calls` lists them)", param_hint="--call-id")
    written = record_scores(store, results, "cli")
    if written:
        record_agent_scores(store, results, "cli")
    rows = [{"call_id": s.call_id, "agent_id": s.agent_id, "score": s.score, "passed": s.passed, "auto_fail": list(s.auto_fail),
             "scorecard": f"{s.scorecard} v{s.version}", "deductions": len(s.deductions), "asr_review": s.asr_review} for s in results]
    emit(rows, fmt, ["call_id", "agent_id", "score", "passed", "auto_fail", "scorecard", "deductions", "asr_review"])
    if fmt == "text" and results:
        echo_scores(results)
    click.echo(f"{written} new score(s) recorded", err=True)


@click.command("report")
@archive_option
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write (index.html, calls/, evidence/).")
@click.option("--call-id", "call_ids", multiple=True, help="Only this call (repeatable; default: every ended call).")
@click.option("--evidence", is_flag=True, help="Also export each call's evidence bundle, linked from its page.")
@click.option("--redact", is_flag=True, help="Mask personal data in every text shown (and in the evidence bundles).")
@_SCORECARD
@_TEMPLATES
@lang_option("Language of the report's words (default: zh).")
@click.pass_context
def report(ctx: click.Context, out: Path, call_ids: tuple[str, ...], evidence: bool, redact: bool, scorecard_files: tuple[Path, ...],
           templates: Path | None, lang: str | None) -> None:
    """Write the QA report: a batch page with charts and one page per call, self-contained
    HTML that opens offline. The folder is private to you (it holds transcripts).

    Templates: copy report_batch.html or report_call.html from assistant/archive/templates
    into a folder, edit, and pass --templates FOLDER. Example:

        callassist report --out qa-report --redact --evidence
    """
    from assistant.archive.report import write_report

    cards = scorecards(scorecard_files)
    store = open_archive(ctx, readonly=True)
    with click.progressbar(length=max(1, len(store.calls())), label="writing the report", file=sys.stderr) as bar:
        result = write_report(store, out, cards, lang=lang or "zh", templates=templates, call_ids=list(call_ids) or None, evidence=evidence,
                              redact=redact, progress=lambda _: bar.update(1))
    held = f"; {result.asr_review} flag(s) wait for a reviewer because the recogniser was unsure" if result.asr_review else ""
    click.echo(f"wrote {result.index} ({result.calls} call(s), {result.flags} flag(s){held})")


@click.group("users")
@archive_option
def users() -> None:
    """The review app's users (kept in the archive; every change is in its log)."""


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise click.UsageError("no terminal to ask for the password on: pipe it in with --password-stdin")
    return str(click.prompt("password", hide_input=True, confirmation_prompt=True))


@users.command("add")
@archive_option
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["agent", "trainer", "reviewer", "admin"]),
              help="agent: own calls, disputes; trainer: all calls, rule rates; reviewer: also decides; admin: also unredacted export.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input (else asked for, hidden).")
@click.option("--replace", is_flag=True, help="Change an existing user's role and password.")
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool, replace: bool) -> None:
    """Add a user (an agent's user name is their agent id). Example:

        echo "a long pass phrase" | callassist users add qa.li --role reviewer --password-stdin
    """
    from assistant.archive.users import add_user

    password = _password(password_stdin)
    user = add_user(open_archive(ctx), name, role, password, replace=replace)
    click.echo(f"user {safe(user.name)}: {user.role}")


@users.command("list")
@archive_option
@format_option()
@click.pass_context
def users_list(ctx: click.Context, fmt: str) -> None:
    """List the users and their roles (never their passwords). Example:

        callassist users list
    """
    from assistant.archive.users import list_users

    emit(list_users(open_archive(ctx)), fmt, ["name", "role", "created_at", "disabled"])


@users.command("disable")
@archive_option
@click.argument("name")
@click.pass_context
def users_disable(ctx: click.Context, name: str) -> None:
    """Stop a user from signing in; their decisions stay on record. Example:

        callassist users disable qa.li
    """
    from assistant.archive.users import disable_user

    disable_user(open_archive(ctx), name)
    click.echo(f"user {safe(name)} can no longer sign in")


@click.command("serve")
@archive_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (other machines can reach it only if you say so).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port (0: any free port).")
@_SCORECARD
@_TEMPLATES
@lang_option("Language of the pages (default: zh).")
@click.option("--check", is_flag=True, help="Open the archive, load everything, bind the port, print the address and exit.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, scorecard_files: tuple[Path, ...], templates: Path | None, lang: str | None, check: bool) -> None:
    """Serve the QA review app: calls, review queue, call pages with the recording,
    confirm / dismiss / dispute, search, evidence export, rule dismissal rates.

    Users sign in (`callassist users add`); stop with Ctrl-C. Example:

        callassist serve --port 0 --check
    """
    from assistant.archive.users import list_users
    from assistant.views.review_app import ReviewApp, ReviewServer

    cards = scorecards(scorecard_files)
    store = open_archive(ctx)
    if not any(not u["disabled"] for u in list_users(store)):
        click.echo("no users yet: add one with `callassist users add NAME --role reviewer` (nobody can sign in)", err=True)
    server = ReviewServer(ReviewApp(store, lang=lang or "zh", templates=templates, cards=cards), host, port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: other machines can reach the app; put it behind TLS (a reverse proxy)", err=True)
    click.echo(f"review app at {server.url}", err=False)
    if check:
        server.close()
        return
    try:
        server.serve_forever()
    finally:
        server.close()

