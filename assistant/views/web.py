"""The browser live view: a local page that follows the call over a WebSocket.

Read-only (it changes nothing, so it needs no log-in), bound to 127.0.0.1 unless told
otherwise, and reachable only with the random token in its address: transcripts hold
personal data, and any local user could otherwise connect to the port. The WebSocket
also refuses pages of other origins (cross-site WebSocket hijacking).
"""
from __future__ import annotations

import asyncio
import http
import json
import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from assistant.errors import LiveCallError
from assistant.pipeline.registry import registry
from assistant.views.state import LiveState

PAGE = Path(__file__).parent / "static" / "live.html"


PAGE_CSP = "script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"  # the live page: its script and style inline


def html_response(connection: Any, page: str, csp: str = PAGE_CSP) -> Any:
    """A page answered from a ``websockets`` server's HTTP hook: HTML, never cached, this
    site only (``csp`` adds what the page may run), no sniffing, no referrer."""
    response = connection.respond(http.HTTPStatus.OK, page)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = f"default-src 'self'; {csp}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@registry.sink("web")
class WebView:
    """A sink that serves the call's screen at :attr:`url` until closed."""

    def __init__(self, lang: str = "zh", verbose: bool = False, host: str = "127.0.0.1", port: int = 0, linger: float = 0.0) -> None:
        self.state = LiveState(lang=lang, verbose=verbose)
        self.token = secrets.token_urlsafe(18)
        self.host = host
        self.linger = linger
        self._lock = threading.Lock()
        self._clients: set[Any] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self.port = port
        self._thread = threading.Thread(target=self._run, name="callassist-web", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise LiveCallError(f"cannot serve the live view on {host}:{port}: {self._error} (choose another --port)")

    @property
    def url(self) -> str:
        """The page's address, token included."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?t={self.token}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the constructor, or ends the view quietly
            self._error = exc
            self._ready.set()

    def _authorised(self, path: str) -> bool:
        query = parse_qs(urlsplit(path).query)
        return secrets.compare_digest((query.get("t") or [""])[0], self.token)

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        page = PAGE.read_text(encoding="utf-8")

        def process_request(connection: Any, request: Any) -> Any:
            route = urlsplit(request.path).path
            if not self._authorised(request.path):
                return connection.respond(http.HTTPStatus.FORBIDDEN, "this address needs the token printed when the view started\n")
            if route == "/ws":
                origin = request.headers.get("Origin")
                if origin is not None and urlsplit(origin).netloc != request.headers.get("Host"):
                    return connection.respond(http.HTTPStatus.FORBIDDEN, "other sites may not follow this call\n")
                return None  # go on with the WebSocket handshake
            if route != "/":
                return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
            return html_response(connection, page)

        async def handler(connection: Any) -> None:
            self._clients.add(connection)
            try:
                await connection.send(self._snapshot())
                await connection.wait_closed()
            finally:
                self._clients.discard(connection)

        async with serve(handler, self.host, self.port, process_request=process_request, server_header=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def _snapshot(self) -> str:
        with self._lock:
            return json.dumps(self.state.to_dict(), ensure_ascii=False)

    async def _broadcast(self) -> None:
        message = self._snapshot()
        for client in list(self._clients):
            try:
                await client.send(message)
            except Exception:  # a closed tab: forget it
                self._clients.discard(client)

    def handle(self, event: Any) -> None:
        """Apply the event and push the new screen to every open page."""
        with self._lock:
            changed = self.state.apply(event)
        if changed and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._broadcast(), self._loop)

    def close(self) -> None:
        """Keep serving the final screen for ``linger`` seconds, then stop."""
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._broadcast(), self._loop).result(5)
            if self.linger > 0:
                threading.Event().wait(self.linger)
            if self._stop is not None:
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
