"""One set of CLI conventions, checked over every command; every help example executed
(sqlite-utils' habit); the generated reference (docs/cli.md) checked for drift."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from assistant._cli_common import EXIT_FAILED, EXIT_INTERNAL, EXIT_USAGE, FORMATS
from assistant.cli import cli
from assistant.cli_reference import commands, examples, reference
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[1]
LEAVES = [(" ".join(path), cmd) for path, cmd in commands() if not isinstance(cmd, click.Group)]
# commands whose output is the input of the next command: JSON Lines by default (the `check` contract)
STREAMS = {"check": "jsonl", "transcribe": "jsonl"}
# commands that print records people list, filter and export
LISTINGS = {"archive calls", "archive search", "archive show", "rules list", "scripts list", "models list", "devices", "check"}
USES_ARCHIVE = {"archive import", "archive verify", "archive search", "archive export", "archive hold", "archive unhold", "archive purge",
                "archive calls", "archive review", "archive show", "live", "demo", "audit", "score", "report", "users add", "users list",
                "users disable", "serve", "serve-calls"}


def _options(cmd: click.Command) -> dict[str, click.Option]:
    return {name: p for p in cmd.params if isinstance(p, click.Option) for name in p.opts + p.secondary_opts}


@pytest.mark.parametrize("name,cmd", LEAVES, ids=[n for n, _ in LEAVES])
def test_every_command_has_help_and_an_example(name, cmd):
    res = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert res.exit_code == 0, res.output
    assert examples(cmd), f"`callassist {name} --help` shows no example"


@pytest.mark.parametrize("name,cmd", LEAVES, ids=[n for n, _ in LEAVES])
def test_shared_options_mean_the_same_everywhere(name, cmd):
    opts = _options(cmd)
    if "--lang" in opts:
        lang = opts["--lang"]
        assert list(lang.type.choices) == ["zh", "en"] and lang.default is None, f"{name}: --lang differs"  # type: ignore[attr-defined]
    if name in LISTINGS:
        fmt = opts.get("--format")
        assert fmt is not None, f"{name} prints records but has no --format"
        assert set(FORMATS) <= set(fmt.type.choices), f"{name}: --format lacks some of {FORMATS}"  # type: ignore[attr-defined]
        assert fmt.default == STREAMS.get(name, "text")
    assert "--call" not in opts or "--call-id" in opts, f"{name}: a call id option is --call-id (--call only as its old spelling)"
    if name in USES_ARCHIVE:
        assert "--archive" in opts, f"{name} uses an archive but takes no --archive"


def test_archive_is_accepted_before_and_after_the_sub_command(tmp_path):
    db = tmp_path / "a.db"
    runner = CliRunner(env={"CALLASSIST_ARCHIVE": str(tmp_path / "other.db")})
    fixture = str(ROOT / "recordings_fixtures" / "zh" / "threats_and_insults.jsonl")
    assert runner.invoke(cli, ["archive", "import", fixture, "--archive", str(db)]).exit_code == 0
    after = runner.invoke(cli, ["archive", "search", "警察", "--archive", str(db), "--format", "jsonl"])
    before = runner.invoke(cli, ["archive", "--archive", str(db), "search", "警察", "--format", "jsonl"])
    assert after.exit_code == before.exit_code == 0 and after.stdout == before.stdout and "警察" in after.stdout
    assert not (tmp_path / "other.db").exists()


def test_exit_codes(tmp_path, monkeypatch):
    runner = CliRunner()
    assert runner.invoke(cli, ["rules", "list", "--lang", "fr"]).exit_code == EXIT_USAGE  # usage
    assert runner.invoke(cli, ["check", "--no-meaning", "-"], input="{not json\n").exit_code == EXIT_USAGE  # bad input
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    res = runner.invoke(cli, ["archive", "verify", "--archive", str(broken)])
    assert res.exit_code in (EXIT_FAILED, EXIT_USAGE) and "Traceback" not in res.output
    fixture = str(ROOT / "recordings_fixtures" / "zh" / "threats_and_insults.jsonl")
    db = tmp_path / "a.db"
    assert runner.invoke(cli, ["archive", "import", fixture, "--archive", str(db)]).exit_code == 0
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE utterances SET text = '改过的' WHERE pos = 1")
    res = runner.invoke(cli, ["archive", "verify", "--archive", str(db)])
    assert res.exit_code == EXIT_FAILED and "FAILED:" in res.stderr  # the check ran and failed

    def boom(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("assistant.suggest.library.load_library", boom)
    res = runner.invoke(cli, ["scripts", "list"])
    assert res.exit_code == EXIT_INTERNAL and "bug" in res.stderr and "Traceback" not in res.output


def test_listing_formats_agree(tmp_path):
    import csv
    import io
    import json

    runner = CliRunner()
    rows = {fmt: runner.invoke(cli, ["rules", "list", "--lang", "en", "--category", "threat_arrest", "--format", fmt]) for fmt in FORMATS}
    assert all(r.exit_code == 0 for r in rows.values())
    as_jsonl = [json.loads(line) for line in rows["jsonl"].stdout.splitlines()]
    assert as_jsonl == json.loads(rows["json"].stdout)
    as_csv = list(csv.DictReader(io.StringIO(rows["csv"].stdout)))
    assert [r["id"] for r in as_csv] == [r["id"] for r in as_jsonl] and as_jsonl
    assert all(r["id"] in rows["text"].stdout for r in as_jsonl)


def test_check_writes_every_format(tmp_path):
    import csv
    import io
    import json

    line = json.dumps({"id": "x", "speaker": "agent", "text": "不还钱就等着坐牢"}, ensure_ascii=False) + "\n"
    runner = CliRunner()
    out = {fmt: runner.invoke(cli, ["check", "--no-meaning", "--format", fmt, "-"], input=line * 2) for fmt in FORMATS}
    assert all(r.exit_code == 0 for r in out.values()), {k: r.output for k, r in out.items()}
    jsonl = [json.loads(x) for x in out["jsonl"].stdout.splitlines()]
    assert json.loads(out["json"].stdout) == jsonl and len(jsonl) == 2
    cats = [r["category"] for r in csv.DictReader(io.StringIO(out["csv"].stdout))]
    assert cats.count("threat_arrest") == 2
    assert "threat_arrest" in out["text"].stdout


def test_the_reference_matches_the_commands():
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert doc == reference(), "docs/cli.md is out of date: python -m assistant.cli_reference > docs/cli.md"


# ---- every help example, executed ---------------------------------------------------------
EXAMPLES = [(name, line) for name, cmd in LEAVES for line in examples(cmd)]
_NEEDS_MODEL = ("transcribe", "live --source", "models path", "demo")
_FIRST = ("archive import", "archive export", "archive hold", "models install")  # make what later examples use


def _order(item: tuple[str, str]) -> int:
    return next((k for k, prefix in enumerate(_FIRST) if item[0] == prefix), len(_FIRST))


EXAMPLES.sort(key=_order)


def _marks(line: str) -> list[pytest.MarkDecorator]:
    marks = []
    if any(f"callassist {p}" in line for p in _NEEDS_MODEL):
        marks.append(pytest.mark.vosk)
    if "rules train" in line or "scripts lint" in line or "eval" in line:
        marks.append(pytest.mark.slow)
    return marks


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, ko_model_dir):
    """A working folder like a user's: the shipped fixtures and a copy of the lexicons,
    its own archive and model cache, a model publisher on 127.0.0.1, a fake sound card."""
    from assistant.testing import ModelServer, listing_for, model_zip

    home = tmp_path_factory.mktemp("examples")
    os.symlink(ROOT / "recordings_fixtures", home / "recordings_fixtures")
    shutil.copytree(ROOT / "lexicons", home / "lexicons")
    (home / "vosk-model-small-cn-0.22.zip").write_bytes(model_zip())
    data = model_zip()
    server = ModelServer({"vosk-model-small-cn-0.22.zip": data}, [])
    server.files["model-list.json"] = json.dumps(listing_for(data, server.url)).encode()
    env = {"CALLASSIST_ARCHIVE": str(home / "archive.db"), "CALLASSIST_MODELS": str(home / "models"), "CALLASSIST_MODEL_URL": server.url,
           "CALLASSIST_MODEL": str(ko_model_dir), "CALLASSIST_LEXICONS": str(home / "lexicons"), "CALLASSIST_ARCHIVE_KEY": None}
    yield home, env
    server.close()


def _run_pipeline(line: str, home: Path, env: dict[str, str | None]) -> tuple[int, str]:
    """Run an example line: `callassist …` in-process, other programs (echo, sox) for real,
    joined by pipes. Returns the last command's exit code and output."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    for token in lexer:
        if token == "|":
            segments.append([])
        else:
            segments[-1].append(token)
    data: bytes | None = None
    code, output = 0, ""
    for seg in segments:
        if seg[0] == "echo":
            data = (" ".join(seg[1:]) + "\n").encode()
            continue
        if seg[0] != "callassist":
            require(shutil.which(seg[0]) is not None, f"{seg[0]} is not installed")
            done = subprocess.run(seg, input=data, capture_output=True, cwd=home, timeout=300)
            assert done.returncode == 0, done.stderr.decode(errors="replace")
            data = done.stdout
            continue
        res = CliRunner(env=env).invoke(cli, seg[1:], input=data, catch_exceptions=False)
        code, output, data = res.exit_code, res.output, res.stdout_bytes
    return code, output


@pytest.mark.parametrize("name,line", [pytest.param(n, line, marks=_marks(line), id=line[:90]) for n, line in EXAMPLES])
def test_help_example_runs(name, line, sandbox, monkeypatch):
    home, env = sandbox
    monkeypatch.chdir(home)
    if "--source mic" in line:
        from assistant.audio import microphone
        from assistant.testing import FakeSoundDevice, tone

        device = [{"name": "Headset Mic", "max_input_channels": 1, "default_samplerate": 16000.0}]
        monkeypatch.setattr(microphone, "load_backend", lambda: FakeSoundDevice(device, {0: (tone(300, 16000, 2.0), 16000)}))
    if name == "archive verify-bundle" and not (home / "evidence.zip").exists():
        _run_pipeline("callassist archive export zh-threats_and_insults --out evidence.zip --redact", home, env)
    if name in ("archive unhold", "archive show", "archive review", "archive verify", "archive search", "archive export", "archive hold"):
        if not (home / "archive.db").exists():
            _run_pipeline("callassist archive import recordings_fixtures/zh/threats_and_insults.jsonl --audio recordings_fixtures/zh/threats_and_insults.wav", home, env)
    if name == "archive unhold":
        _run_pipeline('callassist archive hold zh-threats_and_insults --reason "set up"', home, env)
    code, output = _run_pipeline(line, home, env)
    assert code == 0, output[-3000:]
    assert "Traceback" not in output and "Error:" not in output
