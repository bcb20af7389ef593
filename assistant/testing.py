"""Test doubles shipped with the library (httpx's habit): what our own tests use, and what a
plugin author or integrator needs to test against callassist without a sound card, a
speech model or a wall clock.

- :class:`ScriptedRecognizer` — a recogniser that "hears" a timed transcript (partials,
  finals and word times, no model);
- :class:`MemorySink` — a pipeline sink that keeps every event in a list;
- :class:`FakeSoundDevice` — stands in for the ``sounddevice`` module: named input devices
  that deliver a given signal to the capture callback from a thread, as PortAudio does;
- :class:`FakeClock` — a ``clock``/``sleep`` pair where sleeping advances time instantly;
- :func:`tone` and :func:`write_wav` — signals and WAV files at any rate, width and channel count;
- :class:`ModelServer` and :func:`model_zip` — a model publisher on 127.0.0.1 (model list,
  archives, resumable ranges, a connection cut mid-download) for ``models pull``.

Example::

    from assistant.audio.microphone import MicrophoneSource
    from assistant.testing import FakeSoundDevice, tone

    fake = FakeSoundDevice([{"name": "Headset", "max_input_channels": 1, "default_samplerate": 48000.0}],
                           {0: (tone(440, 48000), 48000)})
    source = MicrophoneSource(0, backend=fake, seconds=1.0)
"""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import wave
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from assistant.asr.scripted import ScriptedRecognizer
from assistant.pipeline.sinks import MemorySink

__all__ = ["MODEL_NAME", "FakeClock", "FakeSoundDevice", "FakeStream", "MemorySink", "ModelServer", "ScriptedRecognizer", "listing_for", "model_zip",
           "tone", "write_wav"]


def tone(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    """A sine wave as float samples in [-1, 1]."""
    t = np.arange(int(rate * seconds)) / rate
    out: np.ndarray = amp * np.sin(2 * np.pi * freq * t)
    return out


def write_wav(path: str | Path, channels: list[np.ndarray], rate: int, width: int = 2) -> Path:
    """Write float channels (equal lengths are not needed: shorter ones are padded with
    silence) as a PCM WAV file of ``width`` bytes per sample (1–4)."""
    if width not in (1, 2, 3, 4):
        raise ValueError(f"width must be 1, 2, 3 or 4 bytes, not {width}")
    n = max(len(c) for c in channels)
    data = np.zeros((n, len(channels)), dtype=np.float64)
    for k, c in enumerate(channels):
        data[: len(c), k] = np.clip(c, -1.0, 1.0)
    if width == 1:
        raw = ((data * 127) + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = (data * 32767).astype("<i2").tobytes()
    elif width == 3:
        ints = (data * (2**23 - 1)).astype("<i4").reshape(-1)
        raw = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        raw = (data * (2**31 - 1)).astype("<i4").tobytes()
    path = Path(path)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return path


class FakeClock:
    """``clock()`` and ``sleep(s)`` for code that paces itself: sleeping advances the clock
    at once and is recorded in :attr:`slept`."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


class FakeStream:
    """One open input stream: delivers its device's signal to the callback in blocks of
    16-bit mono PCM from a thread, like PortAudio does, resampled to the rate asked for."""

    def __init__(self, backend: FakeSoundDevice, device: int, samplerate: float, channels: int, dtype: str, blocksize: int,
                 callback: Callable[[bytes, int, Any, str], None]) -> None:
        if channels != 1 or dtype != "int16":
            raise ValueError("the fake device delivers 16-bit mono only")
        self.backend, self.rate, self.block, self.callback = backend, int(samplerate), blocksize, callback
        self.signal = backend.signals[device]
        self.stopped = threading.Event()
        self.started = False
        self.closed = False

    def start(self) -> None:
        samples, rate = self.signal
        count = int(len(samples) * self.rate / rate)
        data = (np.interp(np.arange(count) * rate / self.rate, np.arange(len(samples)), samples) * 32767).astype("<i2")
        self.started = True

        def run() -> None:
            for k, pos in enumerate(range(0, len(data), self.block)):
                if self.stopped.is_set():
                    return
                status = "input overflow" if k in self.backend.overflow_blocks else ""
                self.callback(data[pos : pos + self.block].tobytes(), self.block, None, status)

        threading.Thread(target=run, daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()

    def close(self) -> None:
        self.closed = True


class FakeSoundDevice:
    """The part of the ``sounddevice`` module that capture uses (``query_devices`` and
    ``RawInputStream``), over a list of devices and a signal ``(samples, rate)`` per input
    device index. ``native_only`` makes a device refuse any rate but its default;
    ``overflow_blocks`` marks blocks delivered with an "input overflow" status."""

    def __init__(self, devices: list[dict[str, Any]], signals: dict[int, tuple[np.ndarray, int]], native_only: bool = False) -> None:
        self.devices, self.signals, self.native_only = devices, signals, native_only
        self.overflow_blocks: set[int] = set()
        self.opened: list[FakeStream] = []

    def query_devices(self, device: int | str | None = None, kind: str | None = None) -> Any:
        if kind is None:
            return self.devices
        inputs = [d for d in self.devices if d["max_input_channels"] > 0]
        if device is None:
            if not inputs:
                raise RuntimeError("Error querying device -1")
            return inputs[0]
        for i, d in enumerate(self.devices):
            if device in (i, d["name"]):
                return d
        raise ValueError(f"No input device matching {device!r}")

    def RawInputStream(self, **kw: Any) -> FakeStream:  # noqa: N802 - the sounddevice name
        info = self.query_devices(kw["device"], "input")
        if self.native_only and kw["samplerate"] != info["default_samplerate"]:
            raise RuntimeError("Invalid sample rate")
        stream = FakeStream(self, self.devices.index(info), kw["samplerate"], kw["channels"], kw["dtype"], kw["blocksize"], kw["callback"])
        self.opened.append(stream)
        return stream


MODEL_NAME = "vosk-model-small-cn-0.22"


def model_zip(name: str = MODEL_NAME, *, evil: bool = False, payload: int = 300_000) -> bytes:
    """A small zip shaped like a Vosk model archive (top folder, am/final.mdl, conf, graph)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{name}/am/final.mdl", bytes(range(256)) * (payload // 256))
        z.writestr(f"{name}/conf/model.conf", "--sample-frequency=16000\n")
        z.writestr(f"{name}/graph/words.txt", "<eps> 0\n")
        if evil:
            z.writestr("../../escaped.txt", "gotcha")
    return buf.getvalue()


class ModelServer:
    """A local HTTP server serving model-list.json and archives, with Range support.

    ``cut_first`` > 0 makes the first archive response stop after that many bytes
    (the connection drops mid-download).
    """

    def __init__(self, files: dict[str, bytes], listing: list[dict[str, Any]]) -> None:
        self.files = dict(files)
        self.files["model-list.json"] = json.dumps(listing).encode()
        self.cut_first = 0
        self.requests: list[tuple[str, str | None]] = []  # (file, Range header) per request
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                outer.requests.append((name, rng))
                if name not in outer.files:
                    self.send_error(404)
                    return
                body = outer.files[name]
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= len(body) and rng:
                    self.send_error(416)
                    return
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                part = body[start:]
                if outer.cut_first and name.endswith(".zip"):
                    part, outer.cut_first = part[: outer.cut_first], 0
                    self.wfile.write(part)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def listing_for(data: bytes, url: str, name: str = MODEL_NAME, *, md5: str | None = None, size: int | None = None) -> list[dict[str, Any]]:
    """A publisher's model list naming one archive served at ``url`` (and an English entry)."""
    return [
        {"lang": "cn", "name": name, "md5": md5 or hashlib.md5(data).hexdigest(), "size": size or len(data),
         "type": "small", "obsolete": "false", "url": f"{url}{name}.zip", "version": "0.22"},
        {"lang": "en-us", "name": "vosk-model-small-en-us-0.15", "md5": "0" * 32, "size": 1, "type": "small", "obsolete": "false"},
    ]
