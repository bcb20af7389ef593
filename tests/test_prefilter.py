"""The literal prefilter must never hide a match: checked on every shipped regex
against every example and training sentence we have."""
import json
import re

import pytest

from assistant.constants import LANGUAGES
from assistant.rules.loader import lexicon_root, load_lexicon
from assistant.rules.prefilter import required_literals
from assistant.text import Normalizer


@pytest.mark.parametrize(
    "pattern,expected",
    [
        (r"\b(arrest(ed)?|jail)\b", {"arrest", "jail"}),
        ("(报警|警察).{0,10}(抓|带走)", {"报警", "警察"}),
        ("(你|您)?的(单位|领导)", {"单位", "领导"}),
        (r"x?y*", None),
        (r"(?i)jail", None),
        ("[^，。]{0,8}", None),
    ],
)
def test_required_literals(pattern, expected):
    got = required_literals(pattern)
    assert (got if got is None else set(got)) == expected


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
def test_gate_never_hides_a_match(lang):
    lex = load_lexicon(lang)
    norm = Normalizer(lex.config.replacements)
    texts = [t for r in lex.rules for t in (*r.examples_flag, *r.examples_pass)]
    for path in (lexicon_root() / lang / "training").glob("*.jsonl"):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [norm(t).text for t in texts]
    checked = 0
    for rule in lex.rules:
        for pattern in rule.patterns.regex:
            gate = required_literals(pattern)
            if gate is None:
                continue
            rx = re.compile(pattern)
            for text in texts:
                if rx.search(text):
                    checked += 1
                    assert any(lit in text for lit in gate), (rule.id, pattern, text)
    assert checked > 100
