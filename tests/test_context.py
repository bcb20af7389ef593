"""Negation scope, reported speech and lawful framing, checked through the rule layer."""
import pytest


def cats(checker, text, speaker="agent", lang=None):
    return {f.category for f in checker.check(text, speaker, lang=lang, final=False)}


@pytest.mark.parametrize(
    "text",
    [
        "再拖着不还，你就等着坐牢吧",
        "你 不 还 钱 就 等 着 坐 牢",
        "这个月不处理的话你就准备进去蹲几年",
    ],
)
def test_negated_condition_does_not_cancel_the_threat(rules_checker, text):
    assert "threat_arrest" in cats(rules_checker, text)


@pytest.mark.parametrize(
    "text",
    [
        "请您放心，我们不会让您坐牢，逾期是民事纠纷",
        "没有人会因为这笔欠款去抓您",
        "您刚才说之前有人威胁要让您坐牢，这个我会如实登记上报",
    ],
)
def test_reassurance_and_quotes_are_not_violations(rules_checker, text):
    assert "threat_arrest" not in cats(rules_checker, text)


@pytest.mark.parametrize(
    "text,expect",
    [
        ("if you don't pay today, you're going to jail", True),
        ("no one is going to jail over a credit card bill", False),
        ("you said the last collector told you you'd go to jail, I'm writing that down", False),
    ],
)
def test_english_negation_and_quotes(rules_checker, text, expect):
    assert ("threat_arrest" in cats(rules_checker, text, lang="en")) is expect


def test_violations_only_for_agent_cues_only_for_customer(rules_checker):
    line = "你再不还就等着坐牢"
    assert cats(rules_checker, line, "customer") <= {
        "hardship", "dispute", "already_paid", "refuse_to_sign", "cease_request", "attorney",
        "complaint", "distress", "wrong_party", "promise_to_pay", "installment_request", "anger",
    }
    cue = "我上个月被裁员了，现在没有收入"
    assert "hardship" in cats(rules_checker, cue, "customer")
    assert "hardship" not in cats(rules_checker, cue, "agent")


def test_violation_inside_a_long_polite_line(rules_checker):
    text = (
        "张先生您好，我是XX银行信用卡中心的专员，工号1024，本次通话会录音，"
        "我们理解您最近可能有困难，也愿意帮您看看分期方案，不过说实话你要是月底前还不处理，"
        "那就只能等着进去坐牢了，希望您配合一下。"
    )
    findings = rules_checker.check(text, "agent", final=False)
    arrest = [f for f in findings if f.category == "threat_arrest"]
    assert arrest and text[arrest[0].start : arrest[0].end] == arrest[0].matched
