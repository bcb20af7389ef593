"""Script library, stage tracker, suggester, trainer commands and practice."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.asr.scripted import load_transcript
from assistant.cli import cli
from assistant.errors import ScriptError
from assistant.events import Utterance
from assistant.pipeline import CallPipeline
from assistant.practice import load_scenario, run_practice, shipped_scenarios
from assistant.stages import StageTracker
from assistant.suggest.library import ScriptLine, load_library, render, sample_case
from assistant.suggest.lint import coverage, lint_library
from assistant.suggest.suggester import Suggester

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "recordings_fixtures"


@pytest.fixture(scope="module")
def libraries():
    return {lang: load_library(lang)[0] for lang in ("zh", "en")}


def replay(name: str, checker, case: dict | None = None) -> tuple[list[str], list[list[str]], CallPipeline]:
    meta, rows = load_transcript(FIX / f"{name}.jsonl")
    session = CallPipeline(meta["id"], meta["lang"], case=case or sample_case(meta["lang"]), checker=checker)
    stages, ids = [], []
    for seq, row in enumerate(rows, 1):
        session.feed(Utterance(meta["id"], seq, row["speaker"], row["start"], row["end"], row["text"]))
        turn = session.turns[-1]
        stages.append(session.stage)
        ids.append([s.line_id for s in turn.suggestions])
    return stages, ids, session


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_line_renders_and_passes_the_checker(lang, checker):
    lines, problems = lint_library(lang, checker)
    assert len(lines) >= 60
    assert problems == []


def test_coverage_has_no_empty_cell(libraries):
    rows, gaps = coverage(libraries)
    assert gaps == []
    assert {name for kind, name, _ in rows if kind == "cue"} >= {"hardship", "already_paid", "refuse_to_sign", "distress", "wrong_party"}


def test_every_violation_category_has_a_compliant_rewrite(libraries):
    from assistant.constants import VIOLATION_CATEGORIES

    for lang, lines in libraries.items():
        fixed = {c for line in lines for c in line.after_violation}
        assert fixed >= set(VIOLATION_CATEGORIES), (lang, set(VIOLATION_CATEGORIES) - fixed)


def test_hardship_call_walks_the_stages_and_answers_each_cue(checker):
    stages, ids, _ = replay("zh/hardship_installments", checker)
    assert stages == ["discovery", "negotiation", "negotiation", "plan_options", "plan_options", "commitment"]
    assert ids[1][:2] == ["zh.hardship.acknowledge", "zh.hardship.health_first"]
    assert ids[3][0] == "zh.installment_request.eligible"
    assert ids[5][:2] == ["zh.promise_to_pay.confirm", "zh.promise_to_pay.channel"]
    stages, ids, _ = replay("en/hardship_installments", checker)
    assert stages == ["discovery", "negotiation", "negotiation", "plan_options", "plan_options", "commitment"]
    assert ids[1][0] == "en.hardship.acknowledge" and ids[3][0] == "en.installment_request.offer" and ids[5][0] == "en.promise_to_pay.thank"


def test_after_a_violation_the_compliant_rewrite_comes_first(checker, libraries):
    for lang in ("zh", "en"):
        stages, ids, session = replay(f"{lang}/threats_and_insults", checker)
        assert stages[-1] == "escalation"  # the customer's complaint
        by_id = {line.id: line for line in libraries[lang]}
        for turn, first in zip(session.turns, ids):
            violations = [f.category for f in turn.findings if f.kind == "violation"]
            if not violations:
                continue
            reason = turn.suggestions[0].reason
            assert reason.startswith(("compliant rewrite", "the rule's compliant rewrite")), (lang, turn.utterance.text, reason)
            if first[0] in by_id:
                assert violations[0] in by_id[first[0]].after_violation
        assert ids[2][0] == f"{lang}.repair.{'apology_language' if lang == 'zh' else 'respectful'}"


def test_already_paid_stops_pressing(checker, libraries):
    for lang in ("zh", "en"):
        stages, ids, _ = replay(f"{lang}/already_repaid", checker)
        assert stages[1] == "escalation"
        assert ids[1][0] == f"{lang}.already_paid.{'apologize_verify' if lang == 'zh' else 'thank_and_check'}"
        offered = {i for turn in ids[1:] for i in turn}
        pressing = {line.id for line in libraries[lang] if line.stage in ("negotiation", "commitment") and not line.cues}
        assert not offered & pressing


def test_lines_already_said_are_not_offered_again(libraries):
    lang = "zh"
    case = sample_case(lang)
    sug = Suggester("c", libraries[lang], case, 7)
    first = sug.feed(Utterance("c", 1, "customer", 0, 1, "我上个月被公司裁员了"), [], "negotiation")
    said = first[0]
    text = said.text
    sug.feed(Utterance("c", 2, "agent", 2, 3, text), [], "negotiation")  # the agent read it out
    later = sug.feed(Utterance("c", 3, "customer", 4, 5, "嗯"), [], "negotiation")
    assert said.line_id not in {s.line_id for s in later}
    sug.mark_said(later[0].line_id)
    again = sug.feed(Utterance("c", 4, "customer", 6, 7, "然后呢"), [], "negotiation")
    assert later[0].line_id not in {s.line_id for s in again}


def test_wrong_party_lines_say_nothing_about_a_debt(libraries):
    words = {"zh": ("欠", "逾期", "还款", "贷款", "催收"), "en": ("debt", "overdue", "past due", "balance", "loan", "payment")}
    for lang, lines in libraries.items():
        for line in lines:
            if "wrong_party" in line.cues:
                text = render(line, sample_case(lang)).lower()
                assert not any(w in text for w in words[lang]), (line.id, text)


def test_overdue_ladder_changes_the_tone(libraries):
    early = Suggester("c", libraries["en"], sample_case("en"), 3).feed(Utterance("c", 1, "agent", 0, 1, "Hello"), [], "negotiation")
    late = Suggester("c", libraries["en"], sample_case("en"), 35).feed(Utterance("c", 1, "agent", 0, 1, "Hello"), [], "negotiation")
    tone = {line.id: line.tone for line in libraries["en"]}
    assert tone[early[0].line_id] in ("warm", "neutral") and tone[late[0].line_id] == "firm"


def test_stage_markers_match_whole_words(libraries):
    tracker = StageTracker("c", "en")
    assert tracker.feed(Utterance("c", 1, "agent", 0, 1, "Thank you for that"), []) == []  # no "hi" inside "this"/"that"
    moved = tracker.feed(Utterance("c", 2, "agent", 1, 2, "This is an attempt to collect a debt."), [])
    assert moved and moved[0].stage == "disclosure" and "attempt to collect a debt" in moved[0].reason


def test_templates_may_use_only_declared_variables_and_render_strictly(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    (lib / "zh").mkdir(parents=True)
    (lib / "zh" / "bad.yaml").write_text(
        "lang: zh\nlines:\n"
        "  - {id: zh.x.undeclared, stage: opening, tone: warm, note: n, variables: [], template: '您好{{ customer_title }}'}\n"
        "  - {id: zh.x.unused, stage: opening, tone: warm, note: n, variables: [agent_name], template: '您好'}\n"
        "  - {id: zh.x.unknown, stage: nowhere, tone: loud, note: n, cues: [sad], template: '您好'}\n"
        "  - {id: zh.x.sandbox, stage: opening, tone: warm, note: n, variables: [agent_name], template: '{{ agent_name.__class__.__mro__ }}'}\n",
        encoding="utf-8",
    )
    lines, problems = load_library("zh", lib)
    text = "\n".join(problems)
    assert "does not declare it" in text and "does not use it" in text
    assert "stage: 'nowhere' is not one of" in text and "tone: 'loud' is not one of" in text and "cues.0: 'sad' is not one of" in text
    assert all(p.startswith(str(lib / "zh" / "bad.yaml") + ":") for p in problems)
    sandboxed = next(line for line in lines if line.id == "zh.x.sandbox")
    with pytest.raises(ScriptError, match="cannot be rendered"):
        render(sandboxed, {"agent_name": "小李"})
    ok = ScriptLine("zh.x.ok", "zh", "opening", (), "warm", (), ("agent_name", "agent_id"), "我是{{ agent_name }}，工号{{ agent_id }}", "n")
    with pytest.raises(ScriptError, match="needs agent_id"):
        render(ok, {"agent_name": "小李"})


def test_cli_lint_coverage_render_and_a_gap(tmp_path, monkeypatch):
    runner = CliRunner()
    res = runner.invoke(cli, ["scripts", "coverage"])
    assert res.exit_code == 0 and "ok: every stage and cue" in res.output
    case = tmp_path / "case.yaml"
    case.write_text("customer_title: 赵女士\ninstitution: 恒信银行\nagent_name: 小陈\nagent_id: B1187\n", encoding="utf-8")
    res = runner.invoke(cli, ["scripts", "render", "zh.opening.self_intro", "--case", str(case)])
    assert res.exit_code == 0, res.output
    assert "赵女士" in res.output or "恒信银行" in res.output
    res = runner.invoke(cli, ["scripts", "render", "zh.commitment.confirm_terms", "--case", str(case)])
    assert res.exit_code in (1, 2) and "add" in res.output and "case file" in res.output
    res = runner.invoke(cli, ["scripts", "render", "zh.nope.nothing"])
    assert res.exit_code == 2
    copy = tmp_path / "lib"
    shutil.copytree(ROOT / "scripts_library", copy)
    (copy / "en" / "cue_wrong_party.yaml").unlink()
    monkeypatch.setenv("CALLASSIST_SCRIPTS", str(copy))
    res = runner.invoke(cli, ["scripts", "coverage"])
    assert res.exit_code == 1 and "cue wrong_party: no en line" in res.output


def test_cli_lint_fails_on_a_violating_line(tmp_path, monkeypatch):
    copy = tmp_path / "lib"
    shutil.copytree(ROOT / "scripts_library", copy)
    with (copy / "en" / "closing.yaml").open("a", encoding="utf-8") as fh:
        fh.write("  - {id: en.closing.bad, stage: closing, tone: firm, note: never, template: 'Pay today or the police will come and arrest you.'}\n")
    monkeypatch.setenv("CALLASSIST_SCRIPTS", str(copy))
    res = CliRunner().invoke(cli, ["scripts", "lint", "--lang", "en"])
    assert res.exit_code == 1 and "en.closing.bad triggers threat_arrest" in res.output


def test_every_shipped_scenario_loads_and_both_languages_have_five():
    paths = shipped_scenarios()
    assert sorted(p.parent.name for p in paths) == ["en"] * 5 + ["zh"] * 5
    for p in paths:
        assert load_scenario(p).turns


def test_practice_scores_a_good_and_a_bad_trainee(checker):
    scenario = load_scenario(ROOT / "scripts_library" / "practice" / "en" / "lost_job.yaml")
    good = iter([
        "Hi, this is Sam from Crestview Finance. This is an attempt to collect a debt and this call is recorded. Am I speaking with Ms. Lopez?",
        "Thanks for picking up. Is everything okay? What happened with the payment?",
        "I'm so sorry to hear about your job and your husband's surgery. Thank you for telling me; let's find something that works for you.",
        "Yes, we can set up six monthly payments of $160 through the payments page of our official app.",
        "Thank you. To confirm, $160 on Friday through the payments page of our official app.",
    ])
    shown: list[str] = []
    score = run_practice(scenario, lambda prompt: next(good), shown.append, checker)
    assert score.violations == [] and score.points >= 80, (score, shown)
    bad = iter(["Pay up.", "You people always have excuses.", "Stop crying about your job, you deadbeat.", "No plans. Pay it all or the police will come.", "Whatever."])
    shown = []
    score = run_practice(scenario, lambda prompt: next(bad), shown.append, checker)
    assert score.violations and score.points < 50
    assert any("Say instead" in line for line in shown)
    assert score.advice("en")[0].startswith("Violation")


def test_cli_practice_reads_answers_from_a_file(tmp_path):
    answers = tmp_path / "answers.txt"
    answers.write_text("您好，我是诚信消费金融的客服小李，工号A1024，本次通话会录音。\n不还钱就等着坐牢吧\n\n\n\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["practice", "zh/lost_job", "--answers", str(answers)])
    assert res.exit_code == 1  # a violation was made
    from assistant.views.labels import labels

    assert "客户：" in res.output and "得分" in res.output and labels("zh").category("threat_arrest") in res.output
    assert "threat_arrest" not in res.output and "hardship" not in res.output  # the screen speaks the scenario's language
    res = CliRunner().invoke(cli, ["practice", "--list"])
    assert "zh/refuses_to_sign" in res.output.replace(" ", "") or "refuses_to_sign" in res.output
    res = CliRunner().invoke(cli, ["practice", "zh/nope"])
    assert res.exit_code == 2 and "practice --list" in res.output


def test_the_customer_reacts_to_a_threat_and_hangs_up(checker):
    scenario = load_scenario(ROOT / "scripts_library" / "practice" / "zh" / "refuses_to_sign.yaml")
    answers = iter(["您好，我是安信消费金融的客服小王，工号A2031，本次通话会录音。请问是李先生吗？", "不签就等着坐牢吧，警察明天就上门。", "还有事吗"])
    shown: list[str] = []
    score = run_practice(scenario, lambda prompt: next(answers), shown.append, checker)
    text = "\n".join(shown)
    assert scenario.reactions["critical"].say in text and "挂断" in text and score.hung_up
    assert scenario.turns[2]["say"] not in text  # the call ended: the rest of the script is not played
    assert any("挂断" in a for a in score.advice("zh"))


def test_answering_a_cue_is_judged_by_what_was_said(checker):
    from assistant.rules.obligations import CueObligations

    owed = CueObligations("zh")
    assert owed.answers("好的，跟您确认一下：11月28日还800元，我这边记下了。", "promise_to_pay")
    assert not owed.answers("你今天必须把钱还上。", "promise_to_pay")
    scenario = load_scenario(ROOT / "scripts_library" / "practice" / "zh" / "lost_job.yaml")
    good = iter([
        "您好，我是诚信消费金融的客服小李，工号A1024，本次通话会录音，请问是王女士吗？",
        "谢谢您接电话。这次是想了解一下还款上遇到了什么情况。",
        "失业确实不容易，您先别着急，我们一起看看有没有适合您的办法。",
        "可以的，我们可以帮您申请分6期，每期800元，需要审批后生效。",
        "好的，跟您确认一下：11月28日通过官方App还第一期800元，我这边记下了。",
    ])
    shown: list[str] = []
    score = run_practice(scenario, lambda prompt: next(good), shown.append, checker)
    assert "promise_to_pay" in score.answered and "hardship" in score.answered, (score, shown)
    assert score.unanswered == [] and not score.violations, (score, shown)
    silent = run_practice(scenario, lambda prompt: "嗯。", lambda text: None, checker)
    assert {"hardship", "installment_request", "promise_to_pay"} <= set(silent.unanswered)


def test_a_job_loss_does_not_get_the_illness_line():
    from assistant.suggest.library import load_library, sample_case

    lines, _ = load_library("zh")
    s = Suggester("c", lines, sample_case("zh"))
    job = Utterance("c", 1, "customer", 0.0, 2.0, "我上个月被公司裁员了，现在没收入")
    illness = Utterance("c", 1, "customer", 0.0, 2.0, "我妈住院做手术，钱都花在医院了")
    from assistant.events import Finding

    def cue(u: Utterance) -> Finding:
        return Finding(kind="cue", category="hardship", rule_id="zh.hardship.x", severity="info", start=0, end=2, matched=u.text[:2])

    offered_job = {x.line_id for x in s.feed(job, [cue(job)], "discovery")}
    s2 = Suggester("c", lines, sample_case("zh"))
    offered_ill = {x.line_id for x in s2.feed(illness, [cue(illness)], "discovery")}
    assert "zh.hardship.health_first" not in offered_job and "zh.hardship.acknowledge" in offered_job
    assert "zh.hardship.health_first" in offered_ill
    assert lines and next(x for x in lines if x.id == "zh.hardship.health_first").suits("住院")
