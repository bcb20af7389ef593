"""Speech synthesis with espeak-ng, for recorded fixtures, tests and benchmarks.

Mandarin is spoken from numbered pinyin (``ni3 hao3``) with the ``cmn-latn-pinyin``
voice, because espeak-ng reads Chinese characters poorly.
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave
from typing import Any

import numpy as np

from assistant.audio.resample import resample
from assistant.errors import SynthesisError
from assistant.text.normalize import CJK_RE

VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us", "ko": "ko"}
_HAN = CJK_RE
_ASCII_PUNCT = str.maketrans("，。！？、；：", ",.!?,;:")


def _keep_characters(chars: str) -> Any:
    """pypinyin's error handler: characters without a reading stay as they are, one each."""
    return list(chars)


def to_pinyin(text: str) -> str:
    """Chinese text as numbered pinyin (tone 5 for neutral), punctuation kept as pauses."""
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError as exc:
        raise SynthesisError("Mandarin synthesis needs pypinyin: `pip install pypinyin`") from exc
    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors=_keep_characters)
    out = " ".join(s for s in syllables if s.strip()).translate(_ASCII_PUNCT)
    return re.sub(r"\s*([,.!?;:])\s*", r"\1 ", out).strip()


def speak(text: str, lang: str = "en", rate: int = 16_000, *, words_per_minute: int = 160, pitch: int = 50) -> np.ndarray:
    """Synthesise ``text`` as float samples at ``rate`` Hz (``lang``: zh, en, ko or an espeak voice)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SynthesisError("espeak-ng is not installed: `sudo apt-get install espeak-ng` (or run bin/install-system-deps)")
    voice = VOICES.get(lang, lang)
    said = to_pinyin(text) if voice == "cmn-latn-pinyin" and _HAN.search(text) else text
    cmd = [exe, "-v", voice, "-s", str(words_per_minute), "-p", str(pitch), "--stdout", said]
    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        raise SynthesisError(f"espeak-ng failed for voice {voice!r}: {done.stderr.decode(errors='replace').strip()}")
    with wave.open(io.BytesIO(done.stdout)) as w:
        src_rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return resample(samples, src_rate, rate)


def silence(seconds: float, rate: int = 16_000) -> np.ndarray:
    """``seconds`` of digital silence."""
    return np.zeros(int(round(seconds * rate)), dtype=np.float32)
