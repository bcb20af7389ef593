"""callassist: offline assistant for debt-collection calls.

Public API (every name below is importable from ``assistant``)::

    from assistant import Checker
    Checker(lang="zh").check("不还钱就等着坐牢", speaker="agent")

    from assistant import CallPipeline, ScriptedRecognizer, MemorySink   # a whole call, no model
    from assistant import Archive, import_transcript, export_call, verify  # evidence

Names are imported on first use (PEP 562), so ``import assistant`` and ``callassist --help``
stay fast: spaCy, numpy and Vosk load only when something that needs them is used. Modules
whose names start with ``_`` are internal; test doubles live in :mod:`assistant.testing`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from assistant._lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    # checking
    "Checker": "assistant.checker",
    "Finding": "assistant.events",
    # the vocabulary
    "LANGUAGES": "assistant.constants",
    "SPEAKERS": "assistant.constants",
    "SEVERITIES": "assistant.constants",
    "STAGES": "assistant.constants",
    "VIOLATION_CATEGORIES": "assistant.constants",
    "CUE_CATEGORIES": "assistant.constants",
    # events of a call
    "AudioChunk": "assistant.events",
    "Word": "assistant.events",
    "Partial": "assistant.events",
    "Utterance": "assistant.events",
    "StageChanged": "assistant.events",
    "Suggestion": "assistant.events",
    # one call, from audio to sinks
    "CallPipeline": "assistant.pipeline",
    "CallContext": "assistant.pipeline",
    "run_live": "assistant.pipeline.live",
    "WavFileSource": "assistant.audio",
    "PcmStreamSource": "assistant.audio",
    "Recognizer": "assistant.asr",
    "ScriptedRecognizer": "assistant.asr",
    "MemorySink": "assistant.pipeline.sinks",
    "StageTracker": "assistant.stages",
    "Suggester": "assistant.suggest.suggester",
    "ScriptLine": "assistant.suggest",
    "load_library": "assistant.suggest",
    "render": "assistant.suggest",
    # evidence
    "Archive": "assistant.archive",
    "verify": "assistant.archive",
    "import_transcript": "assistant.archive.importer",
    "export_call": "assistant.archive.export",
    "verify_bundle": "assistant.archive.export",
    # speech models
    "locate_model": "assistant.asr",
    "pull": "assistant.asr",
    # errors
    "CallassistError": "assistant.errors",
    "CallassistWarning": "assistant.errors",
}
__all__ = ["Archive", "AudioChunk", "CUE_CATEGORIES", "CallContext", "CallPipeline", "CallassistError",
    "CallassistWarning", "Checker", "Finding", "LANGUAGES", "MemorySink", "Partial", "PcmStreamSource",
    "Recognizer", "SEVERITIES", "SPEAKERS", "STAGES", "ScriptLine", "ScriptedRecognizer", "StageChanged",
    "StageTracker", "Suggester", "Suggestion", "Utterance", "VIOLATION_CATEGORIES", "WavFileSource", "Word",
    "__version__", "export_call", "import_transcript", "load_library", "locate_model", "pull",
    "render", "run_live", "verify", "verify_bundle"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from assistant.archive import Archive
    from assistant.archive.export import export_call, verify_bundle
    from assistant.archive.importer import import_transcript
    from assistant.asr import Recognizer, ScriptedRecognizer, locate_model, pull
    from assistant.audio import PcmStreamSource, WavFileSource
    from assistant.checker import Checker
    from assistant.constants import CUE_CATEGORIES, LANGUAGES, SEVERITIES, SPEAKERS, STAGES, VIOLATION_CATEGORIES
    from assistant.errors import CallassistError, CallassistWarning
    from assistant.events import AudioChunk, Finding, Partial, StageChanged, Suggestion, Utterance, Word
    from assistant.pipeline import CallContext, CallPipeline
    from assistant.pipeline.live import run_live
    from assistant.pipeline.sinks import MemorySink
    from assistant.stages import StageTracker
    from assistant.suggest import ScriptLine, load_library, render
    from assistant.suggest.suggester import Suggester


__getattr__ = lazy_getattr("assistant", _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
