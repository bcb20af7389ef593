"""Cantonese rewritten to Mandarin before matching, Chinese terms matched by sound, and
"talking about a violation" framed as reported speech — in the rule layer (no meaning)."""
from __future__ import annotations

import pytest

from assistant.rules.homophones import HomophoneMatcher, build_table


@pytest.mark.parametrize("text, speaker, category", [
    ("你聽日再唔還，我哋就叫差佬拉你入去。", "agent", "threat_arrest"),          # Traditional Cantonese
    ("再拖落去你就准备坐监啦。", "agent", "threat_arrest"),                       # Simplified Cantonese
    ("我而家冇工开，真系冇钱还。", "customer", "hardship"),
    ("呢笔数唔系我借嘅。", "customer", "dispute"),
    ("唔好再打嚟啦，有事寄信畀我。", "customer", "cease_request"),
])
def test_cantonese_is_read_as_mandarin(rules_checker, text, speaker, category):
    assert category in {f.category for f in rules_checker.check(text, speaker, lang="zh")}


def test_cantonese_rewrites_keep_offsets_on_the_original(rules_checker):
    text = "你聽日再唔還，我哋就叫差佬拉你入去。"
    (f,) = [f for f in rules_checker.check(text, "agent", lang="zh") if f.category == "threat_arrest"]
    assert text[f.start:f.end] == f.matched and "差佬" in f.matched or "拉你入去" in f.matched


@pytest.mark.parametrize("text", ["我们公司的系统显示您上个月已经还款了。", "关系到您的征信记录，请您按时还款。", "呢这个方案您看行吗？"])
def test_mandarin_words_sharing_cantonese_characters_are_untouched(rules_checker, text):
    assert rules_checker.check(text, "agent", lang="zh") == []


def test_a_term_heard_with_one_wrong_character_is_corrected():
    table = build_table(["上门执行", "坐牢"])
    matcher = HomophoneMatcher(table, ["上门执行"])
    assert matcher.correct("明天我们就上门执形") == "明天我们就上门执行"
    assert matcher.correct("明天我们就上门执行") == "明天我们就上门执行"
    assert matcher.correct("尚门直刑") == "尚门直刑"  # three slips of four: a different phrase, left alone


def test_short_terms_are_not_matched_by_sound_alone():
    table = build_table(["老赖"])
    assert HomophoneMatcher(table, ["老赖"]).correct("老来得子") == "老来得子"


def test_sound_correction_never_turns_one_term_or_word_into_another(rules_checker):
    assert "anger" in {f.category for f in rules_checker.check("他妈的，又打来了", "customer", lang="zh")}
    assert "cease_request" in {f.category for f in rules_checker.check("请不要联系我的同事和领导", "customer", lang="zh")}
    table = build_table(["他妈的", "他吗的", "上门执行"])
    matcher = HomophoneMatcher(table, ["他妈的", "他吗的", "上门执行"])
    assert matcher.correct("他妈的") == "他妈的"  # three characters: too short to correct by sound


@pytest.mark.parametrize("text, lang", [
    ("网上说我们会爆通讯录，那是谣言，我们不会联系您的任何联系人。", "zh"),
    ("我们培训时一再强调，不能对客户说“不还钱就抓你去坐牢”这种话。", "zh"),
    ("质检发现有同事说了“天天打到你接为止”，已经按违规处理。", "zh"),
    ("Some collectors tell people they'll be arrested; that's false, and we would never say it.", "en"),
    ("Whoever told you we'd show up at your door was wrong; we don't make home visits.", "en"),
])
def test_talking_about_a_violation_is_not_one(rules_checker, text, lang):
    assert [f for f in rules_checker.check(text, "agent", lang=lang) if f.kind == "violation"] == []


@pytest.mark.parametrize("text, lang, category", [
    ("别人冒充法院是违法的，我就是法院派来的执行人员。", "zh", "impersonation"),
    ("Some collectors threaten arrest, but I'm going to have you arrested tonight.", "en", "threat_arrest"),
])
def test_a_violation_after_the_talk_still_counts(rules_checker, text, lang, category):
    assert category in {f.category for f in rules_checker.check(text, "agent", lang=lang)}


def test_eval_writes_per_rule_and_per_category_tables(tmp_path):
    import json

    from click.testing import CliRunner

    from assistant.cli import cli

    lines = [
        {"id": "t1", "lang": "zh", "speaker": "agent", "text": "你再拖着不还，我们就叫警察把你抓去坐牢", "labels": ["threat_arrest"]},
        {"id": "t2", "lang": "zh", "speaker": "agent", "text": "请问您这周五方便安排还款吗", "labels": []},
        {"id": "t3", "lang": "zh", "speaker": "customer", "text": "我上个月被裁员了，现在一分钱收入都没有", "labels": ["hardship"]},
    ]
    gold = tmp_path / "mine.jsonl"
    gold.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    table = tmp_path / "accuracy.md"
    result = CliRunner().invoke(cli, ["eval", str(gold), "--table", str(table)])
    assert result.exit_code == 0, result.output
    text = table.read_text(encoding="utf-8")
    assert f"### {gold} (zh)" in text and "| agent | 2 | 1.000 | 1.000 | 1.000 | 0.0% (0/1) | 0/0/0 |" in text
    assert "| threat_arrest | 1 | 1.000 |" in text and "| `zh.threat_arrest." in text and "| hardship | 1 | 1.000 |" in text


@pytest.mark.parametrize("text, category", [
    ("we will have you arr ested tonight", "threat_arrest"),                 # a word split in two
    ("i left a message with yourboss about the balance", "third_party_disclosure"),  # two words merged
    ("uh we will um have you arrested", "threat_arrest"),                    # fillers
])
def test_english_asr_mangling_is_repaired(rules_checker, text, category):
    assert category in {f.category for f in rules_checker.check(text, "agent", lang="en")}


def test_english_repairs_leave_ordinary_words_alone(rules_checker):
    engine = rules_checker.engine("en")
    assert engine.normalize("take a rest and call me back").text == "take a rest and call me back"
    assert engine.normalize("yourself and the boss").text == "yourself and the boss"
    norm = engine.normalize("we will have you arr ested")
    s, e = norm.original_span(norm.text.index("arrested"), norm.text.index("arrested") + 8)
    assert norm.original[s:e] == "arr ested"


def test_word_fixes_are_built_from_keywords_and_ordinary_words():
    from types import SimpleNamespace

    from assistant.rules.asr_words import build_word_fixes

    rule = SimpleNamespace(patterns=SimpleNamespace(phrases=["arrested", "boss"], tokens=[]))
    fixes = build_word_fixes([rule], {}, ["uh"], common={"a", "rrested", "your", "arr"})
    assert fixes["arr ested"] == "arrested" and fixes["yourboss"] == "your boss" and fixes["uh "] == ""
    assert "a rrested" not in fixes  # both pieces are ordinary words


@pytest.mark.parametrize("heard, meant", [("法远执行科", "法院"), ("到时候拘溜十五天", "拘留"), ("你这个老来", "老赖"), ("上报争信", "征信")])
def test_key_terms_heard_with_one_slip_are_corrected(rules_checker, heard, meant):
    engine = rules_checker.engine("zh")
    assert meant in engine.homophones.correct(engine.normalize(heard).text)


@pytest.mark.parametrize("text", ["老来得子真不容易", "我去报经理那里看看", "这边十几个人在加班", "我们不会联系您通讯录里的任何人", "我是你老同学小李"])
def test_a_slip_that_makes_a_word_with_its_neighbour_is_left_alone(rules_checker, text):
    engine = rules_checker.engine("zh")
    norm = engine.normalize(text).text
    assert engine.homophones.correct(norm) == norm
