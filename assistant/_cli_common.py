"""The command line's conventions, defined once and used by every command.

Options
    ``--archive PATH``   wherever an archive is read or written (before or after the sub-command);
                          default ``$CALLASSIST_ARCHIVE``, else ``~/.local/share/callassist/archive.db``.
    ``--lang zh|en``     the language; not given means "from the data" (a line's own ``lang``,
                          a transcript header, a case file, the model), or both languages for
                          commands over the rule set or the script library.
    ``--format text|jsonl|json|csv``  on every command that prints records; ``text`` (for
                          people) by default, ``jsonl`` for programs.
    ``--call-id ID``     a call named as an option; a command that acts on one call takes
                          it as its first argument, ``CALL_ID``.

Exit codes
    0 ok · 1 the check ran and failed (problems found, a verification failed) · 2 usage or
    input error (``Error: …`` naming the fix) · 3 internal error (a bug: please report it) ·
    130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, NoReturn, Sequence, TypeVar

import click

from assistant._screen import safe
from assistant.constants import LANGUAGES

if TYPE_CHECKING:
    from assistant.archive.store import Archive

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

FORMATS = ("text", "jsonl", "json", "csv")
LANG_CHOICES = ("zh", "en")
_LANG_ALIASES = ("auto", "all")  # older spellings of "not given", still accepted

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    """End a command whose check ran and found problems: ``FAILED: …`` on stderr, exit 1."""
    click.echo(f"FAILED: {message}", err=True)
    raise click.exceptions.Exit(EXIT_FAILED)


class _Lang(click.Choice[str]):
    """``zh`` or ``en``; ``auto`` and ``all`` (older spellings) mean "not given"."""

    def __init__(self) -> None:
        super().__init__(list(LANG_CHOICES))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() in _LANG_ALIASES:
            return None
        return super().convert(value, param, ctx)


def lang_option(help: str = "Language (default: from the data).") -> Callable[[F], F]:
    """The one ``--lang`` option: ``zh`` or ``en``, default not given (None)."""
    return click.option("--lang", type=_Lang(), default=None, help=help)


def languages(lang: str | None) -> tuple[str, ...]:
    """The languages a ``--lang`` value covers: that one, or every language when not given."""
    return LANGUAGES if lang is None else (lang,)


def lang_filter_option() -> Callable[[F], F]:
    """``--lang`` on commands over the rule set or the script library: one language, or both."""
    return lang_option("Only this language (default: both).")


def report_problems(problems: Sequence[str], failed: str, ok: str) -> None:
    """Print each problem and end ``FAILED: <count> <failed>``, or print ``ok``."""
    for problem in problems:
        click.echo(problem)
    if problems:
        fail(f"{len(problems)} {failed}")
    click.echo(ok)


def format_option(default: str = "text", choices: Sequence[str] = FORMATS) -> Callable[[F], F]:
    """The one ``--format`` option of commands that print records."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default, show_default=True,
                        help="text for people; jsonl, json or csv for programs.")


def _remember_archive(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        from assistant.archive.backend import as_target

        if not value.strip():
            raise click.BadParameter("give a file name or a postgresql:// URL", param_hint="--archive")
        target = as_target(value)
        if isinstance(target, Path) and target.is_dir():
            raise click.BadParameter(f"{target} is a directory: give a file name such as {target / 'archive.db'}", param_hint="--archive")
        ctx.ensure_object(dict)
        ctx.obj["path"] = target
    return value


def archive_option(fn: F) -> F:
    """``--archive PATH|URL``, accepted by a group and each of its commands (the command's wins)."""
    return click.option("--archive", "archive_path", metavar="PATH|URL", default=None,
                        expose_value=False, callback=_remember_archive, is_eager=True,
                        help="Archive file, or a PostgreSQL database as postgresql://USER@HOST/DB "
                             "(default: $CALLASSIST_ARCHIVE or ~/.local/share/callassist/archive.db).")(fn)


def archive_path(ctx: click.Context) -> "Path | str":
    """The archive named by ``--archive`` on this command or its group, else the default:
    a file's path, or a ``postgresql://`` URL."""
    from assistant.files import default_archive  # reads YAML helpers: only when an archive is used

    obj = ctx.find_object(dict) or {}
    path = obj.get("path")
    return path if isinstance(path, (Path, str)) else default_archive()


def open_archive(ctx: click.Context, readonly: bool = False) -> "Archive":
    """The archive named by --archive; read-only commands never create or change a file."""
    from assistant.archive.backend import make_room
    from assistant.archive.store import Archive

    path = archive_path(ctx)
    if not readonly:
        make_room(path)
    archive = Archive(path, readonly=readonly, max_bytes=(ctx.find_object(dict) or {}).get("max_bytes"))
    if not readonly:
        for call_id in archive.recover():
            click.echo(f"call {call_id} was left open by a process that is gone: marked interrupted", err=True)
    ctx.call_on_close(archive.close)
    return archive


def existing_archive(ctx: click.Context) -> "Archive | None":
    """The archive named by --archive opened read-only, or None when there is no such file:
    a check never creates one."""
    from assistant.archive.backend import exists

    return open_archive(ctx, readonly=True) if exists(archive_path(ctx)) else None


def cell(value: Any) -> str:
    """A value as one text or csv cell (lists joined, mappings as JSON)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def text_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as aligned text columns; widths counted in terminal cells, so Chinese lines up."""
    from rich.cells import cell_len

    cells = [[safe(cell(row.get(c))) for c in columns] for row in rows]
    widths = [max([cell_len(c)] + [cell_len(r[k]) for r in cells]) for k, c in enumerate(columns)]
    lines = []
    for r in [list(columns)] + cells:
        padded = [v + " " * (widths[k] - cell_len(v)) for k, v in enumerate(r)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def emit(rows: Iterable[dict[str, Any]], fmt: str, columns: Sequence[str], text: Callable[[list[dict[str, Any]]], str] | None = None) -> int:
    """Print records in the chosen format; returns how many. ``columns`` order the csv and
    text table (jsonl/json keep every key); ``text`` overrides the default table."""
    if fmt == "jsonl":
        count = 0
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
            count += 1
        return count
    listed = list(rows)
    if fmt == "json":
        click.echo(json.dumps(listed, ensure_ascii=False, indent=1))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in listed:
            writer.writerow({c: cell(row.get(c)) for c in columns})
        click.echo(buf.getvalue(), nl=False)
    elif listed:
        click.echo(text(listed) if text else text_table(listed, columns))
    return len(listed)
