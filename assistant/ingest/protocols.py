"""The wire formats telephony uses to fork a call's audio to us, read and written by hand
from their public descriptions.

- **Asterisk AudioSocket** (TCP): every message is a 3-byte header — one type byte, a
  big-endian 16-bit payload length — and the payload. Types: ``0x00`` hang-up, ``0x01`` the
  call leg's UUID (16 bytes), ``0x03`` a DTMF digit, ``0x10`` signed-linear 16-bit 8 kHz
  mono PCM (little-endian; ``0x11``–``0x18`` the same at higher rates on newer Asterisk),
  ``0xff`` an error (optional code byte). One connection per call leg.
- **WebSocket fork** (FreeSWITCH ``mod_audio_stream``/``mod_audio_fork``, jambonz
  ``listen``): a first text message with JSON metadata, then binary messages of 16-bit
  little-endian PCM, mono or interleaved stereo (agent, customer), at 8 or 16 kHz; the
  server sends findings back as JSON text; ``{"event": "stop"}`` ends the audio and keeps
  the connection open for the last findings (closing it ends the audio too).
- **vosk-server**: a text message ``{"config": {"sample_rate": …}}``, binary chunks of
  16-bit mono PCM, then ``{"eof": 1}``; the server answers every chunk with
  ``{"partial": …}`` or ``{"result": […], "text": …}``.
"""
from __future__ import annotations

import json
import struct
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from assistant.errors import IngestError

HANGUP, UUID, DTMF, AUDIO, ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
AUDIO_RATES = {0x10: 8000, 0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000, 0x15: 44100, 0x16: 48000, 0x17: 96000, 0x18: 192000}
MAX_PAYLOAD = 65535
SPEAKERS = ("agent", "customer")


@dataclass(frozen=True)
class Frame:
    """One AudioSocket message."""

    kind: int
    payload: bytes = b""

    def encode(self) -> bytes:
        """The message as sent on the wire."""
        if len(self.payload) > MAX_PAYLOAD:
            raise IngestError(f"an AudioSocket payload holds at most {MAX_PAYLOAD} bytes, not {len(self.payload)}")
        return struct.pack(">BH", self.kind, len(self.payload)) + self.payload

    @property
    def uuid(self) -> str:
        """The call leg's UUID of a ``0x01`` message, in its string form."""
        if self.kind != UUID or len(self.payload) != 16:
            raise IngestError(f"an AudioSocket UUID message carries 16 bytes, not {len(self.payload)}")
        return str(uuid.UUID(bytes=self.payload))


def parse_header(header: bytes) -> tuple[int, int]:
    """``(type, payload length)`` of a 3-byte AudioSocket header."""
    if len(header) != 3:
        raise IngestError("an AudioSocket header is 3 bytes")
    kind, length = struct.unpack(">BH", header)
    if kind not in (HANGUP, UUID, DTMF, ERROR) and kind not in AUDIO_RATES:
        raise IngestError(f"unknown AudioSocket message type 0x{kind:02x}")
    return int(kind), int(length)


def uuid_frame(value: str) -> Frame:
    """The ``0x01`` message naming a call leg."""
    return Frame(UUID, uuid.UUID(value).bytes)


def audio_frames(pcm: bytes, rate: int = 8000, frame_ms: int = 20) -> list[Frame]:
    """PCM cut into AudioSocket audio messages of ``frame_ms`` each (20 ms: 320 bytes at 8 kHz)."""
    kind = next((k for k, r in AUDIO_RATES.items() if r == rate), None)
    if kind is None:
        raise IngestError(f"AudioSocket carries no {rate} Hz audio")
    step = rate * 2 * frame_ms // 1000
    return [Frame(kind, pcm[i : i + step]) for i in range(0, len(pcm), step)]


@dataclass(frozen=True)
class StreamInfo:
    """What a WebSocket fork's first message says about the call."""

    call_id: str
    agent_id: str
    case_id: str
    lang: str
    sample_rate: int
    channels: int
    speaker: str  # for a mono stream: whose voice it is


def _text(meta: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = meta.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def parse_metadata(message: str | bytes, defaults: Mapping[str, str] | None = None) -> StreamInfo:
    """The first message of a WebSocket fork (JSON). Accepts the spellings FreeSWITCH and
    jambonz users put in it (``callId``/``call_id``/``uuid``, ``agentId``, ``sampleRate`` …);
    ``defaults`` fill what it leaves out (e.g. from the URL)."""
    try:
        meta = json.loads(message)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IngestError(f"the first message of an audio fork must be JSON metadata ({exc})") from exc
    if not isinstance(meta, dict):
        raise IngestError("the first message of an audio fork must be a JSON object")
    merged: dict[str, Any] = {**(defaults or {}), **{k: v for k, v in meta.items() if v not in (None, "")}}
    try:
        rate = int(_text(merged, "sampleRate", "sample_rate", "rate") or 8000)
        channels = int(_text(merged, "channels") or (2 if _text(merged, "mixType", "mix_type") == "stereo" else 1))
    except ValueError as exc:
        raise IngestError(f"sample rate and channels must be numbers ({exc})") from exc
    if rate not in (8000, 16000):
        raise IngestError(f"an audio fork sends 8000 or 16000 Hz audio, not {rate}")
    if channels not in (1, 2):
        raise IngestError(f"an audio fork sends mono or stereo (agent, customer), not {channels} channels")
    speaker = _text(merged, "speaker", "leg", "track") or "customer"
    if speaker not in SPEAKERS:
        raise IngestError(f"speaker {speaker!r}: agent or customer")
    call_id = _text(merged, "callId", "call_id", "uuid", "callSid")
    if not call_id:
        raise IngestError("the audio fork's metadata names no call (callId)")
    return StreamInfo(call_id, _text(merged, "agentId", "agent_id", "agent"), _text(merged, "caseId", "case_id", "case"),
                      _text(merged, "lang", "language") or "zh", rate, channels, speaker)


def vosk_config(message: str | bytes) -> int | None:
    """The sample rate a vosk-server ``{"config": …}`` message asks for (None: not a config)."""
    data = _json(message)
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        return None
    try:
        rate = int(float(config.get("sample_rate", 8000)))
    except (TypeError, ValueError) as exc:
        raise IngestError(f"config.sample_rate must be a number ({exc})") from exc
    if rate not in (8000, 16000):
        raise IngestError(f"sample_rate {rate}: this server takes 8000 or 16000 Hz")
    return rate


def is_eof(message: str | bytes) -> bool:
    """Whether a text message is vosk-server's end of stream (``{"eof": 1}``)."""
    data = _json(message)
    return isinstance(data, dict) and bool(data.get("eof"))


def is_stop(message: str | bytes) -> bool:
    """Whether a text message on an audio fork ends the audio while the connection stays open
    to receive the last findings (``{"event": "stop"}`` or ``{"type": "stop"}``; closing the
    connection also ends it)."""
    data = _json(message)
    return isinstance(data, dict) and "stop" in (data.get("event"), data.get("type"))


def _json(message: str | bytes) -> Any:
    try:
        return json.loads(message)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IngestError(f"a text message must be JSON ({exc})") from exc


__all__ = ["AUDIO", "AUDIO_RATES", "DTMF", "ERROR", "HANGUP", "UUID", "Frame", "StreamInfo", "audio_frames", "is_eof", "is_stop", "parse_header",
           "parse_metadata", "uuid_frame", "vosk_config"]
