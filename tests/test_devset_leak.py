"""Guard: nothing we train on or test with may be a (near) copy of a dev-set line.

The dev set (../shared/devset) is for measuring only. Every training line, rule example,
test string, sample, recorded-fixture line,
script line and practice line is compared with every dev line by shared character 6-grams (zh)
or word 4-grams (en); an overlap of half the shorter line (and at least 3 n-grams) fails.
Skipped when the dev set is not beside the project.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from assistant.text import Normalizer

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT.parent / "shared" / "devset"
_norm = Normalizer()


def grams(text: str) -> tuple[str, set[str]]:
    t = _norm(text).text
    if re.search(r"[\u4e00-\u9fff]", t):
        t = re.sub(r"[^\u4e00-\u9fff0-9a-z]", "", t)
        return "zh", {t[i : i + 6] for i in range(len(t) - 5)}
    words = re.findall(r"[a-z0-9']+", t)
    return "en", {" ".join(words[i : i + 4]) for i in range(len(words) - 3)}


def our_texts() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "lexicons").glob("*/training/*.jsonl")):
        out += [(str(path), json.loads(line)["text"]) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for path in sorted((ROOT / "lexicons").glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for rule in data.get("rules", []):
            ex = rule.get("examples") or {}
            out += [(f"{path}:{rule['id']}", t) for t in (*ex.get("flag", []), *ex.get("pass", []))]
        for cue, spec in (data.get("cues") or {}).items():  # _obligations.yaml
            ex = spec.get("examples") or {}
            out += [(f"{path}:{cue}", t) for t in (*ex.get("answers", []), *ex.get("misses", []))]
    for path in sorted((ROOT / "lexicons").glob("*/call/rules.yaml")):  # call rules' example calls
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            for example in (*rule["examples"]["raise"], *rule["examples"]["pass"]):
                out += [(f"{path}:{rule['id']}", line[3:]) for line in example["call"]]
    for path in sorted((ROOT / "lexicons").glob("*/call/*/*.jsonl")):  # call-level gold
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        out += [(str(path), row["text"]) for row in rows if "text" in row]
    scenarios = ROOT / "recordings_fixtures" / "scenarios.yaml"
    for sc in yaml.safe_load(scenarios.read_text(encoding="utf-8"))["scenarios"]:
        out += [(f"{scenarios}:{sc['lang']}/{sc['id']}", line["text"]) for line in sc["lines"]]
    for path in sorted((ROOT / "scripts_library").glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += [(f"{path}:{line['id']}", line["template"]) for line in data.get("lines", [])]
    for path in sorted((ROOT / "scripts_library" / "practice").glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += [(str(path), str(turn["say"])) for turn in data.get("turns", [])]
        out += [(str(path), str(r["say"])) for r in (data.get("reactions") or {}).values()]
    for path in sorted([*(ROOT / "tests").glob("*.py"), *(ROOT / "samples").glob("*")]):
        if path.name == Path(__file__).name:
            continue
        out += [(str(path), t) for t in re.findall(r'"([^"\n]{12,})"', path.read_text(encoding="utf-8"))]
    return out


@pytest.mark.skipif(not DEVSET.is_dir(), reason="dev set not available")
def test_no_dev_line_is_copied():
    index: dict[tuple[str, str], set[int]] = {}
    dev = []
    for path in sorted(DEVSET.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            lang, gs = grams(json.loads(line)["text"])
            dev.append((json.loads(line)["text"], gs))
            for g in gs:
                index.setdefault((lang, g), set()).add(len(dev) - 1)
    leaks = []
    for where, text in our_texts():
        lang, gs = grams(text)
        hits: dict[int, int] = {}
        for g in gs:
            for d in index.get((lang, g), ()):
                hits[d] = hits.get(d, 0) + 1
        for d, shared in hits.items():
            if shared >= 3 and shared / min(len(gs), len(dev[d][1])) >= 0.5:
                leaks.append(f"{where}: {text}  ~  dev: {dev[d][0]}")
    assert not leaks, "\n".join(leaks[:30])
