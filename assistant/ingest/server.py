"""The ingest server (``callassist serve-calls``): call audio forked by the phone system,
one call pipeline per call, every call archived.

Two listeners, bound to 127.0.0.1 unless told otherwise:

- a TCP port for **Asterisk AudioSocket** (one connection per call leg). AudioSocket
  carries nothing but the leg's UUID, so a leg must be *registered* first, with a token:
  ``GET /register?token=…&uuid=…&call=…&speaker=agent|customer&legs=agent,customer&agent=…&case=…&lang=zh``
  on the WebSocket port (the dialplan's ``CURL()`` does it before ``AudioSocket()``);
  an unregistered UUID is refused with an error message;
- a WebSocket port for the **audio fork** of FreeSWITCH ``mod_audio_stream`` /
  ``mod_audio_fork`` and jambonz ``listen`` (path ``/fork``) and for **vosk-server** clients
  (path ``/`` or ``/vosk``). The token is in the address (``?token=…``) or an
  ``Authorization: Bearer …`` header.

Agents and supervisors watch on the WebSocket port: ``/live?token=…&agent=A7`` is agent
A7's live view (the browser view of ``live``: transcript, alerts, suggestions) of their
call in progress; an agent's token shows that agent only. ``/supervisor?token=…`` lists the
calls in progress with their alert counts (``/calls`` the same as JSON); it needs a token
that may speak for every agent.

Tokens come from a YAML file (``token: agent id``, or an empty agent id for a token that
may speak for any agent); without one, the server makes one and prints it. Overload policy:
at most ``max_calls`` calls at once; a new call beyond that is refused at once with a clear
status (AudioSocket: an error message; WebSocket: close code 1013 "try again later") and
the calls in progress are not touched.
"""
from __future__ import annotations

import asyncio
import hmac
import http
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

import numpy as np

from assistant.errors import IngestError, LiveCallError
from assistant.events import Finding, Partial, Utterance
from assistant.ingest import protocols as p
from assistant.ingest.session import CallSession, SessionInfo
from assistant.views.web import PAGE, html_response

IDLE_SECONDS = 30.0  # a leg that sends nothing for this long is dropped
REGISTRATION_SECONDS = 120.0  # a registered AudioSocket leg must connect within this


@dataclass
class IngestConfig:
    """How the ingest server runs (``callassist serve-calls`` options)."""

    host: str = "127.0.0.1"
    ws_port: int = 0
    audiosocket_port: int = 0
    tokens: dict[str, str] = field(default_factory=dict)  # token → agent id ("" = any agent)
    archive: Path | str | None = None  # a file or a postgresql:// URL
    lang: str = "zh"
    max_calls: int = 8
    idle_seconds: float = IDLE_SECONDS


@dataclass(frozen=True)
class _Leg:
    call_id: str
    speaker: str
    speakers: tuple[str, ...]
    agent_id: str
    case_id: str
    lang: str
    expires: float


class _Watch:
    """A sink that counts a call's alerts and hands its events to the connections listening
    and to the server's observers (the load bench measures latency with one)."""

    def __init__(self, info: SessionInfo, listeners: list[Callable[[Any], None]], observers: list[Callable[[str, Any], None]]) -> None:
        self.info = info
        self.listeners = listeners
        self.observers = observers

    def handle(self, event: Any) -> None:
        if isinstance(event, Finding) and not event.provisional and event.kind != "cue":
            self.info.alerts += 1
        for listen in list(self.listeners):
            listen(event)
        for observe in self.observers:
            observe(self.info.call_id, event)

    def close(self) -> None:
        """Nothing to release."""


class _Locked:
    """A checker shared by every call of a process, one check at a time."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)
        return locked


def finding_message(f: Finding) -> dict[str, Any]:
    """A finding as the server sends it back (the ``check`` contract's fields)."""
    return {"type": "finding", "call_id": f.call_id, "seq": f.seq, "speaker": f.speaker, "kind": f.kind, "category": f.category,
            "rule_id": f.rule_id, "severity": f.severity, "matched": f.matched, "start": f.start, "end": f.end}


class IngestServer:
    """Serve the listeners in a background thread; ``recognizer(lang, speaker)`` makes one
    recogniser (every call of a process shares one loaded model: see
    :func:`assistant.asr.vosk.load_model`)."""

    def __init__(self, config: IngestConfig, recognizer: Callable[[str, str], Any], *, checker: Callable[[str], Any] | None = None) -> None:
        self.config = config
        self.recognizer = recognizer
        self._checker_factory = checker
        self._checkers: dict[str, tuple[Any, str]] = {}  # lang → (shared checker, fingerprint of its rules)
        self.sessions: dict[str, CallSession] = {}
        self.finished: list[SessionInfo] = []
        self.listeners: dict[str, list[Callable[[Any], None]]] = {}
        self.legs: dict[str, _Leg] = {}
        self.refused = 0
        self.observers: list[Callable[[str, Any], None]] = []  # called with (call id, event) for every event of every call
        self.boards: dict[str, Any] = {}  # agent id → the LiveState of their latest call
        self.viewers: dict[str, set[Any]] = {}  # agent id → open live-view pages
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.ws_port = config.ws_port
        self.audiosocket_port = config.audiosocket_port
        self._thread = threading.Thread(target=self._run, name="callassist-ingest", daemon=True)

    # ---- running ---------------------------------------------------------------------------
    def start(self) -> "IngestServer":
        """Bind the ports and serve; raises :class:`LiveCallError` when a port cannot be had."""
        if self.config.archive is not None:  # made (and migrated) once, before calls write to it at the same time
            from assistant.archive.backend import make_room
            from assistant.archive.store import Archive

            make_room(self.config.archive)
            Archive(self.config.archive).close()
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None:
            raise LiveCallError(f"cannot serve calls on {self.config.host}: {self._error} (choose other ports)")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(), or ends the server quietly
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        tcp = await asyncio.start_server(self._audiosocket, self.config.host, self.config.audiosocket_port)
        self.audiosocket_port = tcp.sockets[0].getsockname()[1]
        async with tcp, serve(self._websocket, self.config.host, self.config.ws_port, process_request=self._http, server_header=None,
                              max_size=2**20) as ws:
            self.ws_port = ws.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def close(self, timeout: float = 30.0) -> None:
        """Stop listening; calls still open end interrupted."""
        for session in list(self.sessions.values()):
            for speaker in session.speakers:
                session.drop(speaker, "was cut: the server stopped")
        for session in list(self.sessions.values()):
            session.done.wait(timeout)
        if self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    # ---- calls -----------------------------------------------------------------------------
    def _agent_for(self, token: str, agent_id: str) -> str:
        """The agent a token may speak for; refuses a missing or wrong token."""
        for known, agent in self.config.tokens.items():
            if token and hmac.compare_digest(token, known):
                if agent and agent_id and agent_id != agent:
                    raise IngestError(f"this token belongs to agent {agent}, not {agent_id}")
                return agent or agent_id
        raise IngestError("a valid token is required (?token=… or Authorization: Bearer …)")

    def checker(self, lang: str) -> Any:
        """The process's checker of ``lang`` (built once, shared by every call)."""
        return self._rules(lang)[0]

    def _rules(self, lang: str) -> tuple[Any, str]:
        """The checker of ``lang`` and the fingerprint of the rules it loaded, made once: every
        call records the rules that judged it without hashing the lexicons again."""
        with self._lock:
            if lang not in self._checkers:
                from assistant.archive.importer import ruleset_fingerprint

                if self._checker_factory is not None:
                    made = self._checker_factory(lang)
                else:
                    from assistant.checker import Checker

                    made = Checker(lang)
                self._checkers[lang] = (_Locked(made), ruleset_fingerprint(lang))
            return self._checkers[lang]

    def session(self, call_id: str, *, lang: str, agent_id: str, case_id: str, speakers: tuple[str, ...], source: str) -> CallSession:
        """The call's session, started on its first leg; refused when the server is full."""
        with self._lock:
            found = self.sessions.get(call_id)
            if found is not None:
                return found
            if len(self.sessions) >= self.config.max_calls:
                self.refused += 1
                raise IngestError(f"server full: {len(self.sessions)} calls in progress (the limit is {self.config.max_calls}); try again later")
            session = CallSession(call_id, lang=lang, agent_id=agent_id, case_id=case_id, speakers=speakers,
                                  run=lambda s: self._pipeline(s, source))
            self.sessions[call_id] = session
            self.listeners[call_id] = []
        threading.Thread(target=self._reap, args=(session,), daemon=True).start()
        return session.start()

    def _reap(self, session: CallSession) -> None:
        session.done.wait()
        with self._lock:
            self.sessions.pop(session.call_id, None)
            self.listeners.pop(session.call_id, None)
            self.finished.append(session.info)
            del self.finished[:-1000]

    def _pipeline(self, session: CallSession, source: str) -> Any:
        from assistant import __version__
        from assistant.pipeline import CallPipeline, registry
        from assistant.pipeline.live import queued, run_live

        sinks: dict[str, Any] = {"watch": _Watch(session.info, self.listeners.setdefault(session.call_id, []), self.observers),
                                 "agent view": _AgentBoard(self, session.agent_id or "-", session.lang)}
        if self.config.archive is not None:
            sinks["archive"] = registry.make_sink("archive", archive=self.config.archive)
        checker, fingerprint = self._rules(session.lang)
        meta = {"agent_id": session.agent_id, "started_at": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
                "source": source, "ruleset_version": __version__, "ruleset_hash": fingerprint,
                "channel_map": {str(i): s for i, s in enumerate(session.speakers)}}
        pipeline = CallPipeline(session.call_id, session.lang, case={"id": session.case_id} if session.case_id else None,
                                checker=checker, recognizers={s: self.recognizer(session.lang, s) for s in session.speakers},
                                sinks=queued(sinks), meta=meta)
        result = run_live(pipeline, session.source)
        if result.sink_errors:
            session.info.reason = "; ".join(f"{name} failed: {error}" for name, error in result.sink_errors.items())
        return result

    # ---- HTTP: registration and status -------------------------------------------------------
    def _http(self, connection: Any, request: Any) -> Any:
        route, query, token = _credentials(request.path, request.headers)
        try:
            if route == "/register":
                return self._register(connection, query, token)
            if route in ("/calls", "/supervisor"):
                if self._agent_for(token, ""):
                    raise IngestError("an agent's token shows that agent's calls only: the supervisor page needs a token for every agent")
                if route == "/calls":
                    return _json_response(connection, http.HTTPStatus.OK, self.status())
                return html_response(connection, self._supervisor_page(), "style-src 'unsafe-inline'")
            if route == "/live":
                self._viewer(token, query.get("agent", ""))
                return html_response(connection, PAGE.read_text(encoding="utf-8"))
            if route == "/ws":
                self._viewer(token, query.get("agent", ""))
                origin = request.headers.get("Origin")
                if origin is not None and urlsplit(origin).netloc != request.headers.get("Host"):
                    raise IngestError("other sites may not follow these calls")
                return None
            if route in ("/", "/vosk", "/fork"):
                self._agent_for(token, query.get("agent", ""))
                return None  # on with the WebSocket handshake
        except IngestError as exc:
            return _json_response(connection, http.HTTPStatus.FORBIDDEN, {"error": exc.message})
        return _json_response(connection, http.HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _register(self, connection: Any, query: Mapping[str, str], token: str) -> Any:
        agent = self._agent_for(token, query.get("agent", ""))
        try:
            leg_uuid = str(p.uuid_frame(query.get("uuid", "")).uuid)
        except ValueError:
            raise IngestError("uuid: the leg's UUID (as the dialplan passes it to AudioSocket)") from None
        call_id = query.get("call") or leg_uuid
        speaker = query.get("speaker", "customer")
        speakers = tuple(s for s in (query.get("legs") or "agent,customer").split(",") if s)
        if speaker not in speakers or not set(speakers) <= set(p.SPEAKERS):
            raise IngestError("speaker and legs: agent and/or customer, the speaker among the legs")
        now = time.monotonic()
        with self._lock:
            self.legs = {k: v for k, v in self.legs.items() if v.expires > now}
            self.legs[leg_uuid] = _Leg(call_id, speaker, speakers, agent, query.get("case", ""), query.get("lang") or self.config.lang,
                                       now + REGISTRATION_SECONDS)
        return _json_response(connection, http.HTTPStatus.OK, {"registered": leg_uuid, "call": call_id, "speaker": speaker})

    def status(self) -> dict[str, Any]:
        """The calls in progress (agent, legs, alert count), refusals and the limit."""
        with self._lock:
            calls = [dict(s.info.__dict__, backlog=s.source.backlog) for s in self.sessions.values()]
        return {"calls": calls, "refused": self.refused, "max_calls": self.config.max_calls}

    def _supervisor_page(self) -> str:
        from html import escape

        from assistant.views.labels import labels

        t = labels(self.config.lang)
        now = time.time()
        rows = "".join(
            f"<tr><td>{escape(c['call_id'])}</td><td>{escape(c['agent_id'] or '-')}</td><td>{int(now - c['started']) // 60}:{int(now - c['started']) % 60:02d}</td>"
            f"<td>{', '.join(escape(f'{k}: {v}') for k, v in c['legs'].items())}</td><td class='n'>{c['alerts']}</td></tr>"
            for c in self.status()["calls"])
        return (f"<!doctype html><html lang='{t.lang}'><head><meta charset='utf-8'><meta http-equiv='refresh' content='2'>"
                f"<title>{escape(t.qa['calls'])}</title><style>body{{font-family:sans-serif}} td,th{{padding:.2em .6em;text-align:left}} .n{{font-weight:bold}}</style></head>"
                f"<body><h1>{escape(t.qa['calls'])}: {len(self.sessions)} / {self.config.max_calls}</h1>"
                f"<table id='calls'><tr><th>{escape(t.qa['call'])}</th><th>{escape(t.qa['agent'])}</th><th>{escape(t.qa['time'])}</th>"
                f"<th>{escape(t.qa['speaker'])}</th><th>{escape(t['alerts'])}</th></tr>{rows}</table>"
                f"<p>refused: {self.refused}</p></body></html>")

    def _viewer(self, token: str, agent_id: str) -> str:
        """The agent a live-view page may follow: an agent's token, its own agent only."""
        agent = self._agent_for(token, agent_id)
        if not agent:
            raise IngestError("name the agent to follow: ?agent=…")
        return agent

    def board_event(self, agent: str, lang: str, event: Any) -> None:
        """An event of one of ``agent``'s calls: update their screen and push it to their pages."""
        from assistant.events import CallStarted
        from assistant.views.state import LiveState

        with self._lock:
            if isinstance(event, CallStarted) or agent not in self.boards:
                self.boards[agent] = LiveState(lang=lang)
            changed = self.boards[agent].apply(event)
        if changed and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._push(agent), self._loop)

    def _snapshot(self, agent: str) -> str:
        from assistant.views.state import LiveState

        with self._lock:
            board = self.boards.get(agent) or LiveState(lang=self.config.lang)
            return json.dumps(board.to_dict(), ensure_ascii=False)

    async def _push(self, agent: str) -> None:
        message = self._snapshot(agent)
        for page in list(self.viewers.get(agent, ())):
            try:
                await page.send(message)
            except Exception:  # noqa: BLE001 - a closed tab: forget it
                self.viewers.get(agent, set()).discard(page)

    async def _follow(self, connection: Any, agent: str) -> None:
        self.viewers.setdefault(agent, set()).add(connection)
        try:
            await connection.send(self._snapshot(agent))
            await connection.wait_closed()
        finally:
            self.viewers.get(agent, set()).discard(connection)

    # ---- AudioSocket -------------------------------------------------------------------------
    async def _audiosocket(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session: CallSession | None = None
        speaker = ""
        try:
            frame = await self._frame(reader)
            if frame is None or frame.kind != p.UUID:
                raise IngestError("an AudioSocket connection starts with the leg's UUID")
            with self._lock:
                leg = self.legs.pop(frame.uuid, None)
            if leg is None or leg.expires < time.monotonic():
                raise IngestError(f"leg {frame.uuid} was not registered (GET /register with a token first)")
            session = self.session(leg.call_id, lang=leg.lang, agent_id=leg.agent_id, case_id=leg.case_id, speakers=leg.speakers,
                                   source="audiosocket")
            feed = session.open_leg(leg.speaker, 8000)  # a second connection for the same leg is refused here, the call goes on
            speaker = leg.speaker
            while True:
                frame = await self._frame(reader)
                if frame is None:
                    session.drop(speaker, "closed its connection without a hang-up")
                    return
                if frame.kind == p.HANGUP:
                    session.hangup(speaker)
                    return
                if frame.kind == p.ERROR:
                    session.drop(speaker, f"reported an error (code {frame.payload.hex() or 'none'})")
                    return
                if frame.kind in p.AUDIO_RATES:
                    if p.AUDIO_RATES[frame.kind] != feed.rate:
                        raise IngestError(f"the leg changed its sample rate to {p.AUDIO_RATES[frame.kind]} Hz")
                    session.audio(speaker, frame.payload)
        except (IngestError, asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as exc:
            reason = exc.message if isinstance(exc, IngestError) else ("sent nothing for too long" if isinstance(exc, asyncio.TimeoutError)
                                                                        else "closed its connection in the middle of a message")
            if session is not None and speaker:
                session.drop(speaker, reason)
            try:
                writer.write(p.Frame(p.ERROR, b"\x01").encode())
                await writer.drain()
            except ConnectionError:
                pass
        finally:
            writer.close()

    async def _frame(self, reader: asyncio.StreamReader) -> p.Frame | None:
        try:
            header = await asyncio.wait_for(reader.readexactly(3), self.config.idle_seconds)
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None  # closed between messages
            raise
        kind, length = p.parse_header(header)
        payload = await asyncio.wait_for(reader.readexactly(length), self.config.idle_seconds) if length else b""
        return p.Frame(kind, payload)

    # ---- WebSocket: audio fork and vosk-server ---------------------------------------------------
    async def _websocket(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

        route, query, token = _credentials(connection.request.path, connection.request.headers)
        if route == "/ws":
            await self._follow(connection, self._viewer(token, query.get("agent", "")))
            return
        fork = route == "/fork"
        session: CallSession | None = None
        speakers: tuple[str, ...] = ()
        outbox: asyncio.Queue[Any] = asyncio.Queue()

        def listen(event: Any) -> None:
            self._loop.call_soon_threadsafe(outbox.put_nowait, event)

        sender = asyncio.create_task(self._send_events(connection, outbox, fork))
        try:
            if fork:
                info = p.parse_metadata(await asyncio.wait_for(connection.recv(), self.config.idle_seconds),
                                        {"agentId": query.get("agent", ""), "callId": query.get("call", ""), "lang": query.get("lang", "")})
                agent = self._agent_for(token, info.agent_id)
                speakers = ("agent", "customer") if info.channels == 2 else (info.speaker,)
                session = self.session(info.call_id, lang=info.lang or self.config.lang, agent_id=agent, case_id=info.case_id,
                                       speakers=speakers, source="audio-fork")
                rate, channels = info.sample_rate, info.channels
            else:
                agent = self._agent_for(token, query.get("agent", ""))
                first = await asyncio.wait_for(connection.recv(), self.config.idle_seconds)
                rate = (p.vosk_config(first) if isinstance(first, str) else None) or 8000
                speakers, channels = (query.get("speaker", "agent"),), 1
                if speakers[0] not in p.SPEAKERS:
                    raise IngestError("speaker: agent or customer")
                session = self.session(query.get("call") or f"vosk-{secrets.token_hex(6)}", lang=query.get("lang") or self.config.lang,
                                       agent_id=agent, case_id=query.get("case", ""), speakers=speakers, source="vosk-protocol")
            wanted, speakers = speakers, ()
            for speaker in wanted:
                session.open_leg(speaker, rate)  # a leg already connected is refused here, the call goes on
                speakers += (speaker,)
            self.listeners.setdefault(session.call_id, []).append(listen)
            if not fork and isinstance(first, bytes):
                self._take(session, speakers, channels, first)
            while True:
                message = await asyncio.wait_for(connection.recv(), self.config.idle_seconds)
                if isinstance(message, bytes):
                    self._take(session, speakers, channels, message)
                    if not fork:
                        outbox.put_nowait("reply")
                elif p.is_eof(message) if not fork else p.is_stop(message):
                    break
            for speaker in speakers:
                session.hangup(speaker)
            await asyncio.get_running_loop().run_in_executor(None, session.done.wait)
        except ConnectionClosedOK:
            if session is not None:
                for speaker in speakers:
                    session.hangup(speaker)
                await asyncio.get_running_loop().run_in_executor(None, session.done.wait)
        except ConnectionClosed:
            if session is not None:
                for speaker in speakers:
                    session.drop(speaker, "connection dropped")
        except (IngestError, asyncio.TimeoutError) as exc:
            reason = exc.message if isinstance(exc, IngestError) else "sent nothing for too long"
            if session is not None:
                for speaker in speakers:
                    session.drop(speaker, reason)
            code = 1013 if reason.startswith("server full") else 1008
            await connection.close(code, reason[:120])
        finally:
            outbox.put_nowait(None)
            await sender
            if session is not None:
                listeners = self.listeners.get(session.call_id, [])
                if listen in listeners:
                    listeners.remove(listen)
        await connection.close()

    def _take(self, session: CallSession, speakers: tuple[str, ...], channels: int, data: bytes) -> None:
        if channels == 1:
            session.audio(speakers[0], data)
            return
        frames = np.frombuffer(data[: len(data) - len(data) % 4], dtype="<i2").reshape(-1, 2)
        for i, speaker in enumerate(speakers):
            session.audio(speaker, frames[:, i].tobytes())

    async def _send_events(self, connection: Any, outbox: "asyncio.Queue[Any]", fork: bool) -> None:
        """Findings back to the client; for vosk clients also one reply per audio chunk
        (``partial`` or ``result``, as vosk-server answers)."""
        partial = ""
        finals: list[Utterance] = []
        while True:
            item = await outbox.get()
            if item is None:
                break
            try:
                if isinstance(item, Finding) and not item.provisional:
                    await connection.send(json.dumps(finding_message(item), ensure_ascii=False))
                elif isinstance(item, Partial):
                    partial = item.text
                elif isinstance(item, Utterance):
                    finals.append(item)
                    partial = ""
                    if fork:
                        await connection.send(json.dumps({"type": "utterance", "speaker": item.speaker, "text": item.text}, ensure_ascii=False))
                elif item == "reply":
                    if finals:
                        await connection.send(_vosk_result(finals.pop(0)))
                    else:
                        await connection.send(json.dumps({"partial": partial}, ensure_ascii=False))
            except Exception:  # noqa: BLE001 - the client went away: the call goes on without it
                continue
        if not fork:
            try:
                for u in finals:
                    await connection.send(_vosk_result(u))
            except Exception:  # noqa: BLE001 - the client went away
                pass


class _AgentBoard:
    """A sink feeding a call's events to its agent's live view."""

    def __init__(self, server: IngestServer, agent: str, lang: str) -> None:
        self.server, self.agent, self.lang = server, agent, lang

    def handle(self, event: Any) -> None:
        self.server.board_event(self.agent, self.lang, event)

    def close(self) -> None:
        """Nothing to release: the board outlives the call (the agent sees how it ended)."""


def _credentials(path: str, headers: Any) -> tuple[str, dict[str, str], str]:
    """A request's route, query and token (``?token=…`` or ``Authorization: Bearer …``)."""
    parts = urlsplit(path)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return parts.path, query, query.get("token") or (headers.get("Authorization") or "").removeprefix("Bearer ").strip()


def _vosk_result(u: Utterance) -> str:
    """A final line as vosk-server sends it."""
    return json.dumps({"text": u.text, "result": [{"word": w.w, "start": w.start, "end": w.end, "conf": w.conf} for w in u.words]},
                      ensure_ascii=False)


def _json_response(connection: Any, status: http.HTTPStatus, body: Mapping[str, Any]) -> Any:
    response = connection.respond(status, json.dumps(body, ensure_ascii=False) + "\n")
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    response.headers["Cache-Control"] = "no-store"
    return response


def load_tokens(path: Path) -> dict[str, str]:
    """``token: agent id`` pairs from a YAML file (an empty agent id: any agent)."""
    from assistant.files import load_mapping

    data = load_mapping(path, "token file", IngestError)
    tokens = {str(k): str(v or "") for k, v in data.items()}
    short = [k for k in tokens if len(k) < 16]
    if short:
        raise IngestError(f"{path}: tokens must be at least 16 characters ({len(short)} are shorter): make them with `openssl rand -hex 16`")
    return tokens


__all__ = ["IngestConfig", "IngestServer", "finding_message", "load_tokens"]
