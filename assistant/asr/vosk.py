"""The Vosk (Kaldi) streaming recogniser: the only module that imports ``vosk``.

One :class:`VoskRecognizer` per speaker channel; all of them share one loaded model
(:func:`load_model` caches by directory), which Vosk allows across threads.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from assistant.asr.base import AsrResult
from assistant.asr.models import check_model_dir
from assistant.constants import TARGET_RATE
from assistant.errors import AudioFormatError, SpeechEngineError
from assistant.events import AudioChunk, Word

_MODELS: dict[Path, Any] = {}
_LOCK = threading.Lock()


def _vosk() -> Any:
    try:
        import vosk
    except ImportError as exc:  # pragma: no cover - vosk is a declared dependency
        raise SpeechEngineError("the `vosk` package is not installed: `pip install vosk`") from exc
    except OSError as exc:  # pragma: no cover - a broken wheel (libvosk.so cannot load)
        raise SpeechEngineError(f"the Vosk library cannot load ({exc}): reinstall it with `pip install --force-reinstall vosk`") from exc
    vosk.SetLogLevel(-2)  # Kaldi: -1 would still print warnings, -2 keeps only errors
    return vosk


def load_model(path: str | Path) -> Any:
    """Load (once per process) the Vosk model in directory ``path``.

    Raises :class:`~assistant.errors.ModelNotFoundError` for a directory that is not a
    Vosk model and :class:`SpeechEngineError` when Vosk refuses it.
    """
    model_dir = check_model_dir(Path(path))
    with _LOCK:
        if model_dir not in _MODELS:
            vosk = _vosk()
            try:
                _MODELS[model_dir] = vosk.Model(str(model_dir))
            except Exception as exc:
                raise SpeechEngineError(
                    f"Vosk could not load the model in {model_dir} ({exc}); the download may be incomplete: "
                    "delete it and run `callassist models pull` again"
                ) from exc
        return _MODELS[model_dir]


def _words(items: list[dict[str, Any]], offset: float) -> tuple[Word, ...]:
    return tuple(
        Word(str(w["word"]), float(w["start"]) + offset, float(w["end"]) + offset, float(w.get("conf", 1.0))) for w in items
    )


class VoskRecognizer:
    """Streaming recognition of one speaker channel with Vosk.

    ``accept`` returns a partial result whenever the hypothesis changes (with partial
    words) and a final result with per-word start/end/confidence when Vosk detects an
    endpoint (trailing silence, as set in the model's ``conf/model.conf``). Word times
    are in the audio time of the chunks fed (the first chunk's ``start`` is the origin).
    """

    def __init__(self, model: str | Path | Any, sample_rate: int = TARGET_RATE, *, partial_words: bool = True) -> None:
        vosk = _vosk()
        self.model = load_model(model) if isinstance(model, (str, Path)) else model
        self.sample_rate = sample_rate
        self._rec = vosk.KaldiRecognizer(self.model, float(sample_rate))
        self._rec.SetWords(True)
        self._rec.SetPartialWords(partial_words)
        self._offset: float | None = None
        self._last_partial = ""

    def _final(self, raw: str) -> list[AsrResult]:
        self._last_partial = ""
        data = json.loads(raw)
        words = _words(data.get("result", []), self._offset or 0.0)
        text = str(data.get("text", "")).strip()
        if not text:
            return []
        start, end = (words[0].start, words[-1].end) if words else (self._offset or 0.0, self._offset or 0.0)
        return [AsrResult(True, text, words, start, end)]

    def accept(self, chunk: AudioChunk) -> list[AsrResult]:
        """Feed one chunk (16-bit mono PCM at this recogniser's rate)."""
        if chunk.sample_rate != self.sample_rate:
            raise AudioFormatError(
                f"chunk at {chunk.sample_rate} Hz fed to a {self.sample_rate} Hz recogniser: resample it first"
            )
        if self._offset is None:
            self._offset = chunk.start
        if self._rec.AcceptWaveform(chunk.pcm):
            return self._final(self._rec.Result())
        data = json.loads(self._rec.PartialResult())
        text = str(data.get("partial", "")).strip()
        if not text or text == self._last_partial:
            return []
        self._last_partial = text
        words = _words(data.get("partial_result", []), self._offset)
        start = words[0].start if words else chunk.start
        end = words[-1].end if words else chunk.start + chunk.duration
        return [AsrResult(False, text, words, start, end)]

    def finish(self) -> list[AsrResult]:
        """End of audio: the last utterance (if any) as a final result."""
        return self._final(self._rec.FinalResult())
