"""The wheel works on its own: lexicons, meaning model and script library are inside it, so a
`pip install .` into a fresh virtual environment checks a line from any directory."""
from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"), str(ROOT)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((tmp / "dist").glob("callassist-*.whl"))
    env_dir = tmp / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)  # dependencies come from this interpreter
    python = env_dir / "bin" / "python"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    return env_dir


def outside(tmp_path: Path, env_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(env_dir / "bin" / args[0]), *args[1:]], input=stdin, capture_output=True, text=True, cwd=tmp_path, timeout=300)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    where = outside(tmp_path, installed, "python", "-c", "import assistant; print(assistant.__file__)")
    assert where.returncode == 0, where.stderr
    assert str(installed) in where.stdout and str(ROOT) not in where.stdout


def test_check_from_another_directory_finds_the_threat(installed, tmp_path):
    line = json.dumps({"speaker": "agent", "text": "你今天不还钱，明天就派人去你单位闹"}, ensure_ascii=False) + "\n"
    result = outside(tmp_path, installed, "callassist", "check", "-", stdin=line)
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert {f["category"] for f in findings} & {"threat_violence", "third_party_disclosure", "harassment"}
    lib = outside(tmp_path, installed, "python", "-c", "from assistant import Checker; print(len(Checker('zh').check('不还钱就等着坐牢', speaker='agent')))")
    assert lib.returncode == 0 and int(lib.stdout) >= 1, lib.stderr


def test_the_script_library_and_pii_patterns_ship_too(installed, tmp_path):
    listing = outside(tmp_path, installed, "callassist", "scripts", "list", "--lang", "en", "--cue", "hardship")
    assert listing.returncode == 0 and listing.stdout.count("en.") >= 2, listing.stderr
    masked = outside(tmp_path, installed, "python", "-c", "from assistant.archive.redact import Redactor; print(Redactor().mask('电话13800138000'))")
    assert masked.stdout.strip() == "电话[PHONE]", masked.stderr


def test_the_demo_runs_from_the_installed_wheel(installed, tmp_path, monkeypatch):
    """The demo call, its case, the live views' labels and page ship in the wheel."""
    archive = tmp_path / "demo.db"
    monkeypatch.setenv("CALLASSIST_ARCHIVE", str(archive))
    result = outside(tmp_path, installed, "callassist", "demo", "--speed", "0", "--view", "log")
    assert result.returncode == 0, result.stderr
    assert "以抓人/坐牢相威胁" in result.stdout and "通话结束: 已封存" in result.stdout
    assert archive.exists()
    page = subprocess.run([str(installed / "bin" / "python"), "-c", "import assistant.views.web as w; print(w.PAGE.read_text()[:15])"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert page.returncode == 0 and "<!doctype html>" in page.stdout, page.stderr


def test_the_qa_workflow_and_the_ingest_server_ship_too(installed, tmp_path):
    """Scorecards, report and review-app templates, the app's script and style, the ingest package."""
    archive = tmp_path / "qa.db"
    audited = outside(tmp_path, installed, "callassist", "audit", "--transcripts-only", "--workers", "1", "--archive", str(archive),
                      str(ROOT / "recordings_fixtures" / "zh"))
    assert audited.returncode == 0 and "zh-default v1" in audited.stdout, audited.stderr
    report = outside(tmp_path, installed, "callassist", "report", "--archive", str(archive), "--out", str(tmp_path / "r"))
    assert report.returncode == 0 and (tmp_path / "r" / "index.html").read_text(encoding="utf-8").count("<svg") >= 4, report.stderr
    probe = ("from assistant.views import review_app as r; import assistant.ingest.server; "
             "print((r.TEMPLATES / 'call.html').is_file() and (r.STATIC / 'review.js').is_file() and (r.STATIC / 'review.css').is_file())")
    app = outside(tmp_path, installed, "python", "-c", probe)
    assert app.returncode == 0 and app.stdout.strip() == "True", app.stderr
