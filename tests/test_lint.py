from pathlib import Path

import pytest

from assistant.constants import LANGUAGES
from assistant.errors import RuleFileError
from assistant.rules.loader import lexicon_root, lint_lexicon, load_lexicon

LANG_FILE = (lexicon_root() / "zh" / "_language.yaml").read_text(encoding="utf-8")

GOOD = """lang: zh
category: abuse
kind: violation
defaults:
  severity: major
  speaker: agent
  citation: [某条款]
  verification: test
  explanation: 说明
  suggestion: 改写
rules:
  - id: zh.abuse.test
    patterns:
      phrases: [废物]
    examples:
      flag: [你这个废物]
"""


def make_lexicon(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "zh"
    folder.mkdir()
    (folder / "_language.yaml").write_text(LANG_FILE, encoding="utf-8")
    (folder / "abuse.yaml").write_text(body, encoding="utf-8")
    return tmp_path


def test_shipped_lexicons_are_clean():
    for lang in LANGUAGES:
        problems, rules, _ = lint_lexicon(lang)
        assert problems == []
        assert rules


def test_good_file_loads(tmp_path):
    lex = load_lexicon("zh", make_lexicon(tmp_path, GOOD))
    assert [r.id for r in lex.rules] == ["zh.abuse.test"]
    assert lex.rules[0].unless.negation is True


@pytest.mark.parametrize(
    "mutate,line,words",
    [
        (lambda s: s.replace("severity: major", "severity: huge"), 5, "severity"),
        (lambda s: s.replace("phrases: [废物]", "regex: ['(废物']"), 14, "bad regex"),
        (lambda s: s.replace("id: zh.abuse.test", "id: en.abuse.test"), 12, "must start with 'zh.'"),
        (lambda s: s.replace("      flag: [你这个废物]\n", "      pass: [好的]\n"), 16, "flag"),
        (lambda s: s.replace("category: abuse", "category: hardship"), 2, "not a violation category"),
        (lambda s: s.replace("kind: violation", "kind: violation\nextra: 1"), 1, "Additional properties"),
        (lambda s: s.replace("speaker: agent", "speaker: any"), 12, "speaker must be 'agent'"),
        (lambda s: s + "  - [broken", 17, "YAML syntax error"),
    ],
)
def test_problems_name_file_and_line(tmp_path, mutate, line, words):
    root = make_lexicon(tmp_path, mutate(GOOD))
    problems, _, _ = lint_lexicon("zh", root)
    assert problems, "expected a problem"
    assert any(p.startswith(f"{root / 'zh' / 'abuse.yaml'}:{line}:") and words in p for p in problems), problems
    with pytest.raises(RuleFileError) as err:
        load_lexicon("zh", root)
    assert "callassist rules lint" in str(err.value)


def test_non_utf8_rule_file(tmp_path):
    root = make_lexicon(tmp_path, GOOD)
    (root / "zh" / "abuse.yaml").write_bytes(GOOD.encode("gb18030"))
    problems, _, _ = lint_lexicon("zh", root)
    assert any("not UTF-8" in p for p in problems)
