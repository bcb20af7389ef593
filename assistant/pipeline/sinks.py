"""Built-in sinks: the archive, JSON Lines events, a timed transcript, a plain log, and a
memory sink (the test double). Registered like plugins (the class is the factory)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any, Callable

from assistant._screen import safe
from assistant.asr.output import clock, format_event, header_line
from assistant.events import CallEnded, CallStarted, Finding, LowConfidence, Partial, StageChanged, Suggestion, SuggestionUsed, Utterance, Withdrawn
from assistant.pipeline.registry import registry


def event_dict(event: Any) -> dict[str, Any]:
    """An event as one JSON-ready object with its type: ``{"event": "finding", ...}``."""
    name = {CallStarted: "call_started", Partial: "partial", Utterance: "utterance", Finding: "finding", Withdrawn: "withdrawn",
            LowConfidence: "low_confidence", StageChanged: "stage", Suggestion: "suggestion", SuggestionUsed: "suggestion_used",
            CallEnded: "call_ended"}.get(type(event), type(event).__name__)
    if isinstance(event, (Utterance, Finding)):
        body = event.to_dict()
        if isinstance(event, Utterance):
            body = {"call_id": event.call_id, "seq": event.seq, **body}
    elif isinstance(event, Withdrawn):
        body = {"call_id": event.call_id, "finding": event.finding.to_dict()}
    elif isinstance(event, CallStarted):
        body = {"call_id": event.call_id, "lang": event.lang}
    elif isinstance(event, Partial):
        body = {"call_id": event.call_id, "speaker": event.speaker, "start": round(event.start, 3), "end": round(event.end, 3), "text": event.text}
    else:
        body = dict(vars(event))
    return {"event": name, **body}


@registry.sink("memory")
class MemorySink:
    """Keeps every event in ``events`` (for tests and for callers that want the whole call)."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.closed = False

    def handle(self, event: Any) -> None:
        """Keep it."""
        self.events.append(event)

    def close(self) -> None:
        """Mark closed."""
        self.closed = True

    def of(self, kind: type) -> list[Any]:
        """The events of one type."""
        return [e for e in self.events if isinstance(e, kind)]


@registry.sink("jsonl")
class JsonlSink:
    """Every event as one JSON line (``partials=False`` leaves partial hypotheses out)."""

    def __init__(self, output: IO[str], partials: bool = True) -> None:
        self.output = output
        self.partials = partials

    def handle(self, event: Any) -> None:
        """Write the event's line."""
        if isinstance(event, Partial) and not self.partials:
            return
        self.output.write(json.dumps(event_dict(event), ensure_ascii=False) + "\n")
        self.output.flush()

    def close(self) -> None:
        """Flush."""
        self.output.flush()


@registry.sink("transcript")
class TranscriptSink:
    """Utterances (and, with ``partials``, partial hypotheses) in a transcript format:
    ``jsonl`` (the timed-transcript format `check` reads), ``text`` or ``srt``."""

    def __init__(self, output: IO[str], fmt: str = "jsonl", partials: bool = False, meta: dict[str, Any] | None = None) -> None:
        self.output = output
        self.fmt = fmt
        self.partials = partials
        self.meta = meta
        self.count = 0

    def handle(self, event: Any) -> None:
        """Write utterances and wanted partials; the header first."""
        if isinstance(event, CallStarted) and self.meta is not None:
            head = header_line(self.meta, self.fmt)
            if head:
                self.output.write(head + "\n")
            return
        if isinstance(event, Partial) and not self.partials:
            return
        if isinstance(event, (Partial, Utterance)):
            if isinstance(event, Utterance):
                self.count += 1
            self.output.write(format_event(event, self.fmt, self.count) + "\n")
            self.output.flush()

    def close(self) -> None:
        """Flush."""
        self.output.flush()


@registry.sink("archive")
class ArchiveSink:
    """Records the call as it happens: utterances, final findings (with their rule version),
    low-confidence marks, suggestions shown and used; seals it at a normal end, marks it
    interrupted otherwise. Partial hypotheses and provisional findings are never archived.

    ``archive`` is an open :class:`~assistant.archive.Archive`, or a path opened on the
    first event (so the sink can live in its own thread: SQLite connections stay in the
    thread that made them).
    """

    def __init__(self, archive: Any, *, key: bytes | None = None) -> None:
        from assistant.archive.backend import as_target

        self._archive = archive if not isinstance(archive, (str, Path)) else None
        self._path = as_target(archive) if isinstance(archive, (str, Path)) else None
        self._key = key
        self._own = False
        self._case: dict[str, Any] = {}

    @property
    def archive(self) -> Any:
        """The archive, opened on first use."""
        if self._archive is None:
            from assistant.archive.backend import make_room
            from assistant.archive.store import Archive

            assert self._path is not None
            make_room(self._path)
            self._archive = Archive(self._path, key=self._key)
            self._own = True
        return self._archive

    def handle(self, event: Any) -> None:
        """Record what belongs in the archive."""
        if isinstance(event, CallStarted):
            m = dict(event.meta)
            self._case = dict(m.get("case") or {})
            self.archive.start_call(event.call_id, case=m.get("case") or None, agent_id=str(m.get("agent_id", "")),
                                    agent_name=str(m.get("agent_name", "")), direction=str(m.get("direction", "outbound")),
                                    started_at=m.get("started_at"), lang=event.lang, channel_map=m.get("channel_map") or {},
                                    asr_model=str(m.get("asr_model", "")), ruleset_version=str(m.get("ruleset_version", "")),
                                    ruleset_hash=str(m.get("ruleset_hash", "")), source=str(m.get("source", "")))
        elif isinstance(event, Utterance):
            self.archive.add_utterance(event.call_id, event)
        elif isinstance(event, Finding) and not event.provisional:
            self.archive.add_finding(event.call_id, event.seq, event, int(event.extra.get("rule_version", 1)))
            update = event.case_update
            if update and self._case.get("id"):  # what the customer granted or refused goes onto the case
                from assistant.archive.cases import merge_case

                self._case = merge_case(self._case, update)
                self.archive.put_case(self._case)
        elif isinstance(event, LowConfidence):
            self.archive.add_event(event.call_id, "low_confidence", f"utterance {event.seq} ({event.speaker}): {event.reason}")
        elif isinstance(event, Suggestion):
            self.archive.add_suggestion(event.call_id, event.seq, event.line_id, event.text, "shown")
        elif isinstance(event, SuggestionUsed):
            self.archive.add_suggestion(event.call_id, event.seq, event.line_id, event.text, "used")
        elif isinstance(event, CallEnded):
            if event.status == "sealed":
                self.archive.seal(event.call_id)
            else:
                self.archive.mark_interrupted(event.call_id, event.reason)

    def close(self) -> None:
        """Close the archive if this sink opened it."""
        if self._own and self._archive is not None:
            self._archive.close()
            self._archive = None


@registry.sink("log")
class PlainLogSink:
    """A plain, line-by-line log of the call for a terminal that is not one (CI, a pipe):
    final utterances, alerts in plain words, stage changes, suggestions. ``verbose`` adds
    rule ids and character spans."""

    def __init__(self, write: Callable[[str], None], lang: str = "zh", verbose: bool = False) -> None:
        from assistant.views.labels import labels

        self.write = write
        self.text = labels(lang)
        self.verbose = verbose
        self._seq = -1
        self._top = ""

    def handle(self, event: Any) -> None:
        """Log the event (partials are left out: they would repeat every line)."""
        t = self.text
        if isinstance(event, CallStarted):
            self.write(f"{t['call']} {safe(event.call_id)}")
        elif isinstance(event, Utterance):
            self.write(f"[{clock(event.start)[3:11]}] {t.speaker(event.speaker)}: {safe(event.text)}")
        elif isinstance(event, Finding) and event.kind == "contact" and not event.case_update:
            self.write(f"  !! {t['contact_banner']}: {t.category(event.category)}: {safe(event.explanation)}")
        elif isinstance(event, Finding):
            if not event.provisional or self.verbose:
                self.write("  " + (f"{t.speaker(event.speaker)} " if event.provisional else "") + t.alert_line(event, self.verbose))
        elif isinstance(event, Withdrawn) and self.verbose:
            self.write(f"  {t['withdrawn']}: {t.category(event.finding.category)}")
        elif isinstance(event, LowConfidence):
            self.write(f"  {t['low_confidence']} ({safe(event.reason)})")
        elif isinstance(event, StageChanged):
            self.write(f"  {t['stage']}: {t.stage(event.previous)} → {t.stage(event.stage)}")
        elif isinstance(event, Suggestion):
            if self.verbose:
                self.write(f"  {t['suggest']}: {safe(event.text)}  [{event.line_id}]")
            elif event.seq != self._seq:  # the top line after an utterance, when it is a new one
                self._seq = event.seq
                if event.line_id != self._top:
                    self._top = event.line_id
                    self.write(f"  {t['suggest']}: {safe(event.text)}")
        elif isinstance(event, SuggestionUsed):
            self.write(f"  {t['used']}: {safe(event.text)}")
        elif isinstance(event, CallEnded):
            self.write(f"{t['ended']}: {t.status(event.status)}" + (f" ({safe(event.reason)})" if event.reason else ""))

    def close(self) -> None:
        """Nothing to release."""
