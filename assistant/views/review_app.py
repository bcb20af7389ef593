"""The QA review web app (``callassist serve``): calls, the review queue, a call page with its
recording, confirm / dismiss / dispute, search, evidence export, rule dismissal rates.

Standard library HTTP server (one thread per request), Jinja2 pages (autoescaped; an
override folder first, like datasette), one archive connection guarded by a lock.

Security, by design rather than by configuration:

- bound to 127.0.0.1 unless ``--host`` says otherwise; when bound to a loopback address,
  requests naming another host are refused (DNS rebinding);
- log-in with a user of the archive (:mod:`assistant.archive.users`: scrypt hashes); the
  session cookie is random, ``HttpOnly`` and ``SameSite=Strict``; sessions end after
  ``session_hours`` or on sign-out; five wrong passwords for a name within five minutes
  lock that name out for the rest of the five minutes;
- every form carries the session's CSRF token (the log-in form a token of its own), and
  every state-changing request is a POST that must carry it;
- roles decide what a user sees and does (:class:`assistant.archive.users.User.can`);
  agents see only their own calls;
- every decision, dispute and export is a chained archive record;
- the request log names method, path and status only: queries (a search for a name) and
  form fields never reach it; pages are ``Cache-Control: no-store`` with a strict
  Content-Security-Policy (the one script is a file of the app).
"""
from __future__ import annotations

import ipaddress
import json
import mimetypes
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from assistant.archive.reviews import OPEN_STATES, SEVERITY_ORDER, STATES, Flag, dismissal_rates, load_flags, record_review
from assistant.archive.users import User, authenticate, get_user
from assistant.errors import CallassistError, LiveCallError

if TYPE_CHECKING:
    from jinja2 import Environment

    from assistant.archive.scorecard import Scorecard
    from assistant.archive.store import Archive

TEMPLATES = Path(__file__).parent / "templates" / "review"
STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "callassist_session"
LOGIN_COOKIE = "callassist_login"
MAX_FORM = 64 * 1024
MAX_CALLS = 500  # calls listed at once (newest first; narrow by agent and dates to reach older ones)
MAX_FLAGS = 500  # flags in the queue at once (most severe first)
LOCKOUT = (5, 300.0)  # wrong passwords, within seconds
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@dataclass
class Request:
    """What a handler gets: method, path, query, form fields, cookies and headers."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    user: User | None = None
    session: "Session | None" = None


@dataclass
class Response:
    """What a handler returns; ``file`` (with a byte range) is streamed outside the lock."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    file: Path | None = None


@dataclass
class Session:
    """A signed-in user's session."""

    user: str
    csrf: str
    expires: float


class Forbidden(Exception):
    """The user's role does not allow this."""


def _redirect(to: str, *headers: tuple[str, str]) -> Response:
    return Response(HTTPStatus.SEE_OTHER, headers=[("Location", to), *headers])


def _cookie(name: str, value: str, max_age: int | None = None) -> tuple[str, str]:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return ("Set-Cookie", "; ".join(parts))


class ReviewApp:
    """The application: routes requests to pages and actions over one archive."""

    def __init__(self, archive: "Archive", *, lang: str = "zh", templates: Path | None = None, cards: Mapping[str, "Scorecard"] | None = None,
                 session_hours: float = 8.0) -> None:
        from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

        from assistant.views.labels import labels

        self.archive = archive
        self.lang = lang
        self.labels = labels(lang)
        self.cards = dict(cards or {})
        self.session_hours = session_hours
        self.sessions: dict[str, Session] = {}
        self.failures: dict[str, list[float]] = {}
        self._intact_files: set[tuple[str, int, int, str]] = set()  # recordings whose SHA-256 was checked, by size and mtime
        self.lock = threading.RLock()
        if templates is not None and not templates.is_dir():
            raise LiveCallError(f"no template folder {templates}: create it and copy the pages to override from {TEMPLATES}")
        loaders = [FileSystemLoader(str(templates))] if templates is not None else []
        self.env: "Environment" = Environment(loader=ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))]), autoescape=select_autoescape(["html"]),
                                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters["clock"] = lambda s: f"{int(float(s)) // 60}:{int(float(s)) % 60:02d}"
        self.env.globals.update(L=self.labels, T=self.labels.qa, quote=quote, STATES=STATES, SEVERITIES=SEVERITY_ORDER)
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "/"): lambda r: _redirect("/calls"),
            ("GET", "/login"): self.login_page, ("POST", "/login"): self.login,
            ("POST", "/logout"): self.logout,
            ("GET", "/calls"): self.calls_page, ("GET", "/queue"): self.queue_page, ("GET", "/call"): self.call_page,
            ("GET", "/audio"): self.audio, ("POST", "/review"): self.review, ("POST", "/dispute"): self.dispute,
            ("GET", "/search"): self.search_page, ("POST", "/export"): self.export, ("GET", "/rules"): self.rules_page,
            ("GET", "/static/review.js"): lambda r: self.static("review.js"), ("GET", "/static/review.css"): lambda r: self.static("review.css"),
        }

    # ---- plumbing ---------------------------------------------------------------------------
    def render(self, name: str, request: Request, status: int = 200, **context: Any) -> Response:
        """A page of the app."""
        csrf = request.session.csrf if request.session else ""
        page = self.env.get_template(name).render(user=request.user, csrf=csrf, request=request, **context)
        return Response(status, page.encode("utf-8"))

    def static(self, name: str) -> Response:
        """The app's own script and style sheet."""
        kind = "text/javascript; charset=utf-8" if name.endswith(".js") else "text/css; charset=utf-8"
        return Response(200, (STATIC / name).read_bytes(), kind)

    def handle(self, request: Request) -> Response:
        """Route one request: sign-in and CSRF checks first, then the page or action."""
        route = self.routes.get((request.method, request.path))
        if route is None:
            known = any(path == request.path for _, path in self.routes)
            return Response(HTTPStatus.METHOD_NOT_ALLOWED if known else HTTPStatus.NOT_FOUND, b"not found" if not known else b"method not allowed",
                            "text/plain; charset=utf-8")
        if request.path not in ("/login",) and not request.path.startswith("/static/"):
            session = self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
            with self.lock:
                user = get_user(self.archive, session.user) if session is not None and session.expires > time.time() else None
            if user is None or session is None:
                if request.method == "GET":
                    return _redirect("/login?" + urlencode({"next": request.path + ("?" + urlencode(request.query) if request.query else "")}))
                return Response(HTTPStatus.UNAUTHORIZED, b"sign in first", "text/plain; charset=utf-8")
            request.user, request.session = user, session
            if request.method == "POST" and not secrets.compare_digest(request.form.get("csrf", ""), session.csrf):
                return Response(HTTPStatus.FORBIDDEN, b"the form is out of date or not from this app (CSRF token missing or wrong): reload the page",
                                "text/plain; charset=utf-8")
        try:
            with self.lock:
                return route(request)
        except Forbidden:
            return self.render("error.html", request, HTTPStatus.FORBIDDEN, message=self.labels.qa["forbidden"])
        except CallassistError as exc:
            return self.render("error.html", request, HTTPStatus.BAD_REQUEST, message=str(exc))

    # ---- signing in -------------------------------------------------------------------------
    def login_page(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        page = self.render("login.html", request, status, login_csrf=token, error=error, next=_local(request.query.get("next", "/calls")))
        page.headers.append(_cookie(LOGIN_COOKIE, token))
        return page

    def login(self, request: Request) -> Response:
        token = request.cookies.get(LOGIN_COOKIE, "")
        if not token or not secrets.compare_digest(request.form.get("csrf", ""), token):
            return Response(HTTPStatus.FORBIDDEN, b"the sign-in form is out of date (CSRF token missing or wrong): reload the page", "text/plain; charset=utf-8")
        name = request.form.get("user", "").strip()
        now = time.time()
        recent = [t for t in self.failures.get(name, []) if now - t < LOCKOUT[1]]
        if len(recent) >= LOCKOUT[0]:
            return self.login_page(request, self.labels.qa["bad_login"], HTTPStatus.TOO_MANY_REQUESTS)
        with self.lock:
            user = authenticate(self.archive, name, request.form.get("password", ""))
        if user is None:
            self.failures[name] = [*recent, now]
            return self.login_page(request, self.labels.qa["bad_login"], HTTPStatus.UNAUTHORIZED)
        self.failures.pop(name, None)
        sid = secrets.token_urlsafe(32)
        self.sessions = {k: s for k, s in self.sessions.items() if s.expires > now}
        self.sessions[sid] = Session(user.name, secrets.token_urlsafe(32), now + self.session_hours * 3600)
        return _redirect(_local(request.form.get("next", "/calls")), _cookie(SESSION_COOKIE, sid), _cookie(LOGIN_COOKIE, "", 0))

    def logout(self, request: Request) -> Response:
        self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        return _redirect("/login", _cookie(SESSION_COOKIE, "", 0))

    # ---- what a user may see ----------------------------------------------------------------
    def _visible(self, user: User, agent_id: str) -> bool:
        return user.can("view_all") or agent_id == user.name

    def _flags(self, user: User, call_ids: list[str] | None = None) -> list[Flag]:
        return [f for f in load_flags(self.archive, call_ids) if self._visible(user, f.agent_id)]

    # ---- pages ------------------------------------------------------------------------------
    def calls_page(self, request: Request) -> Response:
        from assistant.archive.report import call_views

        assert request.user is not None
        q = request.query
        user = request.user
        calls = [c for c in self.archive.calls() if c["status"] in ("sealed", "interrupted") and self._visible(user, str(c.get("agent_id") or ""))]
        agents = sorted({str(c.get("agent_id")) for c in calls if c.get("agent_id")})
        chosen = [c for c in calls
                  if (not q.get("agent") or c.get("agent_id") == q["agent"])
                  and (not q.get("since") or str(c.get("started_at") or "")[:10] >= q["since"])
                  and (not q.get("until") or str(c.get("started_at") or "")[:10] <= q["until"])]
        chosen.sort(key=lambda c: str(c.get("started_at") or ""), reverse=True)  # newest first; flags read for these only
        views = call_views(self.archive, self.cards, [c["call_id"] for c in chosen[:MAX_CALLS]])
        views.sort(key=lambda v: v.started_at, reverse=True)
        shown = []
        for v in views:
            flags = [f for f in v.flags if f.is_flag]
            if q.get("severity") and not any(f.severity == q["severity"] for f in flags):
                continue
            if q.get("category") and not any(f.category == q["category"] for f in flags):
                continue
            if q.get("state") and not any(f.state == q["state"] for f in flags):
                continue
            shown.append(v)
        categories = sorted({f.category for v in views for f in v.flags if f.is_flag})
        return self.render("calls.html", request, calls=shown, agents=agents, categories=categories, q=q, more=max(0, len(chosen) - MAX_CALLS))

    def queue_page(self, request: Request) -> Response:
        assert request.user is not None
        state = request.query.get("state", "")
        flags = [f for f in self._flags(request.user) if f.is_flag and (f.state == state if state else f.state in OPEN_STATES)]
        flags.sort(key=lambda f: (SEVERITY_ORDER.index(f.severity) if f.severity in SEVERITY_ORDER else 9, f.started_at, f.call_id, f.pos))
        return self.render("queue.html", request, flags=flags[:MAX_FLAGS], total=len(flags), state=state, open_states=OPEN_STATES)

    def _may_see(self, request: Request, call_id: str) -> bool:
        """Whether the user may see this ended call (no for a call that exists but is not
        theirs: the same answer as for no call)."""
        assert request.user is not None
        row = self.archive.conn.execute("SELECT c.agent_id FROM calls c JOIN call_status s ON s.call_id = c.call_id "
                                        "WHERE c.call_id = ? AND c.pos = 0 AND s.status IN ('sealed', 'interrupted')", (call_id,)).fetchone()
        return row is not None and self._visible(request.user, str(row["agent_id"] or ""))

    def call_page(self, request: Request) -> Response:
        from assistant.archive.report import call_views

        call_id = request.query.get("id", "")
        if not self._may_see(request, call_id):
            return self.render("error.html", request, HTTPStatus.NOT_FOUND, message=f"no call {call_id}")
        view = call_views(self.archive, self.cards, [call_id], with_lines=True)[0]
        audio = self.archive.conn.execute("SELECT pos, name FROM audio_files WHERE call_id = ? ORDER BY pos", (call_id,)).fetchall()
        return self.render("call.html", request, call=view, audio=[dict(a) for a in audio], saved=request.query.get("saved", ""))

    def _intact(self, path: Path, sha256: str) -> bool:
        """Whether a recording still has the SHA-256 recorded for it; checked once per file
        state (a player asks for many byte ranges of the same file)."""
        from assistant.files import file_digest

        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, sha256)
        if key not in self._intact_files:
            if file_digest(path) != sha256:
                return False
            self._intact_files.add(key)
        return True

    def audio(self, request: Request) -> Response:
        call_id = request.query.get("id", "")
        if not self._may_see(request, call_id):
            return Response(HTTPStatus.NOT_FOUND, b"no such call", "text/plain; charset=utf-8")
        try:
            pos = int(request.query.get("n", ""))
        except ValueError:
            return Response(HTTPStatus.BAD_REQUEST, b"n: the recording's position", "text/plain; charset=utf-8")
        row = self.archive.conn.execute("SELECT path, sha256 FROM audio_files WHERE call_id = ? AND pos = ?", (call_id, pos)).fetchone()
        path = Path(str(row["path"])) if row is not None else None
        if path is None or not path.is_file():
            return Response(HTTPStatus.NOT_FOUND, self.labels.qa["audio_missing"].encode("utf-8"), "text/plain; charset=utf-8")
        if not self._intact(path, str(row["sha256"])):
            return Response(HTTPStatus.CONFLICT, b"the recording no longer matches the SHA-256 recorded for it: it was changed after the call",
                            "text/plain; charset=utf-8")
        return Response(200, content_type=mimetypes.guess_type(path.name)[0] or "audio/wav", file=path)

    def search_page(self, request: Request) -> Response:
        from assistant.archive.search import search

        assert request.user is not None
        query = request.query.get("q", "").strip()
        hits = []
        error = ""
        if query:
            try:
                found = search(self.archive, query, agent=request.query.get("agent") or None, limit=200)
            except ValueError as exc:
                found, error = [], str(exc)
            hits = [h for h in found if self._visible(request.user, h.agent_id or "")]
        return self.render("search.html", request, query=query, hits=hits, error=error)

    def rules_page(self, request: Request) -> Response:
        assert request.user is not None
        if not request.user.can("rules"):
            raise Forbidden
        return self.render("rules.html", request, rates=dismissal_rates(self._flags(request.user)))

    # ---- actions ----------------------------------------------------------------------------
    def _flag(self, request: Request) -> Flag:
        from assistant.archive.reviews import get_flag

        assert request.user is not None
        flag = get_flag(self.archive, request.form.get("finding", ""))
        if not self._visible(request.user, flag.agent_id):
            raise Forbidden
        return flag

    def _back(self, flag: Flag) -> Response:
        return _redirect(f"/call?{urlencode({'id': flag.call_id, 'saved': flag.id})}#f-{flag.pos}")

    def _rescore(self, call_id: str, scorer: str) -> None:
        from assistant.archive.scorecard import record_scores, score_calls

        for card in self.cards.values():
            record_scores(self.archive, score_calls(self.archive, card, [call_id]), scorer)

    def review(self, request: Request) -> Response:
        assert request.user is not None
        if not request.user.can("review"):
            raise Forbidden
        decision = request.form.get("decision", "")
        if decision not in ("confirm", "dismiss"):
            return Response(HTTPStatus.BAD_REQUEST, b"decision: confirm or dismiss", "text/plain; charset=utf-8")
        flag = self._flag(request)
        record_review(self.archive, flag.id, decision, request.user.name, request.form.get("note", ""))
        self._rescore(flag.call_id, request.user.name)
        return self._back(flag)

    def dispute(self, request: Request) -> Response:
        assert request.user is not None
        flag = self._flag(request)
        if not request.user.can("dispute") or flag.agent_id != request.user.name:
            raise Forbidden  # only the agent whose call it is disputes
        record_review(self.archive, flag.id, "dispute", request.user.name, request.form.get("note", ""))
        return self._back(flag)

    def export(self, request: Request) -> Response:
        from assistant.archive.export import export_call
        from assistant.archive.report import slug

        assert request.user is not None
        if not request.user.can("export"):
            raise Forbidden
        call_id = request.form.get("call", "")
        if not self._may_see(request, call_id):
            return self.render("error.html", request, HTTPStatus.NOT_FOUND, message=f"no call {call_id}")
        redact = request.form.get("redact", "1") != "0"
        if not redact and not request.user.can("export_full"):
            raise Forbidden
        with tempfile.TemporaryDirectory(prefix="callassist-export-") as tmp:
            bundle = Path(tmp) / "evidence.zip"
            export_call(self.archive, call_id, bundle, redact=redact, include_audio=True, mute_unaligned=True)
            data = bundle.read_bytes()
        self.archive.log_event("exported", call_id, json.dumps({"by": request.user.name, "redacted": redact}))
        name = f"{slug(call_id)}{'-redacted' if redact else ''}.zip"
        return Response(200, data, "application/zip", [("Content-Disposition", f'attachment; filename="{name}"')])


def _local(target: str) -> str:
    """A redirect target inside the app (never another site)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/calls"
    return target


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class _Handler(BaseHTTPRequestHandler):
    server_version = "callassist"
    sys_version = ""
    app: ReviewApp
    host_names: tuple[str, ...] = ()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Method, path and status only: never the query or the form (they can hold personal data)."""
        path = urlsplit(self.path).path if hasattr(self, "path") else "-"
        status = args[1] if len(args) > 1 and format.startswith('"%s" %s') else "-"
        sys.stderr.write(f"{self.log_date_time_string()} {getattr(self, 'command', '-')} {path[:200]} {status}\n")

    def _request(self) -> Request | None:
        parts = urlsplit(self.path)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if self.host_names and host not in self.host_names:
            self._send(Response(HTTPStatus.MISDIRECTED_REQUEST, b"unknown host", "text/plain; charset=utf-8"))
            return None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        cookies = {}
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
            cookies = {k: m.value for k, m in jar.items()}
        except Exception:  # noqa: BLE001 - a malformed cookie header is no cookie
            cookies = {}
        form: dict[str, str] = {}
        if self.command == "POST":
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                self._send(Response(HTTPStatus.BAD_REQUEST, b"bad Content-Length", "text/plain; charset=utf-8"))
                return None
            if length > MAX_FORM:
                self._send(Response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"form too large", "text/plain; charset=utf-8"))
                return None
            body = self.rfile.read(length).decode("utf-8", "replace")
            form = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
        return Request(self.command, parts.path, query, form, cookies, dict(self.headers.items()))

    def _serve(self) -> None:
        request = self._request()
        if request is None:
            return
        try:
            response = self.app.handle(request)
        except Exception as exc:  # noqa: BLE001 - a bug answers 500, never a traceback to the browser
            sys.stderr.write(f"internal error on {request.path}: {type(exc).__name__}\n")
            response = Response(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error: see the server's log", "text/plain; charset=utf-8")
        self._send(response)

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self._serve()

    def do_POST(self) -> None:  # noqa: N802 - the base class's name
        self._serve()

    def _send(self, response: Response) -> None:
        body = response.body
        start, end, size = 0, 0, 0
        status = response.status
        if response.file is not None:
            size = response.file.stat().st_size
            start, end = 0, size - 1
            wanted = self.headers.get("Range", "")
            if wanted.startswith("bytes="):
                first, _, last = wanted[6:].split(",")[0].partition("-")
                try:
                    start = int(first) if first else max(0, size - int(last))
                    end = min(int(last), size - 1) if first and last else size - 1
                except ValueError:
                    start, end = 0, size - 1
                if start > end or start >= size:
                    self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = HTTPStatus.PARTIAL_CONTENT
        self.send_response(status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", CSP)
        if response.file is not None:
            self.send_header("Accept-Ranges", "bytes")
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            with response.file.open("rb") as fh:
                fh.seek(start)
                left = end - start + 1
                while left > 0:
                    chunk = fh.read(min(65536, left))
                    if not chunk:
                        break
                    try:
                        self.wfile.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    left -= len(chunk)
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ReviewServer:
    """The app served on ``host:port`` in a background thread (port 0: any free port)."""

    def __init__(self, app: ReviewApp, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"app": app, "host_names": ("127.0.0.1", "localhost", "::1", host.strip("[]").lower())
                                                if _loopback(host) else ()})
        try:
            self.httpd = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise LiveCallError(f"cannot serve on {host}:{port} ({exc.strerror}): choose another --port") from exc
        self.httpd.daemon_threads = True
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The app's address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> "ReviewServer":
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="callassist-review", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self.httpd.serve_forever()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown() if self._thread is not None else None
        self.httpd.server_close()


__all__ = ["ReviewApp", "ReviewServer", "Request", "Response"]
