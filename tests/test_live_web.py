"""The browser live view in headless Chromium (Debian's `chromium`, driven by Playwright):
a Mandarin call in progress, its screenshot, the token and origin checks."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from assistant.asr.scripted import ScriptedRecognizer, load_transcript
from assistant.events import Partial
from assistant.pipeline import CallPipeline
from assistant.pipeline.live import queued, run_live, silence
from assistant.views.web import WebView

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CALL = ROOT / "recordings_fixtures" / "zh" / "threats_and_insults.jsonl"
SHOTS = ROOT / "tests" / "artifacts"


def test_the_browser_follows_a_mandarin_call_and_a_screenshot_shows_it(browser, checker):
    meta, rows = load_transcript(CALL)
    view = WebView("zh", port=0)
    assert view.url.startswith("http://127.0.0.1:")
    recognizers = {s: ScriptedRecognizer(rows, s) for s in ("agent", "customer")}
    pipe = CallPipeline("zh-web-demo", "zh", checker=checker, recognizers=recognizers, sinks=queued({"web": view}),
                        case={"customer_name": "李强", "days_overdue": 7, "amount_due": "4800元", "institution": "诚信消费金融"})
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(view.url)
    page.wait_for_selector("text=等待通话")
    done = threading.Event()

    def play() -> None:
        try:
            run_live(pipe, silence(20.0, ["agent", "customer"]), speed=3)
        finally:
            done.set()

    player = threading.Thread(target=play, daemon=True)
    view.linger = 0
    close = view.close
    view.close = lambda: None  # type: ignore[method-assign]  # keep serving after the call so the page can be inspected
    player.start()
    page.wait_for_selector("text=以抓人/坐牢相威胁", timeout=30_000)
    SHOTS.mkdir(exist_ok=True)
    shot = SHOTS / "live_view_zh.png"
    page.screenshot(path=str(shot), full_page=True)  # the call in progress
    assert shot.stat().st_size > 20_000
    body = page.inner_text("body")
    assert not done.is_set() and "通话结束" not in body
    for words in ("通话助手", "坐席", "客户", "今天不还，明天就让警察上门把你抓走。", "以抓人/坐牢相威胁", "可以这样说", "建议话术", "环节"):
        assert words in body, words
    assert "zh.threat_arrest" not in body  # no rule ids on the collector's screen
    assert done.wait(30)
    page.wait_for_selector("body[data-ended='1']", timeout=10_000)  # (the page's CSP forbids eval, so no wait_for_function)
    assert "通话结束: 已封存" in page.inner_text("body")
    page.close()
    close()


def test_the_live_view_needs_its_token_and_refuses_other_origins(browser):
    view = WebView("en", port=0)
    try:
        base = view.url.split("?")[0]
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(base)
        assert denied.value.code == 403
        with urllib.request.urlopen(view.url) as ok:
            assert ok.status == 200 and "text/html" in ok.headers["Content-Type"] and "no-store" in ok.headers["Cache-Control"]
        page = browser.new_page()
        page.goto("data:text/html,<p>elsewhere</p>")
        ws_url = view.url.replace("http://", "ws://").replace("/?", "/ws?")
        result = page.evaluate("""url => new Promise(done => {
            const ws = new WebSocket(url);
            ws.onopen = () => done("open"); ws.onerror = () => done("refused");
        })""", ws_url)
        assert result == "refused"
        page.goto(view.url)
        page.wait_for_selector("text=Waiting for the call")  # an English call's screen is in English
        assert "Call assist" in page.inner_text("header") and page.evaluate("document.documentElement.lang") == "en"
        view.handle(Partial("c", "agent", "<img src=x onerror=alert(1)>", 0.0))
        page.wait_for_selector("text=<img src=x onerror=alert(1)>")  # shown as text, never as markup
        page.close()
    finally:
        view.close()


def test_a_taken_port_is_a_clear_error():
    first = WebView("zh", port=0)
    try:
        from assistant.errors import LiveCallError

        with pytest.raises(LiveCallError, match="choose another --port"):
            WebView("zh", port=first.port)
    finally:
        first.close()
