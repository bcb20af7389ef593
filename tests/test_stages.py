"""The stage tracker on the script library's own opening and verification lines, and on
self-introductions whose job title is also an escalation word."""
from __future__ import annotations

import pytest

from assistant.events import Utterance
from assistant.stages import StageTracker
from assistant.suggest.library import load_library, render, sample_case

# Where an agent line of each library stage may take a call that has just begun.
REACHES = {
    "opening": {"opening", "verification"},  # a self-introduction, often asking for the right person
    "verification": {"verification"},
}
WRONG_PARTY = {"opening", "closing"}  # lines for a wrong party end the call or leave the stage alone


def first_stage(lang: str, text: str) -> str:
    tracker = StageTracker("c", lang)
    tracker.feed(Utterance("c", 1, "agent", 0.0, 1.0, text))
    return tracker.stage


LINES = [(lang, line) for lang in ("zh", "en") for line in load_library(lang)[0] if line.stage in REACHES]


@pytest.mark.parametrize("lang,line", LINES, ids=[line.id for _, line in LINES])
def test_every_opening_and_verification_line_reaches_its_stage(lang, line):
    stage = first_stage(lang, render(line, sample_case(lang)))
    allowed = WRONG_PARTY if "wrong_party" in line.cues else REACHES[line.stage]
    assert stage in allowed, f"{line.id} moved the call to {stage}"


@pytest.mark.parametrize("lang,text", [
    ("zh", "您好，我是诚信金融的催收专员小王，工号8812，请问是李强先生吗？"),
    ("zh", "你好，这里是贷后管理部，我是客服主管张敏。"),
    ("en", "Hi, this is Sam, an account specialist with Crestview Finance."),
    ("en", "Good morning, my name is Dana, I'm a collections supervisor at Crestview."),
])
def test_a_job_title_in_a_self_introduction_is_not_an_escalation(lang, text):
    assert first_stage(lang, text) in ("opening", "verification")


@pytest.mark.parametrize("lang,text", [
    ("zh", "这个情况我帮您转接主管处理。"),
    ("zh", "我会把您的异议提交专员书面核实。"),
    ("en", "Let me transfer you to a specialist who can review this."),
    ("en", "I'll ask my supervisor to look into it."),
])
def test_a_real_hand_over_is_still_an_escalation(lang, text):
    assert first_stage(lang, text) == "escalation"
