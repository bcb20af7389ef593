"""Events that flow between the parts of the assistant. All are frozen dataclasses."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["violation", "cue", "missing", "contact"]
Severity = Literal["critical", "major", "minor", "info"]
Speaker = Literal["agent", "customer"]

SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "info")

VIOLATION_CATEGORIES: tuple[str, ...] = (
    "threat_violence",
    "threat_arrest",
    "impersonation",
    "false_consequence",
    "abuse",
    "harassment",
    "third_party_disclosure",
    "public_shaming",
    "deception",
)

CUE_CATEGORIES: tuple[str, ...] = (
    "hardship",
    "dispute",
    "already_paid",
    "refuse_to_sign",
    "cease_request",
    "attorney",
    "complaint",
    "distress",
    "wrong_party",
    "promise_to_pay",
    "installment_request",
    "anger",
)


@dataclass(frozen=True)
class Finding:
    """One thing the checker found in an utterance.

    ``start``/``end`` are character offsets into the *original* text the caller passed.
    ``source`` says which layer produced it: ``rule`` (pattern match, has a precise span)
    or ``meaning`` (sentence-level classifier, span covers the whole utterance).
    ``provisional`` is true when the finding was raised on a partial ASR hypothesis.
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

    def to_dict(self) -> dict[str, Any]:
        """The finding as a plain dict in the TAXONOMY.md ``check`` output shape."""
        data = asdict(self)
        if not data["extra"]:
            del data["extra"]
        if not data["provisional"]:
            del data["provisional"]
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
