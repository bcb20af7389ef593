"""Seeded fuzzing of `check` and `archive import`: thousands of generated inputs, bounded
time, no traceback, and under --skip-bad no line lost."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.archive import Archive, verify
from assistant.archive.importer import import_transcript
from assistant.cli import cli
from assistant.errors import CallassistError

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SEED = 9
POOLS = [
    "abcdefghijklmnopqrstuvwxyz ABCDEFG 0123456789 .,!?'-",
    "你不还钱就等着坐牢我们会联系您单位家人朋友欠款逾期请按时还款，。！？、",
    "還錢單位親戚朋友坐牢粵語唔冇嚟佢喺咗",
    "０１２３４５６７８９ＡＢＣ　，。",
    "\u200b\u200e\u202e\u2066\ufeff\u0301\u0300",
    "😀🙏🏽👍\U0001F926\u200d\u2642\ufe0f",
    "\x00\x01\x07\x08\x1b[2J\x7f\x85\u2028\u2029\t\r",
]


def random_text(rng: random.Random) -> str:
    n = rng.choice([0, 1, 2, 5, 20, 80, 300, 2000])
    return "".join(rng.choice(rng.choice(POOLS)) for _ in range(n))


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 3 else 6)
    return [lambda: random_text(rng), lambda: rng.randint(-10**6, 10**6), lambda: rng.random() * 1e9, lambda: None, lambda: True,
            lambda: float("nan"), lambda: [random_value(rng, depth + 1) for _ in range(rng.randrange(3))],
            lambda: {random_text(rng)[:8]: random_value(rng, depth + 1)}, lambda: rng.choice(["agent", "customer", "zh", "en"])][kind]()


def random_line(rng: random.Random) -> bytes:
    """One input line: mostly plausible objects with hostile values, some hostile JSON."""
    r = rng.random()
    if r < 0.55:
        obj = {"text": random_text(rng)}
        for key in rng.sample(["speaker", "lang", "id", "start", "end", "words", "speeker", "langs", "extra"], rng.randrange(4)):
            obj[key] = random_value(rng) if rng.random() < 0.5 else rng.choice(["agent", "customer", "zh", "en", "auto", "xx"])
        line = json.dumps(obj, ensure_ascii=rng.random() < 0.5, allow_nan=True)
        if rng.random() < 0.1:
            line = line.replace('"text": "', '"text": "\\ud800', 1)  # a lone surrogate
        return line.encode("utf-8", "surrogatepass")
    if r < 0.65:
        depth = rng.choice([10, 1000, 100000])
        return ("[" * depth + "]" * depth).encode()
    if r < 0.72:
        return ('{"text": "x", "n": ' + "9" * rng.choice([100, 5000]) + "}").encode()
    if r < 0.8:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
    if r < 0.88:
        return json.dumps(random_value(rng)).encode()
    return json.dumps({"text": random_value(rng), "speaker": random_value(rng)}, allow_nan=True).encode()


def test_the_library_raises_only_its_own_errors(checker):
    rng = random.Random(SEED)
    for _ in range(1500):
        text = random_text(rng)
        try:
            checker.check(text, rng.choice(["agent", "customer"]), lang=rng.choice([None, "zh", "en"]), final=rng.random() < 0.7)
        except CallassistError:
            pass


@pytest.mark.parametrize("meaning", [True, False], ids=["meaning", "rules"])
def test_check_skip_bad_loses_no_line_and_prints_no_traceback(tmp_path, meaning):
    rng = random.Random(SEED + meaning)
    lines = [random_line(rng).replace(b"\n", b" ").replace(b"\r", b" ") for _ in range(2500)]
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    cmd = [sys.executable, "-m", "assistant", "check", "--skip-bad", str(path)] + ([] if meaning else ["--no-meaning"])
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert b"Traceback" not in proc.stderr
    out = proc.stdout.decode("utf-8").splitlines()  # also splits at U+2028 and NEL: those must be escaped
    assert len(out) == len(lines)
    for no, line in enumerate(out, 1):
        obj = json.loads(line)
        assert "findings" in obj or "call" in obj, (no, line[:200])


def test_archive_import_of_generated_transcripts_is_all_or_nothing(tmp_path, rules_checker):
    rng = random.Random(SEED)
    archive = Archive(tmp_path / "a.db")
    imported = refused = 0
    for k in range(300):
        rows = []
        hostile = rng.random() < 0.5
        if not hostile:  # a plausible call, to show imports still succeed among hostile ones
            rows.append(json.dumps({"call": {"id": f"c{k}", "lang": "zh"}}))
            rows += [json.dumps({"speaker": "agent" if j % 2 else "customer", "start": j * 3.0, "end": j * 3.0 + 2, "text": random_text(rng) or "您好"},
                                ensure_ascii=False) for j in range(rng.randrange(1, 5))]
        elif rng.random() < 0.8:
            rows.append(json.dumps({"call": {"id": f"c{k}", "lang": rng.choice(["zh", "en", None, "xx"]),
                                             "started_at": rng.choice([None, "2026-11-20T10:00:00+08:00", "not a date", 5])}}))
        t = 0.0
        for _ in range(rng.randrange(0, 6) if hostile else 0):
            if rng.random() < 0.7:
                text = rng.choice(["您好，我是诚信金融的客服", "你不还钱就等着坐牢", "我下个月发工资再还", "hello this is about your loan"])
                row = {"speaker": rng.choice(["agent", "customer"]), "start": t, "end": t + rng.random() * 3, "text": text}
                if rng.random() < 0.3:
                    row[rng.choice(["start", "end", "text", "speaker", "words", "speeker", "conf"])] = random_value(rng)
                rows.append(json.dumps(row, allow_nan=True, ensure_ascii=False))
            else:
                rows.append(random_line(rng).decode("utf-8", "replace").replace("\n", " "))
            t += 3.5
        path = tmp_path / f"t{k}.jsonl"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8", errors="surrogatepass")
        try:
            import_transcript(archive, path, call_id=f"c{k}", checker=rules_checker)
            imported += 1
        except CallassistError:
            refused += 1
    assert imported > 20 and refused > 20
    statuses = [c["status"] for c in archive.calls()]
    assert len(statuses) == imported and set(statuses) == {"sealed"}  # nothing half-imported
    report = verify(archive)
    assert report.ok, report.problems[:5]


def test_archive_import_cli_never_shows_a_traceback(tmp_path):
    rng = random.Random(SEED + 1)
    db = tmp_path / "a.db"
    for k in range(40):
        path = tmp_path / f"t{k}.jsonl"
        path.write_bytes(b"\n".join(random_line(rng) for _ in range(rng.randrange(1, 4))) + b"\n")
        result = CliRunner().invoke(cli, ["archive", "--archive", str(db), "import", str(path), "--call-id", f"c{k}"])
        assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
        assert "Traceback" not in result.output
