"""Speech recognition: the Recognizer protocol, Vosk, a scripted test double, the segmenter.

``VoskRecognizer`` lives in :mod:`assistant.asr.vosk` and is imported from there, so that
nothing loads the speech engine until it is needed. The names below are imported on first
use, so importing one submodule (``assistant.asr.models``) stays cheap.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "AsrResult": "assistant.asr.base",
    "Recognizer": "assistant.asr.base",
    "install_archive": "assistant.asr.models",
    "installed_models": "assistant.asr.models",
    "locate_model": "assistant.asr.models",
    "pull": "assistant.asr.models",
    "ScriptedRecognizer": "assistant.asr.scripted",
    "load_transcript": "assistant.asr.scripted",
    "Segmenter": "assistant.asr.segmenter",
    "join_cjk": "assistant.asr.segmenter",
    "recognise": "assistant.asr.stream",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'assistant.asr' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
