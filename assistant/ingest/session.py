"""One call arriving over the network: its legs' audio, resampled to the recognisers' rate
with filter state kept between chunks, fed to one call pipeline in its own thread.

Network code (the server's event loop) calls :meth:`CallSession.audio` and
:meth:`CallSession.hangup` / :meth:`CallSession.drop`; the pipeline runs :func:`run_live`
over a :class:`CallSource` in a worker thread, so a slow recogniser never blocks the loop.
The call is sealed when every expected leg hung up, and archived as interrupted when a leg's
connection dropped (what was said until then stays provable).
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from assistant.audio.resample import StreamResampler, to_pcm16
from assistant.constants import TARGET_RATE
from assistant.errors import CallassistError, IngestError
from assistant.events import AudioChunk

_END = object()
MAX_WAIT = 1.0  # seconds a leg's audio waits for the other leg's, to be passed on in time order
CHUNK_SECONDS = 0.2  # what the recognisers get at a time: as from a file in `live` (network frames are 20 ms)


@dataclass(frozen=True)
class _Fail:
    reason: str


class CallSource:
    """The audio of one call as an iterable of chunks, filled from another thread."""

    def __init__(self) -> None:
        self._queue: "queue.Queue[Any]" = queue.Queue()

    def put(self, chunk: AudioChunk) -> None:
        """One chunk of one speaker."""
        self._queue.put(chunk)

    def end(self) -> None:
        """The call ended normally."""
        self._queue.put(_END)

    def fail(self, reason: str) -> None:
        """The call's audio stopped abnormally: the call ends interrupted with this reason."""
        self._queue.put(_Fail(reason))

    @property
    def backlog(self) -> int:
        """Chunks waiting for the pipeline."""
        return self._queue.qsize()

    def __iter__(self) -> Iterator[AudioChunk]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Fail):
                raise IngestError(item.reason)
            yield item


class LegFeed:
    """One speaker's 16-bit PCM at its own rate, out as chunks of ``chunk_seconds`` at the
    recognisers' rate; the resampler keeps its filter state between chunks (no artefact at
    chunk boundaries)."""

    def __init__(self, speaker: str, rate: int, source: "CallSource | Callable[[AudioChunk], None]", chunk_seconds: float = CHUNK_SECONDS) -> None:
        self.speaker = speaker
        self.rate = rate
        self.emit = source.put if isinstance(source, CallSource) else source
        self.resampler = StreamResampler(rate, TARGET_RATE)
        self.at = 0.0
        self.step = int(chunk_seconds * TARGET_RATE) * 2
        self._odd = b""
        self._out = b""

    def feed(self, pcm: bytes) -> None:
        """Some PCM (any length; an odd byte waits for the next chunk)."""
        pcm = self._odd + pcm
        self._odd = pcm[len(pcm) - len(pcm) % 2 :] if len(pcm) % 2 else b""
        pcm = pcm[: len(pcm) - len(self._odd)]
        if not pcm:
            return
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        self._emit(self.resampler.process(samples.reshape(-1, 1))[:, 0])

    def flush(self) -> None:
        """The samples still inside the resampler, at the end of the leg."""
        self._emit(self.resampler.flush()[:, 0], last=True)

    def _emit(self, samples: np.ndarray, last: bool = False) -> None:
        self._out += to_pcm16(samples) if samples.size else b""
        while len(self._out) >= self.step or (last and self._out):
            data, self._out = self._out[: self.step], self._out[self.step :]
            self.emit(AudioChunk(self.speaker, data, TARGET_RATE, self.at))  # type: ignore[arg-type]
            self.at += len(data) / 2 / TARGET_RATE


@dataclass
class SessionInfo:
    """What the supervisor page and the load bench see of a call."""

    call_id: str
    agent_id: str
    lang: str
    started: float
    alerts: int = 0
    legs: dict[str, str] = field(default_factory=dict)  # speaker → open / ended / dropped
    status: str = "live"
    reason: str = ""


class CallSession:
    """One call: its expected legs, its source, and the thread running its pipeline. The legs'
    audio reaches the pipeline in audio-time order (see :meth:`_merge`).

    ``start_pipeline(session)`` builds the call's :class:`~assistant.pipeline.CallPipeline`
    and runs it over ``session.source`` (it returns when the call ends); it runs in a worker
    thread started by :meth:`start`.
    """

    def __init__(self, call_id: str, *, lang: str, agent_id: str = "", case_id: str = "", speakers: tuple[str, ...] = ("agent", "customer"),
                 run: Callable[["CallSession"], Any], max_wait: float = MAX_WAIT) -> None:
        self.call_id = call_id
        self.lang = lang
        self.agent_id = agent_id
        self.case_id = case_id
        self.speakers = speakers
        self.source = CallSource()
        self.feeds: dict[str, LegFeed] = {}
        self.info = SessionInfo(call_id, agent_id, lang, time.time(), legs={s: "waiting" for s in speakers})
        self._run = run
        self.held: dict[str, deque[tuple[float, AudioChunk]]] = {}
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._ended = False
        self.done = threading.Event()
        self.result: Any = None
        self.error: str = ""
        self.thread = threading.Thread(target=self._work, name=f"callassist-call-{call_id[:20]}", daemon=True)

    def start(self) -> "CallSession":
        """Run the pipeline in its thread."""
        self.thread.start()
        return self

    def _work(self) -> None:
        try:
            self.result = self._run(self)
            self.info.status = getattr(self.result, "status", "sealed")
        except CallassistError as exc:
            self.error = exc.message
            self.info.status, self.info.reason = "interrupted", exc.message
        except Exception as exc:  # noqa: BLE001 - one call's failure never takes the server down
            self.error = f"{type(exc).__name__}: {exc}"
            self.info.status, self.info.reason = "interrupted", self.error
        finally:
            self.done.set()

    def open_leg(self, speaker: str, rate: int) -> LegFeed:
        """A leg connected: its feed (a speaker connects once per call)."""
        with self._lock:
            if speaker not in self.speakers:
                raise IngestError(f"call {self.call_id} has no {speaker} leg (it expects {', '.join(self.speakers)})")
            if speaker in self.feeds:
                raise IngestError(f"the {speaker} leg of call {self.call_id} is connected already")
            if self._ended:
                raise IngestError(f"call {self.call_id} has ended")
            self.feeds[speaker] = LegFeed(speaker, rate, self._merge)
            self.held[speaker] = deque()
            self.info.legs[speaker] = "open"
            return self.feeds[speaker]

    def _merge(self, chunk: AudioChunk) -> None:
        """Pass the legs' chunks on in audio-time order (the call rules read turns in order):
        a chunk waits until every open leg has audio up to its time, or ``max_wait`` seconds."""
        self.held[chunk.speaker].append((time.monotonic(), chunk))
        self._release()

    def _release(self, everything: bool = False) -> None:
        now = time.monotonic()
        while True:
            heads = [(q[0][1].start, speaker) for speaker, q in self.held.items() if q]
            if not heads:
                return
            start, speaker = min(heads)
            waiting_for = [s for s, q in self.held.items() if not q and self.info.legs.get(s) == "open"]
            if waiting_for and not everything and now - self.held[speaker][0][0] < self.max_wait:
                return
            self.source.put(self.held[speaker].popleft()[1])

    def audio(self, speaker: str, pcm: bytes) -> None:
        """PCM of an open leg."""
        with self._lock:
            self.feeds[speaker].feed(pcm)

    def hangup(self, speaker: str) -> None:
        """A leg ended normally; the call is sealed once every expected leg has."""
        with self._lock:
            feed = self.feeds.get(speaker)
            if feed is None or self.info.legs.get(speaker) != "open":
                return
            feed.flush()
            self.info.legs[speaker] = "ended"
            self._release()
            if all(state == "ended" for state in self.info.legs.values()) and not self._ended:
                self._release(everything=True)
                self._ended = True
                self.source.end()

    def drop(self, speaker: str, reason: str) -> None:
        """A leg's connection broke (or sent garbage): the call ends interrupted."""
        with self._lock:
            if self._ended:
                return
            self.info.legs[speaker] = "dropped"
            self._release(everything=True)  # what was said until then is checked and archived
            self._ended = True
            self.source.fail(f"the {speaker} leg {reason}")

    @property
    def ended(self) -> bool:
        """Whether the call's audio has ended (the pipeline may still be finishing)."""
        return self._ended


__all__ = ["CallSession", "CallSource", "LegFeed", "SessionInfo"]
