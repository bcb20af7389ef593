"""Speech recognition: the Recognizer protocol, a scripted test double, the segmenter."""
from assistant.asr.base import AsrResult, Recognizer
from assistant.asr.scripted import ScriptedRecognizer, load_transcript
from assistant.asr.segmenter import Segmenter, join_cjk

__all__ = ["AsrResult", "Recognizer", "ScriptedRecognizer", "Segmenter", "join_cjk", "load_transcript"]
