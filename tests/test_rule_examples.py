"""Every rule's own `examples` become tests: flag examples must trigger the rule,
pass examples must not raise the rule's category (rule layer only)."""
from __future__ import annotations

import pytest

from assistant.constants import LANGUAGES
from assistant.rules.loader import load_lexicon


def _cases():
    for lang in LANGUAGES:
        for rule in load_lexicon(lang).rules:
            speaker = "customer" if rule.speaker == "customer" else "agent"
            for text in rule.examples_flag:
                yield pytest.param(lang, rule.id, rule.category, speaker, text, True, id=f"{rule.id}:flag:{text[:30]}")
            for text in rule.examples_pass:
                yield pytest.param(lang, rule.id, rule.category, speaker, text, False, id=f"{rule.id}:pass:{text[:30]}")


@pytest.mark.parametrize("lang,rule_id,category,speaker,text,should_flag", list(_cases()))
def test_rule_example(rules_checker, lang, rule_id, category, speaker, text, should_flag):
    if should_flag:
        assert rule_id in rules_checker.rule_hits(text, speaker, lang=lang), f"{rule_id} should flag: {text}"
    else:
        findings = rules_checker.check(text, speaker, lang=lang, final=False)
        assert category not in {f.category for f in findings}, f"{category} should not be raised: {text}"


def test_every_category_has_rules_in_both_languages():
    from assistant.constants import CUE_CATEGORIES, VIOLATION_CATEGORIES

    for lang in LANGUAGES:
        lex = load_lexicon(lang)
        covered = {r.category for r in lex.rules}
        assert set(VIOLATION_CATEGORIES) <= covered, f"{lang}: missing {set(VIOLATION_CATEGORIES) - covered}"
        assert set(CUE_CATEGORIES) <= covered, f"{lang}: missing {set(CUE_CATEGORIES) - covered}"


def test_every_rule_cites_a_clause_and_says_how_sure():
    for lang in LANGUAGES:
        for rule in load_lexicon(lang).rules:
            assert rule.citation and all(c.strip() for c in rule.citation), rule.id
            assert rule.verification.strip(), rule.id
            assert rule.suggestion.strip(), rule.id
