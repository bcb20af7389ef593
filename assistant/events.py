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
