"""Speech recognition: the Recognizer protocol, Vosk, a scripted test double, the segmenter.

``VoskRecognizer`` lives in :mod:`assistant.asr.vosk` and is imported from there, so that
nothing loads the speech engine until it is needed.
"""
from assistant.asr.base import AsrResult, Recognizer
from assistant.asr.models import install_archive, installed_models, locate_model, pull
from assistant.asr.scripted import ScriptedRecognizer, load_transcript
from assistant.asr.segmenter import Segmenter, join_cjk
from assistant.asr.stream import recognise

__all__ = [
    "AsrResult",
    "Recognizer",
    "ScriptedRecognizer",
    "Segmenter",
    "install_archive",
    "installed_models",
    "join_cjk",
    "load_transcript",
    "locate_model",
    "pull",
    "recognise",
]
