"""The call pipeline end to end: fixture calls through `live` (scripted recogniser and the
Korean Vosk model), provisional alerts confirmed and withdrawn, low confidence, overload
policy, recogniser failure, the registry, the views' labels, and `callassist demo`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from assistant.archive.store import Archive
from assistant.archive.verify import verify
from assistant.asr.scripted import ScriptedRecognizer, load_transcript
from assistant.cli import cli
from assistant.constants import CUE_CATEGORIES, SEVERITIES, STAGES, VIOLATION_CATEGORIES
from assistant.errors import LiveCallError, RegistryError
from assistant.events import CallEnded, CallStarted, Finding, LowConfidence, Partial, StageChanged, Suggestion, Utterance, Withdrawn, Word
from assistant.pipeline import CallPipeline, registry, word_times
from assistant.pipeline.live import QueuedSink, UseLine, queued, run_live, silence
from assistant.pipeline.sinks import ArchiveSink, MemorySink
from assistant.views.labels import LABELS
from assistant.views.state import LiveState

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "recordings_fixtures"
CASE = {"id": "C-1", "customer_name": "李强", "customer_title": "李先生", "institution": "诚信消费金融", "agent_name": "小王",
        "agent_id": "A7", "amount_due": "4800元", "days_overdue": 7, "due_date": "11月28日", "repayment_channel": "官方App"}


def replay(name: str, checker, *, sinks=(), case=CASE, speed=0.0, lang="zh"):
    """Play a fixture's reference transcript through the live runner; returns (pipeline, memory sink, result)."""
    meta, rows = load_transcript(FIXTURES / lang / f"{name}.jsonl")
    mem = MemorySink()
    recognizers = {s: ScriptedRecognizer(rows, s) for s in ("agent", "customer")}
    pipe = CallPipeline(meta["id"], lang, case=case, checker=checker, recognizers=recognizers, sinks=queued({"memory": mem, **dict(sinks)}))
    result = run_live(pipe, silence(max(r["end"] for r in rows) + 0.5, ["agent", "customer"]), speed=speed)
    return pipe, mem, result


@pytest.mark.parametrize("name", ["threats_and_insults", "hardship_installments", "already_repaid", "refuse_to_sign"])
def test_fixture_call_through_live_gives_the_expected_findings_stages_suggestions_and_archive(name, checker, tmp_path):
    archive = tmp_path / "a.db"
    pipe, mem, result = replay(name, checker, sinks={"archive": ArchiveSink(archive)})
    assert result.status == "sealed" and not result.sink_errors
    expected = json.loads((FIXTURES / "zh" / f"{name}.expected.json").read_text(encoding="utf-8"))["lines"]
    utterances = mem.of(Utterance)
    assert [u.text for u in utterances] == [line["text"] for line in expected]
    finals = [f for f in mem.of(Finding) if not f.provisional]
    for utt, line in zip(utterances, expected):
        got = {f.category for f in finals if f.seq == utt.seq and not f.extra.get("call_rule")}  # line findings (call rules: test_call_rules)
        assert got == set(line["categories"]), (utt.text, got)
        for f in finals:
            if f.seq == utt.seq:  # every alert knows its call, utterance, speaker and audio time
                assert f.call_id == pipe.call_id and f.speaker == utt.speaker and utt.start - 0.01 <= f.audio_start <= f.audio_end <= utt.end + 0.01
    stages = [e.stage for e in mem.of(StageChanged)]
    assert stages == [s for _, s in pipe.tracker.history[1:]] and all(s in STAGES for s in stages)
    suggestions = mem.of(Suggestion)
    assert suggestions and all(s.line_id for s in suggestions)
    assert isinstance(mem.events[0], CallStarted) and isinstance(mem.events[-1], CallEnded)
    a = Archive(archive, readonly=True)
    try:
        rows = a.records(pipe.call_id)
        kinds = [t for t, _ in rows]
        assert kinds.count("utterances") == len(expected)
        assert kinds.count("findings") == len(finals)
        assert kinds.count("suggestions") == len(suggestions)
        assert a.status(pipe.call_id) == "sealed"
        report = verify(a)
        assert report.ok, report.problems
    finally:
        a.close()


def test_threats_call_stage_sequence_and_suggestion_ids(checker):
    pipe, mem, _ = replay("threats_and_insults", checker)
    assert [e.stage for e in mem.of(StageChanged)] == ["negotiation", "escalation"]
    after_threat = [s.line_id for s in mem.of(Suggestion) if s.seq == 4]
    assert after_threat[0] == "rule:zh.threat_arrest.police" or after_threat[0].startswith("zh.repair"), after_threat


def test_a_provisional_alert_is_confirmed_at_the_final(checker):
    _, mem, _ = replay("threats_and_insults", checker)
    provisional = [f for f in mem.of(Finding) if f.provisional]
    assert provisional, "the rule layer raises alerts on partials"
    finals = {(f.speaker, f.category) for f in mem.of(Finding) if not f.provisional}
    for p in provisional:
        assert (p.speaker, p.category) in finals
    assert not mem.of(Withdrawn)
    complaint = [e for e in mem.events if isinstance(e, Finding) and e.category == "complaint"]
    assert complaint[0].provisional and not complaint[-1].provisional  # shown early, then confirmed
    assert mem.events.index(complaint[0]) < mem.events.index(next(u for u in mem.of(Utterance) if "报警" in u.text))


def test_a_provisional_alert_is_withdrawn_when_the_final_says_otherwise(checker):
    mem = MemorySink()
    pipe = CallPipeline("w1", "zh", checker=checker, sinks=[mem], suggest=False, checkers=("utterance",))
    out = pipe.feed(Partial("w1", "agent", "再不还就送你去坐牢", 1.0, 2.5))  # a misheard hypothesis …
    shown = [f for f in out if isinstance(f, Finding)]
    assert [f.category for f in shown] == ["threat_arrest"] and shown[0].provisional
    out = pipe.feed(Utterance("w1", 1, "agent", 1.0, 4.0, "再不还就送你一份还款计划书"))  # … that the recogniser revised
    withdrawn = [e for e in out if isinstance(e, Withdrawn)]
    assert [w.finding.category for w in withdrawn] == ["threat_arrest"]
    assert not [f for f in out if isinstance(f, Finding) and f.category == "threat_arrest"]
    state = LiveState(lang="zh")
    for event in mem.events:
        state.apply(event)
    assert [a.status for a in state.alerts] == ["withdrawn"]


def test_low_confidence_finals_never_raise_critical_alerts_and_are_archived_as_such(checker, tmp_path):
    sink = ArchiveSink(tmp_path / "a.db")
    mem = MemorySink()
    pipe = CallPipeline("lc", "zh", checker=checker, sinks=[sink, mem], suggest=False)
    text = "今天不还就让警察上门把你抓走"
    words = (Word("今天不还", 0.0, 1.0, 0.3), Word("就让警察上门", 1.0, 2.0, 0.35), Word("把你抓走", 2.0, 3.0, 0.4))
    out = pipe.feed(Utterance("lc", 1, "agent", 0.0, 3.0, text, words))
    findings = [e for e in out if isinstance(e, Finding)]
    assert findings and all(f.severity != "critical" and f.low_confidence for f in findings)
    assert findings[0].extra["heard_severity"] == "critical"
    low = [e for e in out if isinstance(e, LowConfidence)]
    assert low and "confidence 0.35" in low[0].reason
    # Hangul from a Korean model on a Mandarin call: no alert at all on partials, and "check the recording" on the final
    assert [e for e in pipe.feed(Partial("lc", "agent", "경찰 체포 감옥", 3.0, 4.0)) if isinstance(e, Finding)] == []
    out = pipe.feed(Utterance("lc", 2, "agent", 3.0, 5.0, "경찰 체포 감옥 坐牢", (Word("경찰", 3.0, 3.5, 0.9),)))
    assert any(isinstance(e, LowConfidence) and "Chinese" in e.reason for e in out)
    assert all(f.severity != "critical" for f in out if isinstance(f, Finding))
    pipe.finish()
    a = sink.archive
    events = [r for t, r in a.records("lc") if t == "call_events"]
    assert [r["event"] for r in events][:2] == ["low_confidence", "low_confidence"]
    assert "utterance 1" in events[0]["detail"]
    sink.close()


def test_the_call_language_wins_over_per_line_detection(checker):
    pipe = CallPipeline("en1", "en", checker=checker, suggest=False)
    out = pipe.feed(Utterance("en1", 1, "agent", 0.0, 2.0, "we will have you arrested 今天"))
    assert any(isinstance(f, Finding) and f.category == "threat_arrest" for f in out)


class SlowSink:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.events: list[object] = []

    def handle(self, event) -> None:
        time.sleep(self.delay)
        self.events.append(event)

    def close(self) -> None:
        pass


class StampSink(MemorySink):
    """Notes how far the slow sink had got when this one saw the call end."""

    slow: SlowSink | None = None
    slow_seen = -1

    def handle(self, event) -> None:
        super().handle(event)
        if isinstance(event, CallEnded) and self.slow is not None:
            self.slow_seen = len(self.slow.events)


def test_a_stalled_sink_never_stalls_capture_and_loses_no_final(checker):
    slow, fast = SlowSink(0.05), StampSink()
    fast.slow = slow
    meta, rows = load_transcript(FIXTURES / "zh" / "threats_and_insults.jsonl")
    recognizers = {s: ScriptedRecognizer(rows, s) for s in ("agent", "customer")}
    sinks = [QueuedSink(fast, "fast"), QueuedSink(slow, "slow", max_pending=5)]
    pipe = CallPipeline("slow", "zh", checker=checker, recognizers=recognizers, sinks=sinks)
    result = run_live(pipe, silence(20.0, ["agent", "customer"]), speed=0)
    assert result.status == "sealed"
    assert result.dropped["slow"] > 0 and result.dropped["fast"] == 0  # only the slow view lost partial updates
    assert 0 <= fast.slow_seen < len(slow.events)  # the call had ended while the slow view was still behind
    for kind in (Utterance, StageChanged, Suggestion, CallEnded):
        assert len([e for e in slow.events if isinstance(e, kind)]) == len(fast.of(kind))
    assert len([e for e in slow.events if isinstance(e, Finding) and not e.provisional]) == len([f for f in fast.of(Finding) if not f.provisional])


class FailingRecognizer(ScriptedRecognizer):
    def __init__(self, rows, speaker, fail_at: float) -> None:
        super().__init__(rows, speaker)
        self.fail_at = fail_at

    def accept(self, chunk):
        if chunk.start >= self.fail_at:
            raise RuntimeError("decoder crashed")
        return super().accept(chunk)


def test_a_recogniser_failing_mid_call_ends_it_interrupted_with_a_clear_message(checker, tmp_path):
    meta, rows = load_transcript(FIXTURES / "zh" / "threats_and_insults.jsonl")
    sink = ArchiveSink(tmp_path / "a.db")
    recognizers = {"agent": FailingRecognizer(rows, "agent", 8.0), "customer": ScriptedRecognizer(rows, "customer")}
    pipe = CallPipeline("fail", "zh", checker=checker, recognizers=recognizers, sinks=queued({"archive": sink}))
    with pytest.raises(LiveCallError, match="speech recogniser failed: RuntimeError: decoder crashed"):
        run_live(pipe, silence(20.0, ["agent", "customer"]), speed=0)
    a = Archive(tmp_path / "a.db", readonly=True)
    try:
        assert a.status("fail") == "interrupted"
        assert [r["text"] for t, r in a.records("fail") if t == "utterances"][:2] == [rows[0]["text"], rows[1]["text"]]
        assert verify(a).ok
    finally:
        a.close()


def test_a_used_suggestion_is_recorded_and_not_offered_again(checker, tmp_path):
    sink = ArchiveSink(tmp_path / "a.db")
    pipe = CallPipeline("use", "zh", case=CASE, checker=checker, sinks=[sink])
    pipe.feed(Utterance("use", 1, "customer", 0.0, 2.0, "我最近失业了，真的没钱还"))
    turn = pipe.turns[-1]
    first = turn.suggestions[0].line_id
    used = pipe.use(1)
    assert used[0].line_id == first and pipe.use(9) == []
    pipe.feed(Utterance("use", 2, "customer", 3.0, 5.0, "我还在生病，手头很紧"))
    later = pipe.turns[-1]
    assert first not in [s.line_id for s in later.suggestions]
    pipe.finish()
    events = [(r["script_id"], r["event"]) for t, r in sink.archive.records("use") if t == "suggestions"]
    assert (first, "used") in events
    sink.close()


def test_use_line_commands_reach_the_pipeline_from_another_thread(checker):
    import queue

    inbox: queue.Queue = queue.Queue()
    mem = MemorySink()
    meta, rows = load_transcript(FIXTURES / "zh" / "hardship_installments.jsonl")
    pipe = CallPipeline("keys", "zh", case=CASE, checker=checker, recognizers={s: ScriptedRecognizer(rows, s) for s in ("agent", "customer")},
                        sinks=queued({"m": mem}))

    def press() -> None:
        while not pipe.shown:
            time.sleep(0.01)
        inbox.put(UseLine(1))

    threading.Thread(target=press, daemon=True).start()
    run_live(pipe, silence(max(r["end"] for r in rows) + 0.5, ["agent", "customer"]), speed=4, inbox=inbox)
    assert [type(e).__name__ for e in mem.events].count("SuggestionUsed") == 1


def test_word_times_place_a_span_on_its_words():
    words = (Word("今天", 0.0, 0.4), Word("不还", 0.4, 0.9), Word("就", 0.9, 1.0), Word("坐牢", 1.0, 1.6))
    assert word_times("今天不还就坐牢", words, 5, 7) == (1.0, 1.6)
    assert word_times("今天不还就坐牢", words, 2, 5) == (0.4, 1.0)
    assert word_times("完全不同", words, 0, 2) is None


def test_registry_names_unknown_checkers_and_sinks_and_takes_plugins(checker):
    with pytest.raises(RegistryError, match="unknown sink 'nope'.*known are .*archive"):
        registry.make_sink("nope")
    with pytest.raises(RegistryError, match="unknown checker"):
        CallPipeline("r", "zh", checker=checker, checkers=("utterance", "missing"))

    class Shouty:
        def __init__(self, ctx) -> None:
            self.ctx = ctx

        def partial(self, event):
            return []

        def final(self, utt):
            if "!!!" not in utt.text:
                return []
            return [Finding("violation", "harassment", "plugin.shouting", "minor", 0, len(utt.text), utt.text)]

    registry.checker("test-shouty")(Shouty)
    try:
        pipe = CallPipeline("r", "zh", checker=checker, checkers=("utterance", "test-shouty"), suggest=False)
        out = pipe.feed(Utterance("r", 1, "agent", 0.0, 1.0, "请尽快还款!!!"))
        assert [f.rule_id for f in out if isinstance(f, Finding)] == ["plugin.shouting"]
    finally:
        del registry.checkers["test-shouty"]


def test_every_category_stage_and_severity_has_screen_words_in_both_languages():
    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    for lang in ("zh", "en"):
        line = set(VIOLATION_CATEGORIES) | set(CUE_CATEGORIES)  # and the call/contact families (tests/test_call_rules.py)
        assert {c for c in data[lang]["category"] if "." not in c} == line and line <= set(data[lang]["category"])
        assert set(data[lang]["stage"]) == set(STAGES)
        assert set(data[lang]["severity"]) == set(SEVERITIES)
        assert set(data[lang]["text"]) == set(data["zh"]["text"])


def test_the_screen_has_no_rule_ids_or_offsets_unless_verbose(checker):
    _, mem, _ = replay("threats_and_insults", checker)
    plain, verbose = LiveState(lang="zh"), LiveState(lang="zh", verbose=True)
    for e in mem.events:
        plain.apply(e)
        verbose.apply(e)
    text = json.dumps(plain.to_dict(), ensure_ascii=False)
    assert "zh.threat_arrest" not in text and '"span"' not in text and "以抓人/坐牢相威胁" in text and "可以这样说" in text
    assert "zh.threat_arrest.police" in json.dumps(verbose.to_dict(), ensure_ascii=False)


def test_terminal_view_draws_the_call(checker):
    from io import StringIO

    from rich.console import Console

    from assistant.views.terminal import TerminalView

    out = StringIO()
    view = TerminalView("zh", console=Console(file=out, width=120, force_terminal=True, color_system=None))
    _, mem, _ = replay("threats_and_insults", checker)
    for e in mem.events:
        view.handle(e)
    view.close()
    screen = out.getvalue()
    for words in ("以抓人/坐牢相威胁", "可以这样说", "升级处理", "客户", "坐席", "已封存"):
        assert words in screen
    assert "zh.threat_arrest.police" not in screen


def test_live_cli_replays_a_transcript_as_jsonl_events_and_archives_it(archive_target):
    archive = archive_target
    result = CliRunner().invoke(cli, ["live", "--transcript", str(FIXTURES / "en" / "threats_and_insults.jsonl"), "--speed", "0",
                                      "--view", "jsonl", "--archive", str(archive), "--call-id", "en-live-1"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "call_started" and kinds[-1] == "call_ended" and "finding" in kinds and "partial" in kinds
    assert any(e["event"] == "finding" and e["kind"] == "violation" and not e.get("provisional") for e in events)
    a = Archive(archive, readonly=True)
    try:
        assert a.status("en-live-1") == "sealed" and verify(a).ok
    finally:
        a.close()


def test_live_cli_without_a_source_says_what_to_give():
    result = CliRunner().invoke(cli, ["live"])
    assert result.exit_code == 2 and "--source" in result.output and "--transcript" in result.output


def test_live_on_the_korean_model_with_mandarin_audio_shows_speech_but_no_critical_alert(ko_model_dir, tmp_path):
    archive = tmp_path / "ko.db"
    result = CliRunner().invoke(cli, ["live", "--source", str(FIXTURES / "zh" / "threats_and_insults.wav"), "--model", str(ko_model_dir),
                                      "--lang", "zh", "--view", "jsonl", "--archive", str(archive), "--call-id", "ko-1"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert "partial" in kinds and kinds.count("utterance") >= 2
    assert {e["speaker"] for e in events if e["event"] == "utterance"} == {"agent", "customer"}
    assert not [e for e in events if e["event"] == "finding" and e["severity"] == "critical"]
    assert "low_confidence" in kinds  # Hangul on a Mandarin call: "check the recording"
    a = Archive(archive, readonly=True)
    try:
        assert a.status("ko-1") == "sealed" and verify(a).ok
        assert len([1 for t, _ in a.records("ko-1") if t == "utterances"]) == kinds.count("utterance")
    finally:
        a.close()


def test_demo_without_a_terminal_plays_the_call_logs_it_and_exits_0(tmp_path):
    env = dict(os.environ, CALLASSIST_ARCHIVE=str(tmp_path / "demo.db"), CALLASSIST_MODELS=str(tmp_path / "no-models"))
    env.pop("CALLASSIST_MODEL", None)
    proc = subprocess.run([sys.executable, "-m", "assistant", "demo", "--speed", "4"], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "reference transcript is replayed" in proc.stderr
    for words in ("坐席", "以抓人/坐牢相威胁", "可以这样说", "通话结束: 已封存", "Try next", "callassist archive show demo-"):
        assert words in proc.stdout
    assert "Traceback" not in proc.stderr
    a = Archive(tmp_path / "demo.db", readonly=True)
    try:
        (call,) = a.calls()
        assert call["status"] == "sealed" and verify(a).ok
    finally:
        a.close()
    assert (tmp_path / "demo.db").stat().st_mode & 0o077 == 0


def test_check_text_marks_partials_instead_of_numbering_them():
    lines = '{"partial": true, "speaker": "agent", "text": "再不还就送你去坐牢"}\n{"speaker": "agent", "text": "再不还就送你去坐牢"}\n'
    result = CliRunner().invoke(cli, ["check", "--format", "text", "-"], input=lines)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[0].startswith("   … agent") and "(provisional)" in rows[1]
    assert rows[2].startswith("   2 agent") and "! critical violation:threat_arrest" in rows[3]


class SlowRecognizer(ScriptedRecognizer):
    def accept(self, chunk):
        time.sleep(0.02)
        return super().accept(chunk)


def test_a_recogniser_that_cannot_keep_up_ends_the_call_interrupted_instead_of_losing_audio(checker, tmp_path):
    meta, rows = load_transcript(FIXTURES / "zh" / "threats_and_insults.jsonl")
    sink = ArchiveSink(tmp_path / "a.db")
    pipe = CallPipeline("lag", "zh", checker=checker, recognizers={"agent": SlowRecognizer(rows, "agent")}, sinks=queued({"archive": sink}))
    with pytest.raises(LiveCallError, match="fell .* behind the live audio: this machine cannot keep up"):
        run_live(pipe, silence(20.0, ["agent"]), speed=200, max_backlog=1.0)  # 200× real time: a live source far too fast
    a = Archive(tmp_path / "a.db", readonly=True)
    try:
        assert a.status("lag") == "interrupted"
    finally:
        a.close()


def test_keys_1_to_3_on_the_terminal_mark_a_suggestion_used():
    import pty

    from assistant.views.terminal import KeyReader

    master, slave = pty.openpty()
    pressed: list[int] = []
    stop = threading.Event()
    with os.fdopen(slave, "r") as tty_in:
        reader = KeyReader(pressed.append, stop, tty_in)
        reader.start()
        os.write(master, b"x2q1")
        deadline = time.monotonic() + 5
        while len(pressed) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        reader.restore()
    os.close(master)
    assert pressed == [2, 1]


def test_demo_recognises_the_recording_when_a_speech_model_is_installed(ko_model_dir, tmp_path):
    env = dict(os.environ, CALLASSIST_ARCHIVE=str(tmp_path / "demo.db"), CALLASSIST_MODEL=str(ko_model_dir))
    proc = subprocess.run([sys.executable, "-m", "assistant", "demo", "--speed", "0", "--view", "jsonl"], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "recognising the recording with the speech model" in proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events].count("utterance") >= 2  # the Korean model hears something in the Mandarin audio …
    assert not [e for e in events if e["event"] == "finding" and e["severity"] == "critical"]  # … and raises no alarm on it
