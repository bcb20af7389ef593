"""The collector's terminal view (rich): rolling two-speaker transcript with the partial
line updating in place, alerts in plain words with the "say instead" line, the stage, and
the next three suggested lines (keys 1–3 mark one as used)."""
from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from assistant._screen import safe
from assistant.events import Partial
from assistant.pipeline.registry import registry
from assistant.views.state import LiveState

COLOURS = {"critical": "bold white on red", "major": "bold red", "minor": "yellow", "info": "cyan"}
SPEAKER_STYLE = {"agent": "bold blue", "customer": "bold green"}


def render(state: LiveState) -> Group:
    """The whole screen for ``state``."""
    t = state.text
    head = Text.assemble((f"{t['title']}  ", "bold"), (f"{t['call']} {safe(state.call_id)}  ", "dim"),
                         (f"{t['stage']}: ", "bold"), (t.stage(state.stage), "bold magenta"))
    if state.ended:
        head.append(f"   {t['ended']}: {t.status(state.ended)}", style="bold")
    banner = None
    if state.contact:
        banner = Text(f" {t['contact_banner']} ", style="bold white on red")
        for f in state.contact:
            banner.append(f"\n{t.category(f.category)}: {safe(f.explanation)}", style=COLOURS.get(f.severity, ""))
    talk = Table.grid(padding=(0, 1))
    talk.add_column(no_wrap=True)
    talk.add_column(ratio=1, overflow="fold")
    for u in state.lines:
        who = Text(t.speaker(u.speaker), style=SPEAKER_STYLE.get(u.speaker, ""))
        said = Text(safe(u.text))
        if u.seq in state.unsure:
            said.append(f"  ({t['low_confidence']})", style="dim yellow")
        talk.add_row(who, said)
    for speaker, text in sorted(state.partial.items()):
        talk.add_row(Text(t.speaker(speaker), style="dim"), Text(safe(text) + " …", style="dim italic"))
    if not state.lines and not state.partial:
        talk.add_row("", Text(t["waiting"], style="dim"))
    alerts = Table.grid(padding=(0, 1))
    alerts.add_column(no_wrap=True)
    alerts.add_column(ratio=1, overflow="fold")
    for a in reversed(state.alerts[-5:]):
        f = a.finding
        style = "dim strike" if a.status == "withdrawn" else COLOURS.get(f.severity, "")
        body = Text(f"{t.category(f.category)}: «{safe(f.matched)}»", style="strike" if a.status == "withdrawn" else "")
        if a.status == "provisional":
            body.append(f" ({t['provisional']})", style="dim")
        if a.status == "withdrawn":
            body.append(f"  {t['withdrawn']}", style="dim")
        if f.low_confidence:
            body.append(f"  {t['low_confidence']}", style="yellow")
        if f.kind == "violation" and f.suggestion and a.status != "withdrawn":
            body.append(f"\n{t['say_instead']}: {safe(f.suggestion)}", style="green")
        if state.verbose:
            body.append(f"  [{f.rule_id} {f.start}:{f.end}]", style="dim")
        alerts.add_row(Text(f" {t.severity(f.severity)} ", style=style), body)
    if not state.alerts:
        alerts.add_row("", Text(t["no_alerts"], style="dim"))
    lines = Table.grid(padding=(0, 1))
    lines.add_column(no_wrap=True)
    lines.add_column(ratio=1, overflow="fold")
    for k, s in enumerate(state.suggestions[:3], 1):
        lines.add_row(Text(f"{k}.", style="bold"), Text(safe(s.text) + (f"  [{s.line_id}]" if state.verbose else "")))
    if not state.suggestions:
        lines.add_row("", Text(t["no_suggestions"], style="dim"))
    return Group(head, *([banner] if banner is not None else []), Panel(talk, title=t["call"]), Panel(alerts, title=t["alerts"]),
                 Panel(lines, title=t["suggest"], subtitle=t["keys"] if not state.ended else None))


@registry.sink("terminal")
class TerminalView:
    """A sink that keeps a :class:`LiveState` and redraws it in place (at most ``fps`` times a second)."""

    def __init__(self, lang: str = "zh", verbose: bool = False, console: Console | None = None, fps: float = 12.0) -> None:
        self.state = LiveState(lang=lang, verbose=verbose)
        self.console = console or Console()
        self.live = Live(render(self.state), console=self.console, auto_refresh=False, transient=False)
        self.live.start()
        self.min_gap = 1.0 / fps
        self.last = 0.0

    def handle(self, event: Any) -> None:
        """Apply the event and redraw (a partial redraws only when the last redraw is old enough)."""
        if not self.state.apply(event):
            return
        now = time.monotonic()
        if isinstance(event, Partial) and now - self.last < self.min_gap:
            return
        self.last = now
        self.live.update(render(self.state), refresh=True)

    def close(self) -> None:
        """Draw the last screen and leave it."""
        self.live.update(render(self.state), refresh=True)
        self.live.stop()


class KeyReader:
    """Reads single keys from the collector's terminal (1–3: the suggestion used) in a thread.

    Does nothing when stdin is not a terminal. :meth:`restore` puts the terminal back."""

    def __init__(self, on_key: Any, stop: Any, stream: Any = None) -> None:
        import sys

        self.on_key = on_key
        self.stop = stop
        self.stream = stream if stream is not None else sys.stdin
        self._saved: Any = None
        self._thread: Any = None

    def start(self) -> None:
        """Switch the terminal to single keys and start reading."""
        import threading

        try:
            if not self.stream.isatty():
                return
            import termios
            import tty

            fd = self.stream.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        except (ImportError, OSError, ValueError, AttributeError):  # no terminal control here: no keys
            self._saved = None
            return
        self._thread = threading.Thread(target=self._run, name="callassist-keys", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import os
        import select

        fd = self.stream.fileno()
        while not self.stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.2)
                if not ready:
                    continue
                key = os.read(fd, 1)
            except (OSError, ValueError):  # the terminal went away: no more keys
                return
            if key in (b"1", b"2", b"3"):
                self.on_key(int(key))

    def restore(self) -> None:
        """Stop reading (once ``stop`` is set) and give the terminal back as it was."""
        if self._thread is not None:
            self._thread.join(1.0)
            self._thread = None
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None
