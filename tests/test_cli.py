"""The `check` JSON Lines contract and bad input, through the command line (in-process:
the real entry point and its exit codes are run as a subprocess in test_robustness.py)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Done:
    returncode: int
    stdout: bytes
    stderr: bytes


def run(args: list[str], data: bytes) -> Done:
    """``callassist ARGS`` with ``data`` on stdin, from the top of the source tree."""
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        res = CliRunner().invoke(cli, args, input=data)
    finally:
        os.chdir(here)
    return Done(res.exit_code, res.stdout_bytes, res.stderr_bytes or b"")


def jl(*objs) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode()


def test_one_output_line_per_input_line_in_order():
    rows: list[dict] = [
        {"id": "a", "text": "不还就等着坐牢", "extra": 1},
        {"id": "b", "speaker": "customer", "text": "我已经还清了，有转账记录"},
        {"id": "c", "text": "you are going to jail", "lang": "en"},
        {"id": "d", "text": "您好，请问是王先生吗？"},
    ]
    proc = run(["check", "--no-meaning", "-"], jl(*rows))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "c", "d"]
    assert out[0]["extra"] == 1 and out[0]["speaker"] == "agent" and out[0]["lang"] == "zh"
    assert {f["category"] for f in out[0]["findings"]} >= {"threat_arrest"}
    assert all(f["kind"] == "cue" for f in out[1]["findings"]) and out[1]["findings"]
    assert out[2]["findings"] and out[3]["findings"] == []
    f = out[0]["findings"][0]
    assert rows[0]["text"][f["start"] : f["end"]] == f["matched"]


def test_text_format_and_call_header():
    proc = run(["check", "--format", "text", "--no-meaning", str(ROOT / "samples" / "call_zh.jsonl")], b"")
    assert proc.returncode == 0, proc.stderr
    assert "threat_arrest" in proc.stdout.decode()


BAD_CASES = {
    "non_utf8": ("这是一行".encode("gb18030") + b"\n", "not UTF-8"),
    "invalid_json": (b'{"text": "hi"\n', "invalid JSON"),
    "missing_text": (b'{"speaker": "agent"}\n', "`text` is missing"),
    "empty_line": (b"\n", "empty line"),
    "huge_line": (json.dumps({"text": "钱" * (1 << 20)}).encode() + b"\n", "limit"),
    "huge_ascii_line": (json.dumps({"text": "a" * 20_000}).encode() + b"\n", "over the limit of 10,000"),
    "unknown_language": (b'{"text": "bonjour", "lang": "fr"}\n', "unknown language 'fr'"),
    "unknown_speaker": (b'{"text": "hi", "speaker": "robot"}\n', "unknown speaker"),
    "not_an_object": (b'["text"]\n', "expected a JSON object"),
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_line_stops_with_its_line_number(name):
    bad, words = BAD_CASES[name]
    good = jl({"text": "您好"})
    proc = run(["check", "--no-meaning", "-"], good + bad + good)
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert "line 2: " in err and words in err and "--skip-bad" in err
    assert "Traceback" not in err
    assert len(proc.stdout.decode().splitlines()) == 1


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_skip_bad_reports_and_keeps_every_line(name):
    bad, words = BAD_CASES[name]
    good = jl({"text": "您好"})
    proc = run(["check", "--no-meaning", "--skip-bad", "-"], good + bad + good)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert len(out) == 3
    assert words in out[1]["error"] and out[1]["findings"] == []
    assert "1 bad line(s)" in proc.stderr.decode()


def test_missing_input_file_is_a_clear_error():
    proc = run(["check", "/nonexistent/file.jsonl"], b"")
    assert proc.returncode == 2 and b"cannot open" in proc.stderr and b"Traceback" not in proc.stderr


def test_eval_prints_figures_per_language_category_and_rule(tmp_path):
    data = tmp_path / "gold.jsonl"
    data.write_bytes(
        jl(
            {"lang": "zh", "speaker": "agent", "text": "不还就等着坐牢", "labels": ["threat_arrest"]},
            {"lang": "zh", "speaker": "agent", "text": "您好，请问是王先生吗", "labels": []},
            {"lang": "en", "speaker": "customer", "text": "please stop calling me", "labels": ["cease_request"]},
        )
    )
    proc = run(["eval", "--no-meaning", str(data)], b"")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    assert "== lang=zh" in out and "== lang=en" in out
    assert "summary lang=zh: agent_f1=1.000 agent_false_alarm=0.000" in out
    assert "threat_arrest" in out and "zh.threat_arrest" in out


def test_rules_lint_list_and_test_commands():
    for args, words in ((["rules", "lint"], "ok:"), (["rules", "list", "--lang", "zh"], "§"), (["rules", "test"], "ok:")):
        proc = run(args, b"")
        assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
        assert words in proc.stdout.decode()


def test_the_transcript_header_language_wins_over_per_line_detection():
    """Recogniser gibberish in Latin letters on a Mandarin call is checked as Mandarin."""
    rows = [{"call": {"id": "k", "lang": "zh"}}, {"speaker": "agent", "text": "we go home now ok"},
            {"speaker": "agent", "text": "you are going to jail", "lang": "en"}]
    proc = run(["check", "--no-meaning", "-"], jl(*rows))
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [o.get("lang") for o in out[1:]] == ["zh", "en"]  # a line's own lang still wins
    assert run(["check", "--no-meaning", "--lang", "en", "-"], jl(*rows[:2])).stdout.decode().splitlines()[1].count('"lang": "en"') == 1


def test_a_partial_line_gets_the_rules_only_and_provisional_findings():
    rows = [{"partial": True, "speaker": "agent", "start": 1.0, "text": "不还钱就等着坐牢"}, {"speaker": "agent", "text": "不还钱就等着坐牢"}]
    proc = run(["check", "-"], jl(*rows))
    partial, final = (json.loads(line)["findings"] for line in proc.stdout.decode().splitlines())
    assert partial and all(f["provisional"] and f["source"] == "rule" for f in partial)
    assert final and not any(f.get("provisional") for f in final)
