"""The QA review app (`callassist serve`): permissions over real HTTP on loopback, and the
whole reviewer's round in headless Chromium (Debian's `chromium`, driven by Playwright)."""
from __future__ import annotations

import http.client
import re
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import pytest

from assistant.archive import Archive, verify
from assistant.archive.audit import find_recordings, read_manifest, run_audit, with_manifest
from assistant.archive.export import verify_bundle
from assistant.archive.reviews import get_flag, load_flags
from assistant.archive.scorecard import load_scorecard
from assistant.archive.users import add_user
from assistant.views.review_app import ReviewApp, ReviewServer

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "tests" / "artifacts" / "review_app"
PASSWORDS = {"qa.li": "reviewer-pass-1", "boss": "admin-pass-123", "coach": "trainer-pass-1", "A7": "agent-a7-pass", "B2": "agent-b2-pass",
             "C3": "agent-c3-pass"}
ROLES = {"qa.li": "reviewer", "boss": "admin", "coach": "trainer", "A7": "agent", "B2": "agent", "C3": "agent"}
THREATS = "zh-threats_and_insults"


@pytest.fixture(scope="module")
def qa_archive(tmp_path_factory):
    """The Mandarin fixture recordings (WAV + transcript) audited into a fresh archive:
    agent A7 made the threatening call, B2 the others."""
    home = tmp_path_factory.mktemp("qa")
    manifest = home / "calls.csv"
    manifest.write_text("file,agent_id,started_at\n"
                        "threats_and_insults.wav,A7,2026-11-20T10:15:00+08:00\n"
                        "already_repaid.wav,B2,2026-11-21T11:00:00+08:00\n"
                        "hardship_installments.wav,B2,2026-11-22T15:30:00+08:00\n"
                        "refuse_to_sign.wav,B2,2026-11-23T09:45:00+08:00\n", encoding="utf-8")
    recordings, _ = find_recordings([ROOT / "recordings_fixtures" / "zh"], False)
    recordings, unknown = with_manifest(recordings, read_manifest(manifest))
    assert not unknown
    path = home / "archive.db"
    archive = Archive(path)
    cards = {"zh": load_scorecard(lang="zh")}
    summary = run_audit(archive, recordings, workers=1, scorecards=cards)
    assert len(summary.audited) == 4 and not summary.failed, summary.failed
    for name, password in PASSWORDS.items():
        add_user(archive, name, ROLES[name], password)
    return archive, cards


@pytest.fixture(scope="module")
def server(qa_archive):
    archive, cards = qa_archive
    srv = ReviewServer(ReviewApp(archive, lang="zh", cards=cards), "127.0.0.1", 0).start()
    yield srv
    srv.close()


class Client:
    """A tiny HTTP client with a cookie jar, for requests a browser would not make."""

    def __init__(self, server: ReviewServer, host: str | None = None) -> None:
        self.port = server.port
        self.host = host
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if self.host:
            headers["Host"] = self.host
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        data = res.read()
        cookies = res.msg.get_all("Set-Cookie") or []
        for c in cookies:
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in c:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        conn.close()
        return res.status, {k: v for k, v in res.getheaders()} | {"_set_cookie": " | ".join(cookies)}, data.decode("utf-8", "replace"), data

    def login(self, name: str) -> None:
        status, _, page, _ = self.request("GET", "/login")
        token = _token(page)
        status, headers, _, _ = self.request("POST", "/login", {"csrf": token, "user": name, "password": PASSWORDS[name], "next": "/calls"})
        assert status == 303 and headers["Location"] == "/calls", (status, headers)

    def csrf(self, path: str = "/calls") -> str:
        _, _, page, _ = self.request("GET", path)
        return _token(page)


def _token(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page[:500]
    return found.group(1)


def _flag(archive, category: str, call_id: str = THREATS):
    return next(f for f in load_flags(archive, [call_id]) if f.category == category and f.is_flag)


def test_an_anonymous_request_is_sent_to_log_in(server):
    c = Client(server)
    status, headers, _, _ = c.request("GET", "/calls?agent=A7")
    assert status == 303 and headers["Location"].startswith("/login?next=")
    status, _, _, _ = c.request("POST", "/review", {"finding": f"{THREATS}#7", "decision": "dismiss"})
    assert status == 401
    status, _, _, _ = c.request("GET", f"/audio?id={THREATS}&n=1")
    assert status == 303


def test_the_session_cookie_is_httponly_and_samesite(server):
    c = Client(server)
    _, _, page, _ = c.request("GET", "/login")
    token = _token(page)
    _, headers, _, _ = c.request("POST", "/login", {"csrf": token, "user": "qa.li", "password": PASSWORDS["qa.li"]})
    session = [p for p in headers["_set_cookie"].split(" | ") if p.startswith("callassist_session=")][0]
    assert "HttpOnly" in session and "SameSite=Strict" in session
    assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_a_wrong_password_and_a_login_without_its_token_are_refused(server):
    c = Client(server)
    _, _, page, _ = c.request("GET", "/login")
    token = _token(page)
    status, _, page, _ = c.request("POST", "/login", {"csrf": token, "user": "qa.li", "password": "wrong password"})
    assert status == 401 and "用户名或密码不对" in page and "callassist_session" not in c.cookies
    status, _, _, _ = Client(server).request("POST", "/login", {"user": "qa.li", "password": PASSWORDS["qa.li"]})
    assert status == 403


def test_repeated_wrong_passwords_lock_the_name_out(server):
    c = Client(server)
    for _ in range(5):
        _, _, page, _ = c.request("GET", "/login")
        token = _token(page)
        c.request("POST", "/login", {"csrf": token, "user": "C3", "password": "guess guess guess"})
    _, _, page, _ = c.request("GET", "/login")
    token = _token(page)
    status, _, _, _ = c.request("POST", "/login", {"csrf": token, "user": "C3", "password": PASSWORDS["C3"]})
    assert status == 429


def test_a_form_post_without_the_csrf_token_is_refused(server, qa_archive):
    archive, _ = qa_archive
    c = Client(server)
    c.login("qa.li")
    flag = _flag(archive, "abuse")
    before = len(get_flag(archive, flag.id).history)
    status, _, body, _ = c.request("POST", "/review", {"finding": flag.id, "decision": "confirm", "note": "x"})
    assert status == 403 and "CSRF" in body
    status, _, _, _ = c.request("POST", "/review", {"finding": flag.id, "decision": "confirm", "note": "x", "csrf": "forged"})
    assert status == 403
    assert len(get_flag(archive, flag.id).history) == before


def test_a_trainer_cannot_change_reviews_but_sees_the_rule_rates(server, qa_archive):
    archive, _ = qa_archive
    c = Client(server)
    c.login("coach")
    flag = _flag(archive, "abuse")
    before = len(get_flag(archive, flag.id).history)
    status, _, page, _ = c.request("POST", "/review", {"finding": flag.id, "decision": "dismiss", "note": "no", "csrf": c.csrf()})
    assert status == 403 and "你的角色不能做这件事" in page
    assert len(get_flag(archive, flag.id).history) == before
    status, _, page, _ = c.request("GET", "/rules")
    assert status == 200 and "zh.abuse" in page
    _, _, page, _ = c.request("GET", f"/call?id={THREATS}")
    assert 'action="/review"' not in page  # no decision forms for a trainer


def test_a_reviewer_cannot_export_unredacted_but_can_export_redacted(server, tmp_path):
    c = Client(server)
    c.login("qa.li")
    token = c.csrf()
    status, _, _, _ = c.request("POST", "/export", {"call": THREATS, "redact": "0", "csrf": token})
    assert status == 403
    status, headers, _, data = c.request("POST", "/export", {"call": THREATS, "redact": "1", "csrf": token})
    assert status == 200 and headers["Content-Type"] == "application/zip"
    bundle = tmp_path / "e.zip"
    bundle.write_bytes(data)
    assert verify_bundle(bundle, None) == []
    with zipfile.ZipFile(bundle) as z:
        texts = b"".join(z.read(n) for n in z.namelist() if not n.endswith(".wav")).decode("utf-8", "replace")
    assert "李强" not in texts  # the debtor's name, masked


def test_an_admin_exports_unredacted(server, tmp_path):
    c = Client(server)
    c.login("boss")
    status, _, _, data = c.request("POST", "/export", {"call": THREATS, "redact": "0", "csrf": c.csrf()})
    assert status == 200
    bundle = tmp_path / "full.zip"
    bundle.write_bytes(data)
    with zipfile.ZipFile(bundle) as z:
        assert "李强" in z.read("transcript.html").decode("utf-8")


def test_an_agent_sees_only_their_own_calls_and_cannot_decide(server, qa_archive):
    archive, _ = qa_archive
    c = Client(server)
    c.login("B2")
    _, _, page, _ = c.request("GET", "/calls")
    assert "zh-already_repaid" in page and THREATS not in page
    status, _, _, _ = c.request("GET", f"/call?id={THREATS}")
    assert status == 404
    status, _, _, _ = c.request("GET", f"/audio?id={THREATS}&n=1")
    assert status == 404
    _, _, page, _ = c.request("GET", "/search?" + urlencode({"q": "单位"}))
    assert THREATS not in page
    flag = _flag(archive, "abuse")
    token = c.csrf()
    assert c.request("POST", "/review", {"finding": flag.id, "decision": "dismiss", "note": "no", "csrf": token})[0] == 403
    assert c.request("POST", "/dispute", {"finding": flag.id, "note": "not my call", "csrf": token})[0] == 403
    assert c.request("GET", "/rules")[0] == 403


def test_malformed_requests_get_one_clear_status(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/login")
    conn.putheader("Content-Length", "lots")
    conn.endheaders()
    assert conn.getresponse().status == 400
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/login", body="x" * 70000, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert conn.getresponse().status == 413
    assert Client(server).request("GET", "/nowhere")[0] == 404
    assert Client(server).request("DELETE", "/calls")[0] in (405, 501)


def test_another_host_name_is_refused(server):
    status, _, _, _ = Client(server, host="attacker.example:80").request("GET", "/login")
    assert status == 421


def test_the_audio_is_served_in_ranges(server):
    c = Client(server)
    c.login("qa.li")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    _, _, page, _ = c.request("GET", f"/call?id={THREATS}")
    found = re.search(r'<audio id="player"[^>]*src="([^"]+)"', page)
    assert found is not None
    src = found.group(1).replace("&amp;", "&")
    conn.request("GET", src, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items()), "Range": "bytes=0-43"})
    res = conn.getresponse()
    head = res.read()
    assert res.status == 206 and head[:4] == b"RIFF" and len(head) == 44 and str(res.getheader("Content-Range")).startswith("bytes 0-43/")


def test_searches_do_not_reach_the_request_log(server, capfd):
    c = Client(server)
    c.login("qa.li")
    c.request("GET", "/search?" + urlencode({"q": "李强"}))
    err = capfd.readouterr().err
    assert "/search" in err and "李强" not in err and "%E6%9D%8E" not in err


# ---- the whole round in a real browser ---------------------------------------------------------
def _sign_in(browser, server, name):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(server.url + "calls")
    page.fill("#user", name)
    page.fill("#password", PASSWORDS[name])
    page.click("#sign-in")
    page.wait_for_url("**/calls")
    return context, page


@pytest.mark.browser
def test_a_reviewer_works_through_the_app_in_a_browser(browser, server, qa_archive, tmp_path):
    archive, _ = qa_archive
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page = _sign_in(browser, server, "qa.li")
    assert page.locator("tr.call-row").count() == 4
    page.screenshot(path=str(SHOTS / "1_calls.png"))

    # filter: agent A7, critical flags
    page.select_option("#f-agent", "A7")
    page.select_option("#f-severity", "critical")
    page.click("#f-apply")
    page.wait_for_url("**agent=A7**")
    assert page.locator("tr.call-row").count() == 1
    page.screenshot(path=str(SHOTS / "2_filtered.png"))

    # open the call; play from the fifth line: the recording jumps there and the line lights up
    page.click(f"text={THREATS}")
    page.wait_for_selector("#transcript")
    line = page.locator("tr.line").nth(4)
    start = float(line.get_attribute("data-start"))
    line.locator("button.play").click()
    page.wait_for_function("() => { const p = document.getElementById('player'); return !p.paused && p.currentTime > 0; }", timeout=15000)
    now = page.evaluate("document.getElementById('player').currentTime")
    assert start <= now < start + 5
    page.wait_for_function("() => document.querySelector('tr.line.playing') !== null", timeout=10000)
    playing = page.locator("tr.line.playing").first.get_attribute("id")
    assert playing == line.get_attribute("id")
    page.screenshot(path=str(SHOTS / "3_playing.png"))
    page.evaluate("document.getElementById('player').pause()")

    # confirm one flag, dismiss another
    arrest = _flag(archive, "threat_arrest")
    abuse = _flag(archive, "abuse")
    box = page.locator(f"#f-{arrest.pos}")
    box.locator("input[name=note]").fill("明确的刑事威胁")
    box.locator("button.confirm").click()
    page.wait_for_selector(f"#f-{arrest.pos}[data-state=confirmed]")
    box = page.locator(f"#f-{abuse.pos}")
    box.locator("input[name=note]").fill("语气重但属转述")
    box.locator("button.dismiss").click()
    page.wait_for_selector(f"#f-{abuse.pos}[data-state=dismissed]")
    assert get_flag(archive, arrest.id).state == "confirmed" and get_flag(archive, abuse.id).state == "dismissed"
    page.screenshot(path=str(SHOTS / "4_decided.png"))

    # the agent disputes the confirmed flag …
    agent_ctx, agent = _sign_in(browser, server, "A7")
    assert agent.locator("tr.call-row").count() == 1
    agent.goto(server.url + "call?" + urlencode({"id": THREATS}) + f"#f-{arrest.pos}")
    box = agent.locator(f"#f-{arrest.pos}")
    box.locator("input[name=note]").fill("客户先说要报警，我是在复述")
    box.locator("button.dispute-go").click()
    agent.wait_for_selector(f"#f-{arrest.pos}[data-state=disputed]")
    agent.screenshot(path=str(SHOTS / "5_disputed.png"))
    agent_ctx.close()

    # … the reviewer sees it in the queue and answers it
    page.goto(server.url + "queue?state=disputed")
    page.click(f"text={arrest.id}")
    box = page.locator(f"#f-{arrest.pos}")
    assert "答复申诉" in box.inner_text()
    box.locator("input[name=note]").fill("录音 0:10 是坐席本人所说，维持")
    box.locator("button.confirm").click()
    page.wait_for_selector(f"#f-{arrest.pos}[data-state=confirmed]")
    history = page.locator(f"#f-{arrest.pos} .history li")
    assert history.count() == 3  # confirmed, disputed, confirmed again: all kept
    page.screenshot(path=str(SHOTS / "6_answered.png"))

    # search 单位 and open the hit: the same finding the review acts on
    page.click("#nav-search")
    page.fill("#q", "单位")
    page.click("#search-go")
    hit = page.locator("a.hit-finding").first
    fid = hit.inner_text()
    page.screenshot(path=str(SHOTS / "7_search.png"))
    hit.click()
    page.wait_for_selector("#transcript")
    target = page.locator(":target")
    assert target.get_attribute("data-finding") == fid
    assert get_flag(archive, fid).category == "third_party_disclosure"

    # export (redacted: a reviewer's only choice) and check the bundle on its own
    assert page.locator("#export-full").count() == 0
    with page.expect_download() as download:
        page.click("#export-redacted button")
    bundle = tmp_path / "bundle.zip"
    download.value.save_as(str(bundle))
    assert verify_bundle(bundle, None) == []
    page.screenshot(path=str(SHOTS / "8_exported.png"))
    context.close()


def test_the_review_app_works_on_a_central_postgresql_archive(postgres_url, tmp_path):
    """Log in, open the call, confirm a flag (with the CSRF token), search, export redacted:
    the same app over the PostgreSQL backend."""
    recordings, _ = find_recordings([ROOT / "recordings_fixtures" / "zh"], True)
    archive = Archive(postgres_url)
    cards = {"zh": load_scorecard(lang="zh")}
    assert len(run_audit(archive, recordings, workers=1, scorecards=cards).audited) == 4
    add_user(archive, "qa.li", "reviewer", PASSWORDS["qa.li"])
    srv = ReviewServer(ReviewApp(archive, lang="zh", cards=cards), "127.0.0.1", 0).start()
    try:
        c = Client(srv)
        c.login("qa.li")
        flag = _flag(archive, "threat_arrest")
        status, _, page, _ = c.request("GET", f"/call?id={THREATS}")
        assert status == 200 and flag.id in page
        status, _, _, _ = c.request("POST", "/review", {"finding": flag.id, "decision": "confirm", "note": "明确的刑事威胁", "csrf": c.csrf()})
        assert status == 303
        assert get_flag(archive, flag.id).state == "confirmed"
        status, _, page, _ = c.request("GET", "/search?" + urlencode({"q": "抓走"}))
        assert status == 200 and f"#f-{flag.pos}" in page
        status, headers, _, data = c.request("POST", "/export", {"call": THREATS, "redact": "1", "csrf": c.csrf()})
        assert status == 200 and headers["Content-Type"] == "application/zip"
        (tmp_path / "e.zip").write_bytes(data)
        assert verify_bundle(tmp_path / "e.zip", None) == []
        assert verify(archive).ok
    finally:
        srv.close()
