import pytest

from assistant import Checker, Finding
from assistant.errors import UnknownLanguageError


def test_findings_point_into_the_original_text(rules_checker):
    text = "你這種人 不 還 錢 就 等 著 坐 牢"
    findings = rules_checker.check(text, "agent", final=False)
    assert findings
    for f in findings:
        assert text[f.start : f.end] == f.matched
        assert f.citation and f.explanation and f.suggestion


def test_partial_findings_are_provisional(rules_checker):
    findings = rules_checker.check("不还就等着坐牢", "agent", final=False)
    assert findings and all(f.provisional for f in findings)
    assert "provisional" in findings[0].to_dict()


def test_auto_language(rules_checker):
    assert rules_checker.resolve_lang("you are going to jail") == "en"
    assert rules_checker.resolve_lang("你要坐牢") == "zh"


def test_unknown_language_and_speaker():
    with pytest.raises(UnknownLanguageError):
        Checker("fr")
    with pytest.raises(UnknownLanguageError):
        Checker(meaning=False).check("bonjour", lang="fr")
    with pytest.raises(ValueError):
        Checker(meaning=False).check("hi", speaker="robot")


def test_huge_text_is_refused_with_the_fix(rules_checker):
    from assistant.errors import TextTooLongError

    with pytest.raises(TextTooLongError, match="one utterance at a time"):
        rules_checker.check("钱" * (1 << 20), "agent")


def test_empty_text_has_no_findings(checker):
    assert checker.check("", "agent") == []
    assert checker.check("   ", "customer", lang="en") == []


def test_finding_dict_matches_the_contract(rules_checker):
    f = rules_checker.check("you're going to jail if you don't pay", "agent", lang="en", final=False)[0]
    d = f.to_dict()
    for key in ("kind", "category", "rule_id", "severity", "start", "end", "matched", "citation", "explanation", "suggestion"):
        assert key in d
    assert isinstance(f, Finding)


@pytest.mark.parametrize(
    "text,lang,category",
    [
        ("咱们这边的人对你家小区挺熟的，你老婆每天几点下班我们都清楚，你自己掂量掂量", "zh", "threat_violence"),
        ("we know which gym you go to every morning, so you might want to think hard about how you walk to your car", "en", "threat_violence"),
    ],
)
def test_meaning_layer_catches_veiled_threats(checker, text, lang, category):
    findings = checker.check(text, "agent", lang=lang)
    assert category in {f.category for f in findings}


@pytest.mark.parametrize(
    "text,lang",
    [
        ("您好，这里是XX消费金融的客服专员，工号3307，本次通话将被录音，请问是刘女士本人吗？", "zh"),
        ("Hi, this is Jordan with Lakeside Credit, this call is recorded. Is this Ms. Patel?", "en"),
    ],
)
def test_compliant_openings_are_clean(checker, text, lang):
    assert [f for f in checker.check(text, "agent", lang=lang) if f.kind == "violation"] == []
