"""JSON Schemas for lexicon files: rule files (``<category>.yaml``) and ``_language.yaml``."""
from __future__ import annotations

from typing import Any

from assistant.constants import CUE_CATEGORIES, SEVERITIES, VIOLATION_CATEGORIES

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_TOKEN_PATTERN = {"type": "array", "minItems": 1, "items": {"type": "object"}}

PATTERNS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "phrases": _STRINGS,
        "regex": _STRINGS,
        "tokens": {"type": "array", "items": _TOKEN_PATTERN},
    },
}

UNLESS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "phrases": _STRINGS,  # added to what the file's defaults (or a shared set) already give
        "regex": _STRINGS,
        "include": _STRINGS,  # shared sets by name, from _language.yaml's unless_sets
        "drop": _STRINGS,  # inherited entries (exact text) or included sets (by name) this rule does without
        "negation": {"type": "boolean"},
        "quote": {"type": "boolean"},
    },
}

UNLESS_SET: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"phrases": _STRINGS, "regex": _STRINGS},
}

_CITATION = {"oneOf": [{"type": "string", "minLength": 1}, {**_STRINGS, "minItems": 1}]}

_RULE_FIELDS: dict[str, Any] = {
    "id": {"type": "string", "pattern": r"^(zh|en)\.[a-z_]+(\.[a-z0-9_]+)+$"},
    "version": {"type": "integer", "minimum": 1},
    "category": {"enum": list(VIOLATION_CATEGORIES + CUE_CATEGORIES)},
    "kind": {"enum": ["violation", "cue"]},
    "severity": {"enum": list(SEVERITIES)},
    "speaker": {"enum": ["agent", "customer", "any"]},
    "description": {"type": "string"},
    "citation": _CITATION,
    "verification": {"type": "string", "minLength": 1},
    "explanation": {"type": "string", "minLength": 1},
    "suggestion": {"type": "string", "minLength": 1},
    "patterns": PATTERNS,
    "unless": UNLESS,
    "examples": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"flag": _STRINGS, "pass": _STRINGS},
    },
}

RULE_FILE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lang", "category", "kind", "defaults", "rules"],
    "properties": {
        "lang": {"enum": ["zh", "en"]},
        "category": _RULE_FIELDS["category"],
        "kind": _RULE_FIELDS["kind"],
        "defaults": {
            "type": "object",
            "additionalProperties": False,
            "required": ["severity", "speaker", "citation", "verification", "explanation", "suggestion"],
            "properties": {k: v for k, v in _RULE_FIELDS.items() if k not in ("id", "patterns", "examples")},
        },
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "patterns", "examples"],
                "properties": _RULE_FIELDS,
            },
        },
    },
}

LANGUAGE_FILE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lang", "clause_delimiters", "sentence_delimiters", "negators", "quote_frames"],
    "properties": {
        "lang": {"enum": ["zh", "en"]},
        "replacements": {"type": "object", "additionalProperties": {"type": "string"}},
        "dialect_replacements": {"type": "object", "additionalProperties": {"type": "string"}},
        "clause_delimiters": {"type": "string", "minLength": 1},
        "sentence_delimiters": {"type": "string", "minLength": 1},
        "scope_breakers": _STRINGS,
        "negators": _STRINGS,
        "negation_window": {"type": "integer", "minimum": 1},
        "negation_barriers": _STRINGS,
        "negation_exceptions": _STRINGS,
        "negation_causal": _STRINGS,
        "conditionals": _STRINGS,
        "quote_frames": _STRINGS,
        "quote_breakers": _STRINGS,
        "talk_markers": _STRINGS,
        "talk_turns": _STRINGS,
        "fillers": _STRINGS,
        "sound_terms": _STRINGS,
        "quote_window": {"type": "integer", "minimum": 1},
        "unless_sets": {"type": "object", "additionalProperties": UNLESS_SET},
    },
}
