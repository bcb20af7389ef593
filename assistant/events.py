"""Events that flow between the parts of the assistant. All are frozen dataclasses."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast, get_args

from assistant.constants import CUE_CATEGORIES, SEVERITIES, VIOLATION_CATEGORIES  # noqa: F401 - re-exported
from assistant.errors import InputValidationError, UnknownSpeakerError

Kind = Literal["violation", "cue", "missing", "contact"]
Severity = Literal["critical", "major", "minor", "info"]
Speaker = Literal["agent", "customer"]


def as_speaker(value: str) -> Speaker:
    """``value`` as a :data:`Speaker`, checked (:class:`UnknownSpeakerError` otherwise)."""
    if value in get_args(Speaker):
        return cast(Speaker, value)
    raise UnknownSpeakerError(f"speaker must be {' or '.join(get_args(Speaker))}, not {value!r}")


def as_kind(value: str) -> Kind:
    """``value`` as a finding :data:`Kind`, checked."""
    if value in get_args(Kind):
        return cast(Kind, value)
    raise InputValidationError(f"a finding's kind is one of {', '.join(get_args(Kind))}, not {value!r}")


def as_severity(value: str) -> Severity:
    """``value`` as a :data:`Severity`, checked."""
    if value in get_args(Severity):
        return cast(Severity, value)
    raise InputValidationError(f"a severity is one of {', '.join(get_args(Severity))}, not {value!r}")

@dataclass(frozen=True)
class Finding:
    """One thing the checker found in an utterance.

    ``start``/``end`` are character offsets into the *original* text the caller passed.
    ``source`` says which layer produced it: ``rule`` (pattern match, has a precise span)
    or ``meaning`` (sentence-level classifier, span covers the whole utterance).
    ``provisional`` is true when the finding was raised on a partial ASR hypothesis.
    Inside a call, ``call_id``, ``seq`` (the utterance; 0 for a partial), ``speaker`` and the
    audio times ``audio_start``/``audio_end`` (seconds) say where it was heard.
    """

    kind: Kind
    category: str
    rule_id: str
    severity: Severity
    start: int
    end: int
    matched: str
    citation: str = ""
    explanation: str = ""
    suggestion: str = ""
    source: Literal["rule", "meaning"] = "rule"
    score: float = 1.0
    provisional: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    call_id: str = ""
    seq: int = 0
    speaker: str = ""
    audio_start: float | None = None
    audio_end: float | None = None

    @property
    def case_update(self) -> dict[str, Any]:
        """What the finding writes onto the case (a time window granted, an opt-out …): a
        *note* of what the customer said, not a fault; empty for every other finding."""
        update = self.extra.get("case_update")
        return dict(update) if isinstance(update, dict) else {}

    @property
    def low_confidence(self) -> bool:
        """Raised on an utterance the recogniser was unsure of (see :mod:`assistant.pipeline`)."""
        return bool(self.extra.get("low_confidence"))

    def to_dict(self) -> dict[str, Any]:
        """The finding as a plain dict in the TAXONOMY.md ``check`` output shape (call
        fields only when set)."""
        data = asdict(self)
        for key, empty in (("extra", {}), ("provisional", False), ("call_id", ""), ("seq", 0), ("speaker", ""),
                           ("audio_start", None), ("audio_end", None)):
            if data[key] == empty:
                del data[key]
        data["score"] = round(data["score"], 3)
        return data


@dataclass(frozen=True)
class AudioChunk:
    """A block of 16-bit mono PCM for one speaker channel, at the source's output rate.

    ``start`` is the audio time (seconds) of the first sample.
    """

    speaker: Speaker
    pcm: bytes
    sample_rate: int
    start: float

    @property
    def duration(self) -> float:
        """Length of the chunk in seconds."""
        return len(self.pcm) / 2 / self.sample_rate


@dataclass(frozen=True)
class Word:
    """One recognised word with its audio times and confidence."""

    w: str
    start: float
    end: float
    conf: float = 1.0


@dataclass(frozen=True)
class Partial:
    """A partial ASR hypothesis: may change; used only for early, provisional alerts."""

    call_id: str
    speaker: Speaker
    text: str
    start: float
    end: float = 0.0
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Utterance:
    """A final recognised utterance of one speaker."""

    call_id: str
    seq: int
    speaker: Speaker
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    @property
    def conf(self) -> float:
        """Mean word confidence (1.0 when the recogniser gave none)."""
        return sum(w.conf for w in self.words) / len(self.words) if self.words else 1.0

    def to_dict(self) -> dict[str, Any]:
        """The utterance in the TAXONOMY.md timed-transcript shape."""
        return {
            "speaker": self.speaker,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "words": [{"w": w.w, "start": round(w.start, 3), "end": round(w.end, 3), "conf": round(w.conf, 3)} for w in self.words],
            "conf": round(self.conf, 3),
        }


@dataclass(frozen=True)
class StageChanged:
    """The call moved to another stage (after utterance ``seq``), and why."""

    call_id: str
    seq: int
    stage: str
    previous: str
    reason: str


@dataclass(frozen=True)
class Suggestion:
    """A script line offered to the agent after utterance ``seq``, with the reason it was chosen."""

    call_id: str
    seq: int
    line_id: str
    text: str
    reason: str
    stage: str


@dataclass(frozen=True)
class CallStarted:
    """A call began: its id, language and details (case id, agent, source, model …)."""

    call_id: str
    lang: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Withdrawn:
    """A provisional finding that the final utterance did not confirm."""

    call_id: str
    finding: Finding


@dataclass(frozen=True)
class LowConfidence:
    """Utterance ``seq`` was heard unreliably: its alerts are shown as "check the recording"."""

    call_id: str
    seq: int
    speaker: str
    reason: str


@dataclass(frozen=True)
class SuggestionUsed:
    """The agent used a suggested line (after utterance ``seq``)."""

    call_id: str
    seq: int
    line_id: str
    text: str


@dataclass(frozen=True)
class CallEnded:
    """The call is over: ``status`` is ``sealed`` (ended normally) or ``interrupted`` (``reason`` says why)."""

    call_id: str
    status: str
    reason: str = ""
