"""Contact rules: when and how often a debtor may be called (precall, archive history, import)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from assistant.archive.history import contact_history, record_attempt
from assistant.archive.importer import import_transcript
from assistant.archive.store import Archive
from assistant.cli import cli
from assistant.errors import CaseError
from assistant.rules.contact import Attempt, check_contact, load_contact_rules, parse_when

SH = ZoneInfo("Asia/Shanghai")
CN_CASE = {"id": "K-CN-1", "lang": "zh"}
US_CASE = {"id": "K-US-1", "lang": "en", "debtor_state": "IL"}


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def reasons(decision) -> list[str]:
    return [r.rule.id for r in decision.reasons]


def write_case(tmp_path: Path, case: dict) -> Path:
    path = tmp_path / f"{case['id']}.yaml"
    path.write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
    return path


# ---- the rules ------------------------------------------------------------------------------
@pytest.mark.parametrize("hour,minute,blocked", [(23, 0, True), (21, 55, False), (22, 0, True), (7, 59, True), (8, 0, False), (21, 0, False)])
def test_cn_quiet_hours_are_22_to_08_debtor_time(hour, minute, blocked):
    d = check_contact(CN_CASE, at("Asia/Shanghai", 2026, 12, 5, hour, minute))
    assert ("zh.contact.quiet_hours" in reasons(d)) is blocked


def test_cn_quiet_hours_follow_the_debtors_zone_not_the_callers():
    case = {**CN_CASE, "timezone": "Europe/London"}  # a debtor abroad
    assert check_contact(case, at("Asia/Shanghai", 2026, 12, 5, 23, 0)).allowed  # 15:00 in London
    assert not check_contact(CN_CASE, at("Europe/London", 2026, 12, 5, 15, 0)).allowed  # 23:00 in Shanghai


def test_a_consent_window_lifts_the_ban_inside_it_only():
    case = {**CN_CASE, "consent_time_windows": ["22:00-22:45"]}
    assert check_contact(case, at("Asia/Shanghai", 2026, 12, 5, 22, 30)).allowed
    assert not check_contact(case, at("Asia/Shanghai", 2026, 12, 5, 23, 0)).allowed
    with pytest.raises(CaseError):
        check_contact({**CN_CASE, "consent_time_windows": ["late evening"]}, at("Asia/Shanghai", 2026, 12, 5, 12, 0))


def test_cn_three_effective_conversations_and_six_unanswered_attempts_a_day():
    day = [Attempt(at("Asia/Shanghai", 2026, 12, 5, 9 + k), outcome="conversation") for k in range(3)]
    d = check_contact(CN_CASE, at("Asia/Shanghai", 2026, 12, 5, 15, 0), day)
    assert reasons(d) == ["zh.contact.effective_calls_per_day"] and "2026-12-05" in d.reasons[0].detail
    assert check_contact(CN_CASE, at("Asia/Shanghai", 2026, 12, 6, 9, 0), day).allowed  # a new day
    inbound = [Attempt(a.at, direction="inbound") for a in day]
    assert check_contact(CN_CASE, at("Asia/Shanghai", 2026, 12, 5, 15, 0), inbound).allowed  # only 主动 (outbound) calls count
    missed = [Attempt(at("Asia/Shanghai", 2026, 12, 5, 9, 10 * k), outcome="unanswered", number="13800001111") for k in range(6)]
    assert reasons(check_contact(CN_CASE, at("Asia/Shanghai", 2026, 12, 5, 11, 0), missed, number="138 0000 1111")) == ["zh.contact.unanswered_attempts_per_day"]
    assert check_contact(CN_CASE, at("Asia/Shanghai", 2026, 12, 5, 11, 0), missed[:5], number="13800001111").allowed
    assert check_contact(CN_CASE, at("Asia/Shanghai", 2026, 12, 5, 11, 0), missed, number="13900002222").allowed  # another number


def test_us_hours_in_the_consumers_zone_and_every_zone_when_unsure():
    assert "en.contact.inconvenient_time" in reasons(check_contact(US_CASE, at("America/Chicago", 2026, 12, 5, 21, 0)))  # 9 pm exactly
    assert check_contact(US_CASE, at("America/Chicago", 2026, 12, 5, 20, 59)).allowed
    assert check_contact(US_CASE, at("America/New_York", 2026, 12, 5, 8, 30)).reasons  # 7:30 in Illinois
    unsure = {"id": "K-US-2", "lang": "en"}  # no zone, no state: every contiguous zone must allow it
    assert not check_contact(unsure, at("America/New_York", 2026, 12, 5, 10, 30)).allowed  # 7:30 on the west coast
    assert check_contact(unsure, at("America/New_York", 2026, 12, 5, 12, 0)).allowed
    with pytest.raises(CaseError, match="state"):
        check_contact({**US_CASE, "debtor_state": "XX"}, at("America/Chicago", 2026, 12, 5, 12, 0))


def test_us_seven_calls_in_seven_days_and_seven_days_after_a_conversation():
    now = at("America/Chicago", 2026, 12, 5, 12, 0)
    seven = [Attempt(now - timedelta(days=k, hours=1), outcome="unanswered") for k in range(7)]
    assert reasons(check_contact(US_CASE, now, seven)) == ["en.contact.seven_in_seven"]
    assert check_contact(US_CASE, now, seven[:6]).allowed
    assert check_contact(US_CASE, now + timedelta(days=1), seven).allowed  # the oldest one left the window
    talk = [Attempt(at("America/Chicago", 2026, 11, 30, 10, 0), outcome="conversation")]  # Monday is day 1
    assert reasons(check_contact(US_CASE, at("America/Chicago", 2026, 12, 6, 10, 0), talk)) == ["en.contact.after_conversation"]
    assert check_contact(US_CASE, at("America/Chicago", 2026, 12, 7, 10, 0), talk).allowed


def test_us_case_flags_cease_attorney_optout_and_work_numbers():
    noon = at("America/Chicago", 2026, 12, 5, 12, 0)
    assert reasons(check_contact({**US_CASE, "cease_notice_received_at": "2026-12-01"}, noon)) == ["en.contact.cease_notice"]
    assert reasons(check_contact({**US_CASE, "attorney_on_file": True}, noon)) == ["en.contact.attorney_on_file"]
    assert check_contact({**US_CASE, "attorney_on_file": False}, noon).allowed
    assert reasons(check_contact({**US_CASE, "medium_optouts": ["telephone"]}, noon)) == ["en.contact.medium_optout"]
    only_work = {**US_CASE, "medium_optouts": ["312-555-0101"], "workplace_prohibited": ["312-555-0199"]}
    assert check_contact(only_work, noon, number="312-555-0100").allowed
    assert reasons(check_contact(only_work, noon, number="(312) 555-0101")) == ["en.contact.medium_optout"]
    assert reasons(check_contact(only_work, noon, number="312.555.0199")) == ["en.contact.workplace"]


def test_every_contact_rule_cites_the_catalogue(catalogue_ids):
    known = catalogue_ids
    for lang in ("zh", "en"):
        for rule in load_contact_rules(lang).rules:
            assert rule.citation and rule.verification and set(rule.catalogue) <= known, rule.id


def test_times_are_read_in_the_debtors_zone():
    now = datetime(2026, 12, 5, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
    assert parse_when("23:00", ["Asia/Shanghai"], now) == datetime(2026, 12, 5, 23, 0, tzinfo=SH)
    assert parse_when("2026-12-05T23:00", ["Asia/Shanghai"]).utcoffset() == timedelta(hours=8)
    assert parse_when("2026-12-05T23:00+00:00", ["Asia/Shanghai"]).utcoffset() == timedelta(0)
    for bad in ("25:00", "tonight"):
        with pytest.raises(CaseError):
            parse_when(bad, ["Asia/Shanghai"])


# ---- the archive and the commands ----------------------------------------------------------------
def test_the_archive_counts_every_call_of_the_case_answered_or_not(tmp_path):
    with Archive(tmp_path / "a.db") as a:
        for k in range(3):
            record_attempt(a, US_CASE, at=at("America/Chicago", 2026, 12, 1 + k, 10, 0), outcome="unanswered", number="312-555-0100")
        record_attempt(a, US_CASE, at=at("America/Chicago", 2026, 12, 4, 10, 0), outcome="conversation")
        record_attempt(a, {"id": "other"}, at=at("America/Chicago", 2026, 12, 4, 10, 0))
        history = contact_history(a, "K-US-1")
    assert [h.outcome for h in history] == ["unanswered"] * 3 + ["conversation"]
    assert history[0].number == "312-555-0100" and history[0].at == at("America/Chicago", 2026, 12, 1, 10, 0)


def test_precall_cn_case_at_23_is_blocked_with_its_citation_and_allowed_at_2155(tmp_path):
    case = write_case(tmp_path, {"id": "K-CN-9", "lang": "zh", "customer_name": "周敏"})
    runner = CliRunner()
    res = runner.invoke(cli, ["precall", str(case), "--at", "23:00", "--archive", str(tmp_path / "a.db")])
    assert res.exit_code == 1, res.output
    assert res.output.startswith("BLOCKED") and "GB/T 45251" in res.output and "中银协2026" in res.output and "Asia/Shanghai" in res.output
    res = runner.invoke(cli, ["precall", str(case), "--at", "21:55", "--archive", str(tmp_path / "a.db")])
    assert res.exit_code == 0 and res.output.startswith("ALLOWED"), res.output
    assert not (tmp_path / "a.db").exists()  # a check never creates an archive
    res = runner.invoke(cli, ["precall", str(case), "--at", "23:00", "--format", "json"])
    data = json.loads(res.output)
    assert data[0]["allowed"] is False and data[0]["reasons"][0]["category"] == "contact.quiet_hours"


def test_precall_us_case_with_seven_calls_this_week_in_the_archive_is_blocked(tmp_path):
    case = write_case(tmp_path, {"id": "K-US-7", "lang": "en", "timezone": "America/Denver"})
    db = str(tmp_path / "a.db")
    runner = CliRunner()
    now = datetime.now(ZoneInfo("America/Denver")).replace(hour=13, minute=0, second=0, microsecond=0)
    for k in range(7):
        when = (now - timedelta(days=k, hours=2)).isoformat()
        res = runner.invoke(cli, ["archive", "attempt", str(case), "--at", when, "--outcome", "unanswered", "--archive", db])
        assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["precall", str(case), "--at", now.isoformat(), "--archive", db])
    assert res.exit_code == 1 and "contact.call_frequency" in res.output and "1006.14(b)(2)" in res.output, res.output
    assert "7 earlier call(s) counted" in res.output


def test_import_records_a_contact_finding_for_a_call_made_at_night(tmp_path):
    transcript = tmp_path / "night.jsonl"
    lines = [{"call": {"id": "night-1", "lang": "zh", "started_at": "2026-12-05T23:10:00+08:00"}},
             {"speaker": "agent", "start": 0.0, "end": 2.0, "text": "您好，我是长江银行的专员陈明，请问是周敏女士本人吗？"}]
    transcript.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    with Archive(tmp_path / "a.db") as a:
        result = import_transcript(a, transcript, case={"id": "K-CN-9", "lang": "zh"})
        rows = [r for t, r in a.records("night-1") if t == "findings"]
    assert result.findings["contact.quiet_hours"] == 1
    assert any(r["category"] == "contact.quiet_hours" and r["kind"] == "contact" for r in rows)


def test_check_call_reports_a_missing_self_identification(tmp_path):
    transcript = tmp_path / "call.jsonl"
    lines = [{"speaker": "agent", "start": 0.0, "end": 2.0, "text": "喂，周敏吗？"},
             {"speaker": "customer", "start": 2.0, "end": 3.0, "text": "是我，哪位？"},
             {"speaker": "agent", "start": 3.0, "end": 6.0, "text": "你上个月那笔钱到底什么时候还？"}]
    transcript.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["check-call", str(transcript), "--format", "jsonl"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    (missing,) = [r for r in rows if r["category"] == "missing.self_identification"]
    assert missing["level"] == "call" and missing["seq"] == 3 and missing["kind"] == "missing"
    res = CliRunner().invoke(cli, ["check-call", str(transcript)])
    assert "missing.self_identification" in res.output and "未说：机构名称、本人姓名或工号" in res.output


# ---- windows the debtor grants or refuses in a call --------------------------------------------
@pytest.mark.parametrize("lang,text,granted,window", [
    ("zh", "我白天上班，你晚上十点半以后打给我吧", True, "22:30-00:00"),
    ("zh", "下午三点再打给我", True, "14:45-15:45"),
    ("zh", "别在晚上九点以后给我打电话", False, "21:00-00:00"),
    ("en", "I work days, so call me after 9:30 tonight", True, "21:30-00:00"),
    ("en", "Please don't call me before 10 am.", False, "00:00-10:00"),
    ("en", "Call me back around 6.", True, "17:45-18:45"),
])
def test_a_time_of_day_in_what_the_customer_says_becomes_a_window(lang, text, granted, window):
    from assistant.rules.time_windows import time_window

    assert time_window(lang, text, granted) == window


def test_a_window_granted_in_a_call_is_recorded_on_the_case_and_lifts_the_night_ban(tmp_path):
    case = write_case(tmp_path, {"id": "K-CN-W", "lang": "zh"})
    transcript = tmp_path / "day.jsonl"
    lines = [{"call": {"id": "day-1", "lang": "zh", "started_at": "2026-12-05T15:00:00+08:00"}},
             {"speaker": "agent", "start": 0.0, "end": 3.0, "text": "您好，我是长江银行的专员陈明，本次通话录音，请问是周敏女士本人吗？"},
             {"speaker": "customer", "start": 3.0, "end": 6.0, "text": "是我。我白天上班接不了电话，你晚上十点半以后打给我吧。"}]
    transcript.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    db = str(tmp_path / "a.db")
    runner = CliRunner()
    res = runner.invoke(cli, ["precall", str(case), "--at", "22:35", "--archive", db])
    assert res.exit_code == 1, res.output  # before the call: the night ban holds
    res = runner.invoke(cli, ["archive", "import", str(transcript), "--case", str(case), "--archive", db])
    assert res.exit_code == 0, res.output
    with Archive(tmp_path / "a.db", readonly=True) as a:
        meta = json.loads(a.conn.execute("SELECT meta FROM cases WHERE id = 'K-CN-W'").fetchone()[0])
    assert meta["consent_time_windows"] == ["22:30-00:00"]
    res = runner.invoke(cli, ["precall", str(case), "--at", "22:35", "--archive", db])
    assert res.exit_code == 0 and res.output.startswith("ALLOWED"), res.output
    res = runner.invoke(cli, ["precall", str(case), "--at", "23:50", "--archive", db])
    assert res.exit_code == 0, res.output  # inside the window (to midnight)
    res = runner.invoke(cli, ["precall", str(case), "--at", "07:00", "--archive", db])
    assert res.exit_code == 1, res.output


def test_a_time_refused_in_a_call_blocks_later_us_calls_then(tmp_path):
    from assistant.archive.history import contact_findings
    from assistant.events import Utterance
    from assistant.pipeline import CallPipeline
    from assistant.pipeline.sinks import ArchiveSink

    case = {"id": "K-US-R", "lang": "en", "debtor_state": "IL"}
    pipe = CallPipeline("r1", "en", case=case, sinks=[ArchiveSink(tmp_path / "a.db")], suggest=False,
                        meta={"started_at": "2026-12-05T12:00:00-06:00"})
    pipe.feed(Utterance("r1", 1, "agent", 0.0, 2.0, "Hi, this is Kevin Moss with Ridgeway Financial. Am I speaking with Dana Price?"))
    pipe.feed(Utterance("r1", 2, "customer", 2.0, 4.0, "Yes. And please don't call me before 10 am, I sleep days."))
    pipe.finish()
    pipe.close()
    with Archive(tmp_path / "a.db", readonly=True) as a:
        morning = contact_findings(a, case, at("America/Chicago", 2026, 12, 15, 9, 0), "en")  # a week after the conversation
        later = contact_findings(a, case, at("America/Chicago", 2026, 12, 15, 11, 0), "en")
    assert [f.rule_id for f in morning] == ["en.contact.designated_inconvenient_time"]
    assert later == []


def test_eval_scores_call_level_gold_per_rule(tmp_path):
    def call(name: str, expect: list[str], lines: list[tuple[str, str]], case: dict | None = None) -> str:
        path = tmp_path / f"{name}.jsonl"
        rows: list[dict[str, Any]] = [{"call": {"id": name, "lang": "zh", "expect": expect, "case": case or {}}}]
        rows += [{"speaker": s, "start": float(k), "end": k + 0.9, "text": t} for k, (s, t) in enumerate(lines)]
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
        return str(path)

    good = [("agent", "您好，我是长江银行的专员陈明，本次通话录音，请问是周敏女士本人吗？"), ("customer", "是我。"), ("agent", "周女士，您的信用卡账单已经逾期十天了。")]
    no_id = [("agent", "喂，周敏吗？"), ("customer", "是我。"), ("agent", "你的钱什么时候还？")]
    files = [call("good", [], good), call("no_id", ["missing.self_identification", "missing.recording_notice"], no_id),
             call("wrong_gold", ["missing.dispute_handling"], good)]
    res = CliRunner().invoke(cli, ["eval", *files, "--errors"])
    assert res.exit_code == 0, res.output
    assert "call-level rules, lang=zh: 3 calls" in res.output
    row = next(line for line in res.output.splitlines() if line.startswith("missing.self_identification"))
    assert row.split()[1:6] == ["1", "1", "1.000", "1.000", "1.000"]
    assert "wrong_gold.jsonl: missed missing.dispute_handling" in res.output
    assert "summary calls lang=zh: precision=1.000 recall=0.667" in res.output


def test_stop_calling_and_an_attorney_said_in_a_call_are_recorded_and_block_later_calls(tmp_path):
    case = write_case(tmp_path, {"id": "K-US-S", "lang": "en", "debtor_state": "NY"})
    db = str(tmp_path / "a.db")
    runner = CliRunner()

    def import_call(name: str, customer: str) -> None:
        path = tmp_path / f"{name}.jsonl"
        rows = [{"call": {"id": name, "lang": "en", "started_at": "2026-11-02T11:00:00-05:00"}},
                {"speaker": "agent", "start": 0.0, "end": 3.0, "text": "Hi, this is Kevin Moss with Ridgeway Financial. Am I speaking with Dana Price?"},
                {"speaker": "customer", "start": 3.0, "end": 6.0, "text": customer}]
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
        res = runner.invoke(cli, ["archive", "import", str(path), "--case", str(case), "--archive", db])
        assert res.exit_code == 0, res.output

    import_call("s1", "Yes. Stop calling my work number, my cell is fine.")  # a number-specific request: no medium opt-out
    res = runner.invoke(cli, ["precall", str(case), "--at", "2026-12-05T11:00", "--archive", db, "--format", "json"])
    assert json.loads(res.output)[0]["allowed"], res.output
    import_call("s2", "Yes, it's me. Stop calling me and put everything in writing.")
    res = runner.invoke(cli, ["precall", str(case), "--at", "2026-12-05T11:00", "--archive", db, "--format", "json"])
    assert [r["rule_id"] for r in json.loads(res.output)[0]["reasons"]] == ["en.contact.medium_optout"]
    import_call("s3", "Yes. My attorney, Dana Kim at Kim Legal, is handling this now.")
    res = runner.invoke(cli, ["precall", str(case), "--at", "2026-12-05T11:00", "--archive", db, "--format", "json"])
    assert {r["rule_id"] for r in json.loads(res.output)[0]["reasons"]} == {"en.contact.medium_optout", "en.contact.attorney_on_file"}
