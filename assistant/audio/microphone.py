"""Live capture with ``sounddevice`` (PortAudio): the agent's microphone and, optionally,
a second device carrying the customer (the softphone's output or a loopback device).

``sounddevice`` is imported only when a microphone is opened, so nothing else needs
PortAudio. Tests pass a fake ``backend`` with the same two functions
(``query_devices`` and ``RawInputStream``).
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Iterator

import numpy as np

from assistant.audio.resample import StreamResampler, to_pcm16
from assistant.constants import TARGET_RATE
from assistant.errors import SoundDeviceError
from assistant.events import AudioChunk, as_speaker


def load_backend() -> Any:
    """The ``sounddevice`` module, or a :class:`SoundDeviceError` that says what to install."""
    try:
        import sounddevice
    except ImportError as exc:
        raise SoundDeviceError("microphone capture needs the sounddevice package: `pip install 'callassist[mic]'`") from exc
    except OSError as exc:  # sounddevice raises OSError when libportaudio is absent
        raise SoundDeviceError(
            f"the PortAudio library is missing ({exc}): install it with `sudo apt-get install libportaudio2`"
        ) from exc
    return sounddevice


def list_input_devices(backend: Any = None) -> list[dict[str, Any]]:
    """Every device that can record: index, name, input channels, default rate."""
    backend = backend or load_backend()
    try:
        devices = backend.query_devices()
    except Exception as exc:  # PortAudioError has no stable import path
        raise SoundDeviceError(f"cannot list sound devices ({exc})") from exc
    return [
        {"index": i, "name": d["name"], "channels": int(d["max_input_channels"]), "rate": float(d["default_samplerate"])}
        for i, d in enumerate(devices)
        if int(d.get("max_input_channels", 0)) > 0
    ]


def _device_info(backend: Any, device: int | str | None) -> dict[str, Any]:
    try:
        info = backend.query_devices(device, kind="input")
    except Exception as exc:
        if device is None:
            raise SoundDeviceError(
                "no input sound device found (no microphone, or no permission to use it): plug one in, "
                "or transcribe a recording instead: `callassist transcribe CALL.wav`"
            ) from exc
        raise SoundDeviceError(f"input device {device!r} not found ({exc}): list them with `callassist devices`") from exc
    if int(info.get("max_input_channels", 0)) < 1:
        raise SoundDeviceError(f"device {device!r} ({info.get('name')}) cannot record: choose another with `callassist devices`")
    return dict(info)


class MicrophoneSource:
    """Yield :class:`AudioChunk` events from one or two live input devices.

    ``agent`` and ``customer`` name devices (index or name; ``None`` = the system
    default input). With ``customer=None`` only the agent is captured. Each device is
    opened at ``target_rate`` when it supports it, else at its own rate and resampled.
    Iteration ends after ``seconds`` of audio, or when :meth:`stop` is called.
    """

    def __init__(
        self,
        agent: int | str | None = None,
        customer: int | str | None = None,
        *,
        capture_customer: bool = False,
        target_rate: int = TARGET_RATE,
        chunk_seconds: float = 0.2,
        seconds: float | None = None,
        backend: Any = None,
    ) -> None:
        self.backend = backend or load_backend()
        self.devices: dict[str, int | str | None] = {"agent": agent}
        if customer is not None or capture_customer:
            self.devices["customer"] = customer
        self.infos = {speaker: _device_info(self.backend, dev) for speaker, dev in self.devices.items()}
        self.target_rate = target_rate
        self.chunk_seconds = chunk_seconds
        self.seconds = seconds
        self.overflows = 0
        self.rates: dict[str, int] = {}
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._stop = threading.Event()
        self._streams: list[Any] = []

    def _open(self, speaker: str) -> Any:
        device = self.devices[speaker]

        def callback(indata: Any, frames: int, when: Any, status: Any) -> None:
            if status:
                self.overflows += 1
            self._queue.put((speaker, bytes(indata)))

        last: Exception | None = None
        for rate in (self.target_rate, int(self.infos[speaker].get("default_samplerate") or self.target_rate)):
            try:
                stream = self.backend.RawInputStream(
                    device=device, samplerate=rate, channels=1, dtype="int16",
                    blocksize=max(1, int(rate * self.chunk_seconds)), callback=callback,
                )
            except Exception as exc:  # this rate is not supported: try the device's own
                last = exc
                continue
            self.rates[speaker] = rate
            return stream
        raise SoundDeviceError(f"cannot open {speaker} device {device!r} ({last}): choose another with `callassist devices`")

    def stop(self) -> None:
        """End the capture; iteration finishes after the audio already received."""
        self._stop.set()

    def __iter__(self) -> Iterator[AudioChunk]:
        done = {speaker: 0 for speaker in self.devices}  # frames received, at each device's rate
        sent = {speaker: 0 for speaker in self.devices}  # samples yielded, at the target rate
        resamplers: dict[str, StreamResampler] = {}
        try:
            for speaker in self.devices:
                stream = self._open(speaker)
                self._streams.append(stream)
                stream.start()
            while True:
                if self.seconds is not None and min(done[s] / self.rates[s] for s in done) >= self.seconds:
                    break
                try:
                    speaker, raw = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._stop.is_set():
                        break
                    continue
                rate = self.rates[speaker]
                samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
                done[speaker] += len(samples)
                if rate == self.target_rate:
                    out_pcm = raw
                else:  # the device's own rate: a streaming resampler per device keeps its filter state between blocks
                    if speaker not in resamplers:
                        resamplers[speaker] = StreamResampler(rate, self.target_rate)
                    out_pcm = to_pcm16(resamplers[speaker].process(samples.reshape(-1, 1))[:, 0])
                if out_pcm:
                    yield AudioChunk(as_speaker(speaker), out_pcm, self.target_rate, sent[speaker] / self.target_rate)
                    sent[speaker] += len(out_pcm) // 2
            for speaker, resampler in resamplers.items():  # what is still inside the filters at the end
                tail = to_pcm16(resampler.flush()[:, 0])
                if tail:
                    yield AudioChunk(as_speaker(speaker), tail, self.target_rate, sent[speaker] / self.target_rate)
        finally:
            for stream in self._streams:
                try:
                    stream.stop()
                    stream.close()
                except Exception:  # closing a device that vanished must not hide the real error
                    pass
            self._streams.clear()

