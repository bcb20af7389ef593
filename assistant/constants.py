"""Vocabulary shared by every layer, at the bottom of the import graph (imports nothing)."""
from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("zh", "en")
SPEAKERS: tuple[str, ...] = ("agent", "customer")
TARGET_RATE = 16_000  # Hz: what every audio source delivers to the recognisers
FORMATS: tuple[str, ...] = ("jsonl", "text", "srt")  # transcript output formats
MAX_CHARS = 10_000  # the longest utterance `check` and the checker accept by default

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

STAGES: tuple[str, ...] = (
    "opening",          # self-identification
    "verification",     # right-party verification
    "disclosure",       # recording notice / required disclosures
    "discovery",        # the reason for non-payment
    "negotiation",
    "plan_options",     # installments, deferral, interest relief where authorised
    "commitment",       # promise-to-pay confirmation: amount, date, official channel only
    "closing",
    "escalation",       # can happen at any point
)
