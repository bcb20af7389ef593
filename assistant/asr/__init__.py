"""Speech recognition: the Recognizer protocol, Vosk, a scripted test double, the segmenter.

``VoskRecognizer`` lives in :mod:`assistant.asr.vosk` and is imported from there, so that
nothing loads the speech engine until it is needed. The names below are imported on first
use, so importing one submodule (``assistant.asr.models``) stays cheap.
"""
from __future__ import annotations

from assistant._lazy import lazy_getattr

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


__getattr__ = lazy_getattr("assistant.asr", _LAZY, globals())
