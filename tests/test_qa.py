"""QA review without the web app: finding ids, review states, scorecards, low recogniser
confidence behind a flag, reports, and the commands (score, report, users, review by id)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.archive import Archive, verify
from assistant.archive.audit import find_recordings, run_audit
from assistant.archive.report import write_report
from assistant.archive.reviews import asr_doubt, get_flag, load_flags, parse_finding_id, record_review
from assistant.archive.scorecard import latest_scores, load_scorecard, record_scores, score_calls
from assistant.archive.users import add_user, authenticate, check_password, hash_password
from assistant.cli import cli
from assistant.errors import ArchiveError, FindingIdError, ReportError, ScorecardError, UserError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "recordings_fixtures"
THREATS = "zh-threats_and_insults"


@pytest.fixture
def audited(archive_target):
    recordings, _ = find_recordings([FIXTURES / "zh"], transcripts_only=True)
    archive = Archive(archive_target)
    run_audit(archive, recordings, workers=1, scorecards={"zh": load_scorecard(lang="zh")})
    yield archive
    archive.close()


def test_finding_ids_round_trip_and_bad_ones_say_how_to_write_them():
    assert parse_finding_id("zh-x#12") == ("zh-x", 12)
    assert parse_finding_id("call#with#hash#3") == ("call#with#hash", 3)
    assert parse_finding_id("zh-x", 12) == ("zh-x", 12)
    for bad in ("zh-x", "zh-x#", "#3", "zh-x#three"):
        with pytest.raises(FindingIdError, match="CALL_ID#POS"):
            parse_finding_id(bad)


def test_review_states_follow_decisions_and_disputes_keeping_history(audited):
    flag = next(f for f in load_flags(audited, [THREATS]) if f.category == "threat_arrest")
    assert flag.state == "unreviewed" and flag.counts
    record_review(audited, flag.id, "confirm", "qa.li", "clear")
    assert get_flag(audited, flag.id).state == "confirmed"
    with pytest.raises(ArchiveError, match="needs a note"):
        record_review(audited, flag.id, "dispute", "A7")
    record_review(audited, flag.id, "dispute", "A7", "I was quoting the customer")
    assert get_flag(audited, flag.id).state == "disputed"
    with pytest.raises(ArchiveError, match="already disputed"):
        record_review(audited, flag.id, "dispute", "A7", "again")
    with pytest.raises(ArchiveError, match="answering a dispute needs a note"):
        record_review(audited, flag.id, "dismiss", "qa.li")
    record_review(audited, flag.id, "dismiss", "qa.li", "agreed: a quote")
    now = get_flag(audited, flag.id)
    assert now.state == "dismissed" and not now.counts
    assert [r.decision for r in now.history] == ["confirm", "dispute", "dismiss"]
    assert verify(audited).ok


def test_search_prints_the_ids_that_review_and_show_take(audited):
    db = str(audited.path)
    runner = CliRunner()
    res = runner.invoke(cli, ["archive", "search", "单位", "--archive", db])
    assert res.exit_code == 0, res.output
    ids = re.findall(r"findings: (\S+)", res.stdout)
    assert ids and ids[0].startswith(f"{THREATS}#")
    res = runner.invoke(cli, ["archive", "review", ids[0], "--confirm", "--reviewer", "qa.li", "--note", "told the employer", "--archive", db])
    assert res.exit_code == 0 and "now confirmed" in res.output, res.output
    assert get_flag(audited, ids[0]).category == "third_party_disclosure"
    show = runner.invoke(cli, ["archive", "show", THREATS, "--archive", db])
    assert f"id {ids[0]} (confirmed)" in show.output and f"confirm of {ids[0]} by qa.li" in show.output
    rows = [json.loads(line) for line in runner.invoke(cli, ["archive", "search", "单位", "--format", "jsonl", "--archive", db]).stdout.splitlines()]
    assert rows[0]["findings"] == [ids[0]]
    res = runner.invoke(cli, ["archive", "review", "no-such-call#3", "--dismiss", "--reviewer", "qa.li", "--archive", db])
    assert res.exit_code == 2 and "no finding no-such-call#3" in res.output


# ---- scorecards ------------------------------------------------------------------------------
def _card(tmp_path, **changes):
    data = (ROOT / "lexicons" / "zh" / "qa" / "scorecard.yaml").read_text(encoding="utf-8")
    for old, new in changes.items():
        assert old in data
        data = data.replace(old, new)
    path = tmp_path / "card.yaml"
    path.write_text(data, encoding="utf-8")
    return path


def test_the_shipped_scorecards_load_with_version_and_hash():
    for lang in ("zh", "en"):
        card = load_scorecard(lang=lang)
        assert card.lang == lang and card.version >= 1 and len(card.sha256) == 64 and card.required and card.auto_fail


def test_a_broken_scorecard_names_the_file_and_line(tmp_path):
    with pytest.raises(ScorecardError, match=r"card.yaml:\d+: auto_fail: unknown category 'threat_violenc'"):
        load_scorecard(_card(tmp_path, **{"category: threat_violence,": "category: threat_violenc,"}))
    with pytest.raises(ScorecardError, match="no call could pass"):
        load_scorecard(_card(tmp_path, **{"pass_mark: 80": "pass_mark: 180"}))
    with pytest.raises(ScorecardError, match="not a call-level item"):
        load_scorecard(_card(tmp_path, **{"category: missing.recording_notice,": "category: abuse,"}))
    with pytest.raises(ScorecardError, match="critical"):
        load_scorecard(_card(tmp_path, **{"  critical: 30\n": ""}))
    with pytest.raises(ScorecardError, match="no scorecard at"):
        load_scorecard(tmp_path / "none.yaml")


def test_scores_follow_the_card_and_the_reviews(audited, tmp_path):
    card = load_scorecard(lang="zh")
    scores = {s.call_id: s for s in score_calls(audited, card)}
    threats = scores[THREATS]
    assert threats.score == 0 and not threats.passed and "以坐牢、抓人相威胁" in threats.auto_fail
    assert scores["zh-refuse_to_sign"].score == 100 and scores["zh-refuse_to_sign"].passed
    # a required item costs once however often it is flagged
    labels = [d.label for d in threats.deductions]
    assert len(labels) == len(set(label for label in labels if label)) + sum(1 for label in labels if not label)
    # dismissing the auto-fail flags gives the call its points back
    for f in load_flags(audited, [THREATS]):
        if f.category in ("threat_arrest", "third_party_disclosure"):
            record_review(audited, f.id, "dismiss", "qa.li", "test")
    again = next(s for s in score_calls(audited, card, [THREATS]))
    assert again.auto_fail == () and again.score > 0 and again.dismissed >= 2
    # a trainer's edited copy: heavier abuse, and a new version
    heavy = load_scorecard(_card(tmp_path, **{"abuse: 20": "abuse: 45", "version: 1": "version: 2"}))
    assert next(s for s in score_calls(audited, heavy, [THREATS])).score < again.score
    written = record_scores(audited, [again], "qa.li")
    assert written == 1 and record_scores(audited, [again], "qa.li") == 0  # unchanged: not recorded twice
    stored = latest_scores(audited)[THREATS]
    assert stored["scorecard_hash"] == card.sha256 and stored["scorecard_version"] == 1 and stored["score"] == again.score
    assert verify(audited).ok


# ---- low recogniser confidence behind a flag -----------------------------------------------------
def _word(w, start, conf):
    return {"w": w, "start": start, "end": start + 0.3, "conf": conf}


def test_the_words_behind_a_flag_decide_the_doubt():
    text = "我们就让警察把你抓去坐牢"
    words = [_word(w, i * 0.3, c) for i, (w, c) in enumerate([("我们", .95), ("就", .95), ("让", .9), ("警察", .35), ("把", .9), ("你", .95),
                                                             ("抓去", .9), ("坐牢", .4)])]
    assert "0.35" in asr_doubt(text, words, (text.index("警察"), len(text)))
    assert asr_doubt(text, words, (0, 2)) == ""  # 我们: heard clearly
    assert asr_doubt(text, [], (0, 4)) == ""  # a typed transcript has no doubt


def test_a_flag_on_unsure_words_waits_for_a_reviewer_and_the_report_counts_it(tmp_path):
    lines = [
        {"call": {"id": "zh-unsure", "lang": "zh"}},
        {"speaker": "agent", "start": 0.2, "end": 2.0, "text": "您好，我是诚信消费金融的客服小王，本次通话会录音。",
         "words": [_word(w, 0.2 + i * 0.2, 0.93) for i, w in enumerate(["您好", "我", "是", "诚信", "消费", "金融", "的", "客服", "小王", "本次", "通话", "会", "录音"])]},
        {"speaker": "customer", "start": 2.2, "end": 3.0, "text": "嗯，我是本人。"},
        {"speaker": "agent", "start": 3.2, "end": 6.0, "text": "你再拖着不还，我们就让警察把你抓去坐牢。",
         "words": [_word(w, 3.2 + i * 0.2, c) for i, (w, c) in enumerate(
             [("你", .95), ("再", .95), ("拖着", .9), ("不还", .95), ("我们", .95), ("就", .95), ("让", .9), ("警察", .35), ("把", .9), ("你", .95),
              ("抓去", .45), ("坐牢", .4)])]},
    ]
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "unsure.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    recordings, _ = find_recordings([folder], transcripts_only=True)
    card = load_scorecard(lang="zh")
    with Archive(tmp_path / "a.db") as archive:
        summary = run_audit(archive, recordings, workers=1, scorecards={"zh": card})
        assert not summary.failed, summary.failed
        threat = next(f for f in load_flags(archive) if f.category == "threat_arrest")
        assert threat.state == "asr_review" and "0.35" in threat.asr_doubt and not threat.counts
        scored = summary.scores[0]
        assert scored.asr_review >= 1 and "以坐牢、抓人相威胁" not in scored.auto_fail
        result = write_report(archive, tmp_path / "report", {"zh": card})
        assert result.asr_review >= 1
        page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
        assert f"{result.asr_review} 条标志的识别结果不可靠" in page
        record_review(archive, threat.id, "confirm", "qa.li", "听了录音，确实说了")
        after = score_calls(archive, card)[0]
        assert "以坐牢、抓人相威胁" in after.auto_fail and after.score == 0


# ---- reports ---------------------------------------------------------------------------------
def test_the_report_is_self_contained_escaped_and_private(audited, tmp_path):
    out = tmp_path / "report"
    result = write_report(audited, out, {"zh": load_scorecard(lang="zh")}, evidence=True, redact=True)
    assert result.calls == 4 and result.flags > 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("<svg") >= 4
    pages = [index] + [p.read_text(encoding="utf-8") for p in (out / "calls").glob("*.html")]
    for page in pages:
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "a report must open offline"
        assert "<script" not in page
    call = (out / "calls" / f"{THREATS}.html").read_text(encoding="utf-8")
    assert f"{THREATS}#11" in call and 'href="../evidence/' in call and "李强" not in call
    assert (out / "evidence" / f"{THREATS}.zip").is_file()
    if os.name == "posix" and os.geteuid() != 0:
        assert (out.stat().st_mode & 0o777) == 0o700 and ((out / "index.html").stat().st_mode & 0o777) == 0o600


def test_report_texts_are_escaped(tmp_path):
    line = {"speaker": "agent", "start": 0.0, "end": 1.0, "text": "<script>alert(1)</script>你这个老赖"}
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "x.jsonl").write_text(json.dumps({"call": {"id": "zh-x", "lang": "zh"}}) + "\n" + json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    with Archive(tmp_path / "a.db") as archive:
        run_audit(archive, find_recordings([folder], True)[0], workers=1)
        write_report(archive, tmp_path / "r", {"zh": load_scorecard(lang="zh")})
    page = (tmp_path / "r" / "calls" / "zh-x.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_override_template_wins_and_a_broken_one_is_one_clear_error(audited, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "report_batch.html").write_text("<h1>Our QA</h1>{% for c in calls %}<p>{{ c.call_id }} {{ c.score.score }}</p>{% endfor %}", encoding="utf-8")
    write_report(audited, tmp_path / "r", {"zh": load_scorecard(lang="zh")}, templates=folder)
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert page.startswith("<h1>Our QA</h1>") and THREATS in page
    assert "通话时间线" in (tmp_path / "r" / "calls" / f"{THREATS}.html").read_text(encoding="utf-8")  # not overridden: the shipped one
    (folder / "report_batch.html").write_text("{% for c in calls %}{{ c.no_such_field }}{% endfor %}", encoding="utf-8")
    with pytest.raises(ReportError, match="report template failed"):
        write_report(audited, tmp_path / "r2", {"zh": load_scorecard(lang="zh")}, templates=folder)


def test_report_and_score_commands(audited, tmp_path):
    db = str(audited.path)
    runner = CliRunner()
    res = runner.invoke(cli, ["score", "--archive", db])
    assert res.exit_code == 0 and "0 new score(s) recorded" in res.output, res.output  # the audit scored them already
    abuse = next(f for f in load_flags(audited, [THREATS]) if f.category == "abuse")
    record_review(audited, abuse.id, "dismiss", "qa.li", "a quote")
    res = runner.invoke(cli, ["score", "--archive", db, "--format", "jsonl"])
    assert res.exit_code == 0 and "1 new score(s) recorded" in res.output, res.output
    entry = audited.conn.execute("SELECT reason FROM archive_log WHERE event = 'agent_scores' ORDER BY pos DESC").fetchone()
    summary = json.loads(entry["reason"])
    assert summary["scorecards"][0]["sha256"] == load_scorecard(lang="zh").sha256 and summary["agents"][0]["calls"] == 4
    assert verify(audited).ok
    res = runner.invoke(cli, ["report", "--archive", db, "--out", str(tmp_path / "r"), "--lang", "en"])
    assert res.exit_code == 0 and "wrote" in res.output, res.output
    assert "Call QA report" in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    res = runner.invoke(cli, ["report", "--archive", db, "--out", str(tmp_path / "r3"), "--call-id", "nope"])
    assert res.exit_code == 2 and "none of the calls asked for" in res.output


# ---- users -----------------------------------------------------------------------------------
def test_passwords_are_hashed_with_scrypt_and_checked(archive_target):
    stored = hash_password("a long pass phrase")
    assert stored.startswith("scrypt$") and "a long pass phrase" not in stored
    assert check_password(stored, "a long pass phrase") and not check_password(stored, "a long pass phrasE")
    assert not check_password("md5$abc", "x")
    with Archive(archive_target) as a:
        add_user(a, "qa.li", "reviewer", "a long pass phrase")
        with pytest.raises(UserError, match="exists already"):
            add_user(a, "qa.li", "admin", "a long pass phrase")
        with pytest.raises(UserError, match="too short"):
            add_user(a, "x", "admin", "short")
        with pytest.raises(UserError, match="unknown role"):
            add_user(a, "x", "boss", "a long pass phrase")
        user = authenticate(a, "qa.li", "a long pass phrase")
        assert user is not None and user.role == "reviewer"
        assert authenticate(a, "qa.li", "wrong") is None and authenticate(a, "nobody", "a long pass phrase") is None
        assert any(r["event"] == "user_added" for r in a.conn.execute("SELECT event FROM archive_log"))
        assert verify(a).ok


def test_users_commands(archive_target):
    db = str(archive_target)
    runner = CliRunner()
    res = runner.invoke(cli, ["users", "add", "qa.li", "--role", "reviewer", "--password-stdin", "--archive", db], input="a long pass phrase\n")
    assert res.exit_code == 0 and "user qa.li: reviewer" in res.output, res.output
    res = runner.invoke(cli, ["users", "list", "--format", "jsonl", "--archive", db])
    assert json.loads(res.stdout.splitlines()[0])["role"] == "reviewer" and "scrypt" not in res.output
    res = runner.invoke(cli, ["users", "add", "x", "--role", "admin", "--password-stdin", "--archive", db], input="short\n")
    assert res.exit_code == 2 and "too short" in res.output
    assert runner.invoke(cli, ["users", "disable", "qa.li", "--archive", db]).exit_code == 0
    with Archive(archive_target, readonly=True) as a:
        assert authenticate(a, "qa.li", "a long pass phrase") is None


# ---- an audit killed for real, then run again -------------------------------------------------
@pytest.mark.slow
def test_an_audit_killed_half_way_completes_on_the_next_run(tmp_path):
    db = tmp_path / "a.db"
    cmd = [sys.executable, "-m", "assistant", "audit", str(FIXTURES), "--transcripts-only", "--workers", "1", "--archive", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    sealed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            try:
                with Archive(db, readonly=True) as a:
                    sealed = sum(1 for c in a.calls() if c["status"] == "sealed")
            except ArchiveError:
                continue
            if sealed >= 2:
                break
    assert proc.poll() is None, "the audit ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"audited \d+ call\(s\)", res.stdout) and "skipped" in res.stdout
    with Archive(db, readonly=True) as a:
        calls = a.calls()
        assert len(calls) == 8 and {c["status"] for c in calls} == {"sealed"}
        assert verify(a).ok
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "nothing to audit: all 8 recording(s)" in again.stdout
