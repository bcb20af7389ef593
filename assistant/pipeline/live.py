"""Run a call live: the edges around :class:`CallPipeline`, where the threads and queues are.

::

    capture thread ──audio──▶ inbox ──▶ pipeline (this thread) ──▶ one queue + thread per sink
    key reader ──commands──▶ inbox

Overload policy:

- **audio is never dropped**: every sample reaches the recognisers and every final is
  checked and archived, however late. The inbox is bounded: a file played unpaced waits for
  the pipeline (it is never read whole into memory); a live source may run up to
  ``max_backlog`` seconds ahead of the recognisers, and if it gets further behind the call
  is ended *interrupted* with a message saying the machine cannot keep up (what was
  recognised stays archived) rather than silently losing audio;
- **partial work may be skipped**: while more than ``max_lag`` seconds of audio wait in the
  inbox, partial hypotheses are shown but not checked (the final will be);
- **a stalled sink never stalls capture**: each sink has its own thread and queue; when
  more than ``max_pending`` events wait for it, its partials and provisional alerts are
  dropped (and counted); finals are always delivered.

A recogniser (or audio source) that fails mid-call ends the call ``interrupted`` with
the reason; the archive marks it so.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from assistant.errors import CallassistError, LiveCallError, SpeechEngineError
from assistant.events import AudioChunk, Finding, Partial, as_speaker
from assistant.pipeline.call import CallPipeline

_STOP = object()


@dataclass(frozen=True)
class UseLine:
    """A command from the collector's keyboard: suggestion ``index`` (1-based) was used."""

    index: int


@dataclass(frozen=True)
class _Failed:
    reason: str


class QueuedSink:
    """A sink run in its own thread behind a queue (see the module's overload policy)."""

    def __init__(self, sink: Any, name: str = "sink", max_pending: int = 200) -> None:
        self.sink = sink
        self.name = name
        self.max_pending = max_pending
        self.dropped = 0
        self.error: BaseException | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"callassist-{name}", daemon=True)
        self._thread.start()

    def handle(self, event: Any) -> None:
        """Queue the event (never blocks)."""
        droppable = isinstance(event, Partial) or (isinstance(event, Finding) and event.provisional)
        if droppable and self._queue.qsize() >= self.max_pending:
            self.dropped += 1
            return
        self._queue.put(event)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is _STOP:
                break
            if self.error is not None:
                continue
            try:
                self.sink.handle(event)
            except BaseException as exc:  # reported by close(); the call goes on for the other sinks
                self.error = exc
        try:
            self.sink.close()
        except BaseException as exc:
            self.error = self.error or exc

    @property
    def pending(self) -> int:
        """Events waiting for this sink."""
        return self._queue.qsize()

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, close the sink, wait for its thread (at most ``timeout`` s)."""
        self._queue.put(_STOP)
        self._thread.join(timeout)


def paced(source: Iterable[AudioChunk], speed: float | None) -> Iterator[AudioChunk]:
    """Pass chunks on no earlier than their audio time allows at ``speed`` × real time
    (None or 0: as fast as they come)."""
    if not speed:
        yield from source
        return
    t0 = time.monotonic()
    for chunk in source:
        due = t0 + (chunk.start + chunk.duration) / speed
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield chunk


def silence(seconds: float, speakers: Iterable[str], rate: int = 16_000, step: float = 0.1) -> Iterator[AudioChunk]:
    """Silent chunks for each speaker up to ``seconds``: the clock a scripted recogniser replays against."""
    n = int(rate * step)
    pcm = bytes(2 * n)
    names = list(speakers)
    k = 0
    while k * step < seconds:
        for speaker in names:
            yield AudioChunk(as_speaker(speaker), pcm, rate, k * step)
        k += 1


@dataclass
class LiveResult:
    """How a live call ended."""

    call_id: str
    status: str
    reason: str = ""
    dropped: dict[str, int] = field(default_factory=dict)
    sink_errors: dict[str, str] = field(default_factory=dict)


def run_live(pipeline: CallPipeline, source: Iterable[AudioChunk], *, speed: float | None = None, inbox: "queue.Queue[Any] | None" = None,
             stop: threading.Event | None = None, max_lag: float = 1.0, max_backlog: float = 120.0) -> LiveResult:
    """Play ``source`` through ``pipeline`` until the audio ends, ``stop`` is set or Ctrl-C.

    ``pipeline``'s sinks should be :class:`QueuedSink` wrappers (see :func:`queued`).
    Commands (:class:`UseLine`) may be put into ``inbox`` from other threads. Returns how
    the call ended; raises :class:`LiveCallError` after a failure (the call is archived as
    interrupted first).
    """
    inbox = inbox if inbox is not None else queue.Queue()
    stop = stop or threading.Event()
    unpaced = not speed  # a file played as fast as it goes: capture waits for the pipeline instead
    room = threading.Semaphore(64) if unpaced else None
    result = LiveResult(pipeline.call_id, "sealed")

    def capture() -> None:
        try:
            for chunk in paced(source, speed):
                if room is not None:
                    while not room.acquire(timeout=0.2):
                        if stop.is_set():
                            return
                if stop.is_set():
                    break
                inbox.put(chunk)
        except CallassistError as exc:
            inbox.put(_Failed(exc.message))
        except Exception as exc:
            inbox.put(_Failed(f"the audio source failed: {type(exc).__name__}: {exc}"))
        finally:
            inbox.put(_STOP)

    reader = threading.Thread(target=capture, name="callassist-capture", daemon=True)
    pipeline.start()
    reader.start()
    status, reason = "sealed", ""
    try:
        while True:
            try:
                item = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is _STOP:
                break
            if isinstance(item, _Failed):
                status, reason = "interrupted", item.reason
                break
            if isinstance(item, UseLine):
                pipeline.use(item.index)
                continue
            if isinstance(item, AudioChunk):
                if room is not None:
                    room.release()
                backlog = inbox.qsize() * item.duration / max(len(pipeline.recognizers), 1)
                if not unpaced and backlog > max_backlog:
                    status, reason = "interrupted", (f"speech recognition fell {backlog:.0f} s behind the live audio: this machine cannot keep up "
                                                     "(close other programs, or use a smaller model)")
                    break
                pipeline.check_partials = unpaced or backlog <= max_lag
                try:
                    pipeline.feed(item)
                except SpeechEngineError as exc:
                    status, reason = "interrupted", exc.message
                    break
    except KeyboardInterrupt:
        reason = "ended by the collector (Ctrl-C)"
    except BaseException as exc:
        status, reason = "interrupted", f"internal error: {type(exc).__name__}"
        stop.set()
        _finish(pipeline, status, reason)
        raise
    stop.set()
    _finish(pipeline, status, reason)
    result.status, result.reason = status, reason
    for sink in pipeline.sinks:
        if isinstance(sink, QueuedSink):
            result.dropped[sink.name] = sink.dropped
            if sink.error is not None:
                result.sink_errors[sink.name] = f"{type(sink.error).__name__}: {getattr(sink.error, 'message', sink.error)}"
    if status == "interrupted":
        raise LiveCallError(f"call {pipeline.call_id} stopped: {reason} (recorded as interrupted)")
    return result


def _finish(pipeline: CallPipeline, status: str, reason: str) -> None:
    try:
        pipeline.finish(status, reason)
    except SpeechEngineError as exc:  # flushing the recogniser failed too: end it interrupted
        pipeline.finish("interrupted", exc.message)
    finally:
        pipeline.close()


def queued(sinks: dict[str, Any], max_pending: int = 200) -> list[QueuedSink]:
    """Each sink behind its own queue and thread."""
    return [QueuedSink(sink, name, max_pending) for name, sink in sinks.items()]
