"""Obligations after a cue: the examples in lexicons/<lang>/_obligations.yaml are tests."""
from __future__ import annotations

import pytest

from assistant.constants import CUE_CATEGORIES, LANGUAGES
from assistant.errors import RuleFileError
from assistant.rules.obligations import CueObligations, load_obligations

CASES = [(lang, cue) for lang in LANGUAGES for cue in CUE_CATEGORIES]


@pytest.mark.parametrize("lang,cue", CASES, ids=[f"{lang}-{cue}" for lang, cue in CASES])
def test_every_cue_has_answers_and_its_examples_behave(lang, cue):
    owed = CueObligations(lang)
    rule = owed.rules[cue]
    assert len(rule.answers) >= 4 and len(rule.misses) >= 3
    for line in rule.answers:
        assert owed.answers(line, cue), f"should answer {cue}: {line}"
    for line in rule.misses:
        assert not owed.answers(line, cue), f"should not answer {cue}: {line}"


def test_an_obligation_is_met_or_missed_within_its_turns():
    owed = CueObligations("en")
    owed.customer(1, "I already paid this last month.", ["already_paid"])
    met, missed = owed.agent(2, "You need to pay today.")
    assert not met and not missed and owed.open
    rule = owed.rules["already_paid"]
    for k in range(rule.within - 1):
        met, missed = owed.agent(3 + k, "Pay now.")
    assert [o.cue for o in missed] == ["already_paid"] and missed[0].raised_seq == 1 and not owed.open
    owed.customer(9, "I want a payment plan.", ["installment_request"])
    met, _ = owed.agent(10, owed.rules["installment_request"].answers[0])
    assert [o.cue for o in met] == ["installment_request"] and met[0].met
    owed.customer(11, "I have a lawyer.", ["attorney"])
    assert [o.cue for o in owed.finish()] == ["attorney"]


def test_a_broken_obligations_file_names_its_line(tmp_path):
    import shutil

    from assistant.rules.loader import lexicon_root

    shutil.copytree(lexicon_root(), tmp_path / "lex")
    path = tmp_path / "lex" / "zh" / "_obligations.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("within: ", "within: -", 1), encoding="utf-8")
    load_obligations.cache_clear()
    with pytest.raises(RuleFileError, match=r"_obligations.yaml:\d+: within"):
        load_obligations("zh", str(tmp_path / "lex"))
