"""Read JSON Lines utterances for ``check``/``eval`` with a clear error for every bad line."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from assistant._values import near_miss
from assistant.constants import LANGUAGES, MAX_CHARS
from assistant.errors import CallassistError


@dataclass(frozen=True)
class Record:
    """One good input line: the object as read plus the fields the checker needs."""

    line_no: int
    obj: dict[str, Any]
    text: str
    speaker: str
    lang: str | None


@dataclass(frozen=True)
class CallHeader:
    """The optional ``{"call": {...}}`` line of a timed transcript: passed through as is."""

    line_no: int
    obj: dict[str, Any]


@dataclass(frozen=True)
class BadLine:
    """One input line that cannot be checked, with the reason."""

    line_no: int
    message: str
    obj: dict[str, Any] | None = None


def parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """One line of JSON Lines as an object, or ``(None, why not)``: the one place a line is
    decoded and parsed, for ``check``'s input, transcripts and training corpora alike."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); re-encode the file as UTF-8 (e.g. iconv -f GB18030 -t UTF-8)"
    if not line.strip():
        return None, "empty line: expected a JSON object"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        return None, f"unusable JSON ({_json_trouble(exc)})"
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    lone = _unpaired_surrogate(obj)
    if lone is not None:
        return None, f"holds an unpaired surrogate {lone}: not valid Unicode text (was the file written as UTF-8?)"
    return obj, ""


def json_objects(path: str | Path, error: type[CallassistError]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of one of our JSON Lines files
    (transcripts, training corpora); anything else raises ``error`` naming file and line."""
    for no, raw in enumerate(Path(path).read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        obj, why = parse_line(raw)
        if obj is None:
            raise error(f"{path}:{no}: {why}")
        yield no, obj


def _json_trouble(exc: BaseException) -> str:
    """What is wrong with JSON that parses badly in a way json.JSONDecodeError does not cover."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(";")[0][:120]


def _unpaired_surrogate(value: Any) -> str | None:
    """The first lone surrogate (a ``\\ud800`` escape) in any string inside ``value``."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"\\u{ord(v[exc.start]):04x}"
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for no, raw in enumerate(stream, 1):
        yield no, raw.rstrip(b"\r\n")


KNOWN_KEYS = ("text", "speaker", "lang", "id", "start", "end", "words", "conf", "seq", "call")


def _near_miss(obj: dict[str, Any]) -> str | None:
    """A key that is a typo of a known one (``speeker``) would silently change the check."""
    for key in obj:
        if key in KNOWN_KEYS:
            continue
        near = near_miss(key, KNOWN_KEYS)
        if near and near not in obj:
            return f"unknown key {key!r}: did you mean {near!r}?"
    return None


def read_records(
    stream: BinaryIO, max_chars: int = MAX_CHARS, default_lang: str | None = None
) -> Iterator[Record | CallHeader | BadLine]:
    """Yield a :class:`Record`, :class:`CallHeader` or :class:`BadLine` per line, in order."""
    for no, raw in _lines(stream):
        if len(raw) > max_chars * 4 + 1024:
            yield BadLine(no, f"line is {len(raw):,} bytes, longer than any utterance (limit {max_chars:,} characters; raise it with --max-chars)")
            continue
        obj, why = parse_line(raw)
        if obj is None:
            yield BadLine(no, why + (" with a `text` field" if why.startswith("empty line") else ""))
            continue
        near = _near_miss(obj)
        if near:
            yield BadLine(no, near, obj)
            continue
        if "call" in obj and "text" not in obj:
            yield CallHeader(no, obj)
            continue
        text = obj.get("text")
        if not isinstance(text, str):
            what = "missing" if text is None else f"a {type(text).__name__}, not a string"
            yield BadLine(no, f"`text` is {what}", obj)
            continue
        if len(text) > max_chars:
            yield BadLine(no, f"`text` has {len(text):,} characters, over the limit of {max_chars:,} (raise it with --max-chars)", obj)
            continue
        speaker = obj.get("speaker", "agent")
        if speaker not in ("agent", "customer"):
            yield BadLine(no, f"unknown speaker {speaker!r}: use agent or customer", obj)
            continue
        lang = obj.get("lang", default_lang)
        if lang is not None and lang not in (*LANGUAGES, "auto"):
            yield BadLine(no, f"unknown language {lang!r}: use zh or en (or omit `lang` to detect it)", obj)
            continue
        yield Record(no, obj, text, speaker, None if lang == "auto" else lang)
