"""Data and code without copies: each `unless` pattern written once per language (rules
extend their file's defaults, shared sets are named in _language.yaml), and the code's
shared tables defined in one place."""
from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest
import yaml

from assistant.constants import LANGUAGES
from assistant.rules.loader import Unless, lexicon_root, resolve_unless, rule_files

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "assistant"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_unless_pattern_is_written_once(lang):
    written: dict[str, list[str]] = collections.defaultdict(list)
    folder = lexicon_root() / lang
    for path in [folder / "_language.yaml", *rule_files(lang)]:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.name == "_language.yaml":
            blocks = [(f"set {name}", s) for name, s in (data.get("unless_sets") or {}).items()]
        else:
            blocks = [("defaults", data["defaults"].get("unless") or {})] + [(r["id"], r.get("unless") or {}) for r in data["rules"]]
        for where, block in blocks:
            for key in ("regex", "phrases"):
                for text in block.get(key) or []:
                    written[text].append(f"{path.name}: {where}")
    copies = {text: places for text, places in written.items() if len(places) > 1}
    assert not copies, "write it once (in the file's defaults or an unless set), then `include`/`drop`:\n" + "\n".join(
        f"{places}: {text[:80]}" for text, places in copies.items())


def test_a_rule_unless_extends_its_defaults_and_can_drop_one():
    sets = {"shared": {"regex": ("s1",), "phrases": ("p1",)}}
    base, problems = resolve_unless({"include": ["shared"], "regex": ["d1", "d2"], "negation": False}, None, sets)
    assert not problems and base.regex == ("s1", "d1", "d2") and base.phrases == ("p1",) and base.negation is False
    rule, problems = resolve_unless({"regex": ["r1"], "drop": ["d2"]}, base, sets)
    assert not problems and rule.regex == ("s1", "d1", "r1") and rule.negation is False and rule.quote is True
    rule, problems = resolve_unless({"drop": ["shared"], "negation": True}, base, sets)
    assert rule.regex == ("d1", "d2") and rule.phrases == () and rule.negation is True
    _, problems = resolve_unless({"drop": ["nothing like it"], "include": ["nosuch"]}, base, sets)
    assert len(problems) == 2 and "not inherited" in problems[1] and "unknown unless set" in problems[0]
    assert resolve_unless(None, None, {})[0] == Unless()


def test_shared_code_tables_are_defined_once():
    sources = {p: p.read_text(encoding="utf-8") for p in LIBRARY.rglob("*.py")}
    cjk = [str(p.relative_to(ROOT)) for p, text in sources.items() if re.search(r"\\u4e00|\\u3400|\\u9fff", text)]
    assert cjk == ["assistant/text/normalize.py"], f"CJK ranges written outside the one table: {cjk}"
    xdg = sorted(str(p.relative_to(ROOT)) for p, text in sources.items() if "environ.get(\"XDG_" in text)
    assert xdg == ["assistant/files.py"], f"user-folder logic outside assistant/files.py: {xdg}"
    hashing = [str(p.relative_to(ROOT)) for p, text in sources.items() if "name.encode() + b\"\\0\"" in text]
    assert hashing == ["assistant/files.py"], f"a second file fingerprint: {hashing}"
    bench = [p.name for p in (ROOT / "bench").glob("*.py") if re.search(r"^def percentile", p.read_text(encoding="utf-8"), re.M)]
    assert len(bench) <= 1, f"percentile defined in {bench}"


def test_environment_variables_are_read_in_one_place_and_documented():
    from assistant.settings import SETTINGS, markdown_table

    for path in LIBRARY.rglob("*.py"):
        if path.name == "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"environ(\.get)?\(?\[?[\"']CALLASSIST_", text), f"{path.name} reads a CALLASSIST_ variable itself: use assistant.settings"
    assert markdown_table() in (ROOT / "README.md").read_text(encoding="utf-8"), "README settings table out of date: python -m assistant.settings"
    assert len({s.env for s in SETTINGS.values()}) == len(SETTINGS)
