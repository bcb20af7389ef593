"""Audio sources: each yields :class:`~assistant.events.AudioChunk` per speaker channel.

``MicrophoneSource`` (in :mod:`assistant.audio.microphone`) imports sounddevice only when
a microphone is opened.
"""
from assistant.audio.pcm import PcmStreamSource
from assistant.audio.resample import resample
from assistant.audio.wav import WavFileSource, read_wav

__all__ = ["PcmStreamSource", "WavFileSource", "read_wav", "resample"]
