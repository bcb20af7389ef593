"""The ``callassist`` command line: a thin layer over the library.

Heavy libraries (spaCy, numpy, sqlite-utils, Vosk) are imported inside the commands that
need them, so ``callassist --help`` answers at once. Every failure reaches the user as one
line: library errors with their code and fix, anything unexpected as an internal error that
asks for a bug report (exit 3), Ctrl-C as a quiet exit 130.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from collections import defaultdict
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from assistant import settings
from assistant._cli_common import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    cell,
    emit,
    format_option,
    lang_filter_option,
    lang_option,
    languages,
    report_problems,
)
from assistant._screen import safe
from assistant.constants import LANGUAGES, MAX_CHARS
from assistant.errors import CallassistError, CallassistWarning, InternalError

if TYPE_CHECKING:
    from assistant.events import Finding


def internal_error_message(exc: BaseException) -> str:
    """One line for an unexpected exception: what it was, and where to report it."""
    from assistant import __version__

    what = type(exc).__name__
    detail = safe(str(exc))[:200]
    message = (f"unexpected internal error ({what}: {detail}); this is a bug in callassist {__version__}: "
               "please report it with the command you ran (set CALLASSIST_DEBUG=1 to see the traceback)")
    return str(InternalError(message))


class _Group(click.Group):
    """Turns library errors into one clear message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CallassistError as exc:
            click.echo(f"Error: {safe(str(exc), keep_newlines=True)}", err=True)
            ctx.exit(EXIT_USAGE)
        except BrokenPipeError:
            _quiet_stdout()
            ctx.exit(1)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
            if settings.flag("debug"):
                raise
            click.echo(f"Error: {internal_error_message(exc)}", err=True)
            ctx.exit(EXIT_INTERNAL)


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(cls=_Group)
@click.version_option(package_name="callassist")
def cli() -> None:
    """callassist: offline assistant for debt-collection calls."""
    warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None) -> None:
    """The library's coded warnings as one plain line (``warning: [W001] …``); others as Python shows them."""
    if issubclass(category, CallassistWarning):
        click.echo(f"warning: {safe(str(message))}", err=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _open_input(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise click.BadParameter(f"cannot open {path}: {exc.strerror}", param_hint="FILE") from exc


def _text_line(no: int, obj: dict[str, Any], findings: list[Finding]) -> str:
    partial = obj.get("partial") is True  # a hypothesis that will change: marked, not numbered as a line of its own
    mark = "   …" if partial else f"{no:>4}"
    head = f"{mark} {safe(str(obj.get('speaker', 'agent'))):8} {safe(str(obj.get('text', '')))}"
    rows = [head]
    for f in findings:
        if partial:
            rows.append(f"       ? {f.severity:8} {f.kind}:{f.category} (provisional) «{safe(f.matched[:60])}»")
            continue
        where = f"{f.start}-{f.end}"
        rows.append(f"       ! {f.severity:8} {f.kind}:{f.category} [{f.rule_id}] {where} «{safe(f.matched[:60])}»")
        if f.suggestion and f.kind == "violation":
            rows.append(f"         → {safe(f.suggestion)}")
    return "\n".join(rows)


_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def _dump(obj: dict[str, Any]) -> str:
    """One output JSON line. Characters that some readers take for line ends (U+2028, U+2029,
    NEL) are escaped, so one input line stays one output line (lone surrogates never get
    this far: the reader refuses them)."""
    text = json.dumps(obj, ensure_ascii=False)
    for raw, escaped in _LINE_BREAKS.items():
        if raw in text:
            text = text.replace(raw, escaped)
    return text


@cli.command()
@click.argument("file", default="-")
@format_option(default="jsonl")
@lang_option("Language of lines without a `lang` field (default: the transcript header, else detected per line).")
@click.option("--skip-bad", is_flag=True, help="Report bad lines (with an `error` field in the output) and go on.")
@click.option("--no-meaning", is_flag=True, help="Rules only: skip the sentence classifier.")
@click.option("--max-chars", type=click.IntRange(min=1), default=MAX_CHARS, show_default=True, help="Longest `text` accepted.")
def check(file: str, fmt: str, lang: str | None, skip_bad: bool, no_meaning: bool, max_chars: int) -> None:
    """Check utterances (JSON Lines) and add `findings` to each line.

    One output record per input line, in the same order (JSON Lines by default: the
    output of one command is the input of the next; csv gives a row per finding). A timed transcript's header
    language is the call's (unless a line or --lang says otherwise); a line marked
    `"partial": true` gets the rule layer only, its findings provisional. Example:

        echo '{"speaker":"agent","text":"不还钱就等着坐牢"}' | callassist check -
    """
    from assistant._jsonl import BadLine, CallHeader, read_records
    from assistant.checker import Checker  # imports spaCy: alone, it is fastest without a thread competing

    checker = Checker(lang or "auto", meaning=not no_meaning, max_chars=max_chars)
    if not no_meaning:
        from assistant.rules.encoder import preload

        preload()  # the sentence encoder loads while the rules are built
    out = _CheckOutput(fmt, sys.stdout)
    bad = 0

    def report_bad(line_no: int, message: str, obj: dict[str, Any] | None) -> None:
        nonlocal bad
        bad += 1
        click.echo(f"line {line_no}: {safe(message)}", err=True)
        if not skip_bad:
            out.close()
            raise click.exceptions.Exit(_input_error(f"stopped at line {line_no} (use --skip-bad to report bad lines and go on)"))
        shown = dict(obj or {})
        shown["error"] = message
        shown["findings"] = []
        out.error(line_no, shown, message)

    call_lang: str | None = None  # a transcript header's language: the call's, over per-line detection
    for rec in read_records(_open_input(file), max_chars=max_chars):
        if isinstance(rec, CallHeader):
            header = rec.obj.get("call")
            call_lang = header.get("lang") if isinstance(header, dict) and header.get("lang") in ("zh", "en") else None
            out.header(rec.line_no, rec.obj)
            continue
        if isinstance(rec, BadLine):
            report_bad(rec.line_no, rec.message, rec.obj)
            continue
        try:
            use_lang = checker.resolve_lang(rec.text, rec.lang or (call_lang if lang is None else None))
            partial = rec.obj.get("partial") is True  # a partial hypothesis: rules only, provisional
            findings = checker.check(rec.text, rec.speaker, lang=use_lang, final=not partial)
        except CallassistError as exc:
            report_bad(rec.line_no, exc.message, rec.obj)
            continue
        except (RecursionError, MemoryError, ValueError, TypeError, UnicodeError) as exc:
            report_bad(rec.line_no, f"cannot be checked ({type(exc).__name__}: {safe(str(exc))[:120]})", rec.obj)
            continue
        obj = dict(rec.obj)
        obj.setdefault("speaker", rec.speaker)
        obj["lang"] = use_lang
        obj["findings"] = [f.to_dict() for f in findings]
        out.line(rec.line_no, obj, findings)
    out.close()
    if bad:
        click.echo(f"{bad} bad line(s) reported", err=True)


def _input_error(message: str) -> int:
    click.echo(f"Error: {message}", err=True)
    return EXIT_USAGE


_CSV_COLUMNS = ["line", "id", "speaker", "lang", "text", "kind", "category", "severity", "rule_id", "start", "end", "matched", "error"]


class _CheckOutput:
    """``check``'s records in the chosen format, written as they come (json is one array)."""

    def __init__(self, fmt: str, out: Any) -> None:
        self.fmt, self.out, self.count = fmt, out, 0
        if fmt == "csv":
            import csv

            self.csv = csv.DictWriter(out, fieldnames=_CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
            self.csv.writeheader()

    def _record(self, obj: dict[str, Any]) -> None:
        if self.fmt == "json":
            self.out.write(("[\n" if self.count == 0 else ",\n") + _dump(obj))
        else:
            self.out.write(_dump(obj) + "\n")
        self.count += 1

    def header(self, line_no: int, obj: dict[str, Any]) -> None:
        if self.fmt in ("jsonl", "json"):
            self._record(obj)
        elif self.fmt == "text":
            self.out.write(f"{line_no:>4} call {safe(str(obj['call']))}\n")

    def error(self, line_no: int, obj: dict[str, Any], message: str) -> None:
        if self.fmt in ("jsonl", "json"):
            self._record(obj)
        elif self.fmt == "csv":
            self.csv.writerow({"line": line_no, "id": obj.get("id"), "error": message})
        else:
            self.out.write(f"{line_no:>4} ERROR {safe(message)}\n")

    def line(self, line_no: int, obj: dict[str, Any], findings: list[Finding]) -> None:
        if self.fmt in ("jsonl", "json"):
            self._record(obj)
        elif self.fmt == "text":
            self.out.write(_text_line(line_no, obj, findings) + "\n")
        else:
            base = {"line": line_no, "id": obj.get("id"), "speaker": obj.get("speaker"), "lang": obj.get("lang"), "text": obj.get("text")}
            for f in obj["findings"] or [{}]:
                self.csv.writerow({k: cell(v) for k, v in {**base, **f}.items()})

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("[]\n" if self.count == 0 else "\n]\n")
        self.out.flush()


@cli.command("eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@lang_option("Language of lines without a `lang` field (default: detected per line).")
@click.option("--no-meaning", is_flag=True, help="Rules only.")
@click.option("--errors", is_flag=True, help="List every miss and false alarm.")
@click.option("--table", "table", type=click.Path(dir_okay=False, writable=True), help="Also write per-file Markdown tables (lines, false alarms by layer, categories, every rule) to this file.")
def eval_(files: tuple[str, ...], lang: str | None, no_meaning: bool, errors: bool, table: str | None) -> None:
    """Precision, recall, F1 and false alarms on labelled JSON Lines, per language and category.

    A timed transcript whose header lists `expect` (the call findings it should raise) is
    call-level gold: it runs through the call pipeline and is scored per call rule family.

    Examples:

        callassist eval lexicons/zh/blind/batch01_a.jsonl --no-meaning
        callassist eval lexicons/en/blind/batch01_a.jsonl --errors --table accuracy.md
    """
    from assistant._jsonl import BadLine, CallHeader, read_records
    from assistant.checker import Checker
    from assistant.evaluate import Report

    checker = Checker(lang or "auto", meaning=not no_meaning)
    reports: dict[str, Report] = defaultdict(Report)
    per_file: dict[tuple[str, str], Report] = defaultdict(Report)
    records = []
    from assistant.evaluate import CallReport, evaluate_call, is_call_gold

    calls = [path for path in files if is_call_gold(path)]
    if calls:
        call_reports: dict[str, CallReport] = defaultdict(CallReport)
        with click.progressbar(calls, label="checking calls", file=sys.stderr) as bar:
            for path in bar:
                use, expected, raised = evaluate_call(path, checker, lang)
                call_reports[use].add(path, expected, raised)
        for use in sorted(call_reports):
            click.echo("\n".join(call_reports[use].lines(f"lang={use}", show_errors=errors)))
            total = call_reports[use].counts()
            click.echo(f"summary calls lang={use}: precision={total.precision:.3f} recall={total.recall:.3f} f1={total.f1:.3f}\n")
    for path in files:
        if path in calls:
            continue
        with open(path, "rb") as fh:
            for rec in read_records(fh):
                if isinstance(rec, BadLine):
                    raise click.exceptions.Exit(_input_error(f"{path}: line {rec.line_no}: {rec.message}"))
                if not isinstance(rec, CallHeader):
                    records.append((path, rec))
    with click.progressbar(records, label="checking", file=sys.stderr) as bar:
        for path, rec in bar:
            use = checker.resolve_lang(rec.text, rec.lang)
            found = checker.check(rec.text, rec.speaker, lang=use)
            reports[use].add(rec.obj, found)
            per_file[(path, use)].add(rec.obj, found)
    if table:
        from assistant import __version__

        out = [f"# Checker accuracy per file (callassist {__version__}{', rules only' if no_meaning else ''})", "",
               "Generated by `callassist eval " + " ".join(files) + f" --table {table}`.", ""]
        for (path, use), rep in sorted(per_file.items()):
            out += rep.markdown(f"{path} ({use})")
        with open(table, "w", encoding="utf-8") as fh:
            fh.write("\n".join(out))
        click.echo(f"wrote {table}", err=True)
    for use in sorted(reports):
        click.echo("\n".join(reports[use].lines(f"lang={use}", show_errors=errors)))
        s = reports[use].summary()
        click.echo(f"summary lang={use}: agent_f1={s['agent_f1']:.3f} agent_false_alarm={s['agent_false_alarm']:.3f} cue_f1={s['cue_f1']:.3f}\n")


@cli.group()
def rules() -> None:
    """Lint, list, test and train the rules in lexicons/."""




@rules.command("lint")
@lang_filter_option()
def rules_lint(lang: str | None) -> None:
    """Validate every lexicon file (line rules, call and contact rules, cue obligations,
    the default QA scorecard); prints `file:line: message` per problem.

    Example:

        callassist rules lint --lang zh
    """
    from assistant.archive.scorecard import load_scorecard
    from assistant.rules.call_rules import load_call_rules
    from assistant.rules.contact import load_contact_rules
    from assistant.rules.loader import lint_lexicon, load_language_config
    from assistant.rules.obligations import load_obligations

    problems: list[str] = []
    count = 0
    for code in languages(lang):
        try:
            load_language_config(code)
        except CallassistError as exc:
            problems.extend(getattr(exc, "problems", [str(exc)]))
        found, loaded, _ = lint_lexicon(code)
        problems.extend(found)
        count += len(loaded)
        try:
            count += len(load_obligations(code)) + len(load_call_rules(code).rules) + len(load_contact_rules(code).rules)
        except CallassistError as exc:
            problems.extend(getattr(exc, "problems", [str(exc)]))
        try:
            load_scorecard(lang=code)
        except CallassistError as exc:
            problems.extend(str(exc).split("\n")[1:] or [str(exc)])
    report_problems(problems, "problem(s)", f"ok: {count} rules (line, call, contact and cue obligations) and the scorecards")


@rules.command("list")
@lang_filter_option()
@click.option("--category", help="Only this category.")
@format_option()
def rules_list(lang: str | None, category: str | None, fmt: str) -> None:
    """Show every rule with its category, severity and citation.

    Example:

        callassist rules list --lang en --category threat_arrest
    """
    from assistant.rules.loader import load_lexicon

    rows = [{"id": rule.id, "lang": code, "kind": rule.kind, "category": rule.category, "severity": rule.severity,
             "speaker": rule.speaker, "citation": list(rule.citation), "verification": rule.verification}
            for code in languages(lang) for rule in load_lexicon(code).rules if not category or rule.category == category]

    def text(listed: list[dict[str, Any]]) -> str:
        out = []
        for r in listed:
            out.append(f"{r['id']}  [{r['kind']}:{r['category']}, {r['severity']}, {r['speaker']}]")
            out += [f"    § {cite}" for cite in r["citation"]]
            out.append(f"    verification: {r['verification']}")
        return "\n".join(out)

    emit(rows, fmt, ["id", "lang", "kind", "category", "severity", "speaker", "citation", "verification"], text)


def example_failures(checker: Any, lang: str) -> list[str]:
    """Every rule example the rule layer gets wrong, as printable lines."""
    failures = []
    for rule in checker.lexicon(lang).rules:
        speaker = "customer" if rule.speaker == "customer" else "agent"
        for text in rule.examples_flag:
            ids = checker.rule_hits(text, speaker, lang=lang)
            if rule.id not in ids:
                failures.append(f"{rule.source}: {rule.id}: should flag: {text}  (got {sorted(ids) or 'nothing'})")
        for text in rule.examples_pass:
            cats = {f.category for f in checker.check(text, speaker, lang=lang, final=False)}
            if rule.category in cats:
                failures.append(f"{rule.source}: {rule.id}: should pass: {text}  (got {sorted(cats)})")
    return failures


@rules.command("test")
@lang_filter_option()
def rules_test(lang: str | None) -> None:
    """Run every rule's `examples` (flag/pass) through the rule layer.

    Example:

        callassist rules test --lang zh
    """
    from assistant.checker import Checker

    checker = Checker(meaning=False)
    failures = [line for code in languages(lang) for line in example_failures(checker, code)]
    report_problems(failures, "example(s) failed", "ok: all examples behave")


@rules.command("train")
def rules_train() -> None:
    """Train the meaning layer on lexicons/*/training/*.jsonl (cross-validated thresholds).

    Writes the model into the lexicon folder ($CALLASSIST_LEXICONS to train a copy). Example:

        callassist rules train
    """
    from assistant.rules.meaning import train

    path, reports = train(progress=lambda msg: click.echo(msg, err=True))
    for role, rep in reports.items():
        for lang in LANGUAGES:
            if lang in rep:
                r = rep[lang]
                click.echo(
                    f"{role:8} {lang} cross-validated line precision={r['line_precision']:.3f} "
                    f"recall={r['line_recall']:.3f} false_alarm_rate={r['false_alarm_rate']:.3f}"
                )
        click.echo(f"{role:8} examples={rep['examples']}")
    click.echo(f"wrote {path}")


@cli.command("settings")
@format_option()
def settings_(fmt: str) -> None:
    """Show every setting (environment variable), what it does and its value here.

    Secrets are shown as set or unset, never their value. Example:

        callassist settings
    """
    rows = []
    for s in settings.SETTINGS.values():
        value = settings.get(s.name)
        shown = ("(set)" if value else "") if s.secret else (value or "")
        if s.name == "archive" and value:
            from assistant.archive.backend import describe

            shown = describe(value)  # a postgresql:// URL without its password
        rows.append({"variable": s.env, "value": shown, "default": s.default, "about": s.about})
    emit(rows, fmt, ["variable", "value", "default", "about"],
         lambda listed: "\n".join(f"{r['variable']}={r['value'] or '(unset: ' + r['default'] + ')'}\n    {r['about']}" for r in listed))


from assistant._cli_archive import archive  # noqa: E402 - commands defined in their own modules
from assistant._cli_audit import audit  # noqa: E402
from assistant._cli_calls import check_call, precall  # noqa: E402
from assistant._cli_ingest import serve_calls  # noqa: E402
from assistant._cli_live import demo, live  # noqa: E402
from assistant._cli_review import report, score, serve, users  # noqa: E402
from assistant._cli_scripts import practice, scripts  # noqa: E402
from assistant._cli_speech import devices, models, transcribe  # noqa: E402

cli.add_command(archive)
cli.add_command(audit)
cli.add_command(check_call)
cli.add_command(precall)
cli.add_command(scripts)
cli.add_command(practice)
cli.add_command(transcribe)
cli.add_command(models)
cli.add_command(devices)
cli.add_command(live)
cli.add_command(demo)
cli.add_command(score)
cli.add_command(report)
cli.add_command(users)
cli.add_command(serve)
cli.add_command(serve_calls)


def main() -> None:
    """Entry point of the ``callassist`` console script."""
    try:
        cli(prog_name="callassist")
    except KeyboardInterrupt:  # Ctrl-C outside a command (while click starts up)
        sys.exit(EXIT_INTERRUPTED)
