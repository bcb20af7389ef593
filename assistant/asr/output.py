"""Utterances as text: timed-transcript JSON Lines, a readable transcript, SubRip subtitles."""
from __future__ import annotations

import json
from typing import Any

from assistant.constants import FORMATS  # noqa: E402,F401 - re-exported
from assistant.events import Partial, Utterance


def clock(seconds: float, sep: str = ".") -> str:
    """``HH:MM:SS.mmm`` (``sep=","`` for SubRip)."""
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def header_line(meta: dict[str, Any], fmt: str) -> str | None:
    """The call's first line: ``{"call": …}`` for JSON Lines, a comment for text, nothing for SubRip."""
    if fmt == "jsonl":
        return json.dumps({"call": meta}, ensure_ascii=False)
    if fmt == "text":
        return "# " + " ".join(f"{k}={v}" for k, v in meta.items() if not isinstance(v, dict))
    return None


def format_event(event: Partial | Utterance, fmt: str, index: int = 0) -> str:
    """One event in ``fmt``; ``index`` numbers SubRip cues. Partials are marked as such."""
    if isinstance(event, Partial):
        if fmt == "jsonl":
            return json.dumps({"partial": True, "speaker": event.speaker, "start": round(event.start, 3), "text": event.text}, ensure_ascii=False)
        return f"  … {event.speaker:8} {event.text}"
    if fmt == "jsonl":
        return json.dumps(event.to_dict(), ensure_ascii=False)
    if fmt == "text":
        return f"[{clock(event.start)} – {clock(event.end)}] {event.speaker:8} {event.text}  (conf {event.conf:.2f})"
    return f"{index}\n{clock(event.start, ',')} --> {clock(event.end, ',')}\n{event.speaker}: {event.text}\n"
