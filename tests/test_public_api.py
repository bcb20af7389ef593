"""The public API (httpx's habit): a tested ``__all__``, every name importable and
documented, internal modules marked private, type information shipped."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import assistant

PACKAGES = ["assistant", "assistant.archive", "assistant.asr", "assistant.audio", "assistant.pipeline", "assistant.suggest", "assistant.text",
            "assistant.testing"]


def test_the_top_level_all_is_exactly_what_the_package_offers():
    assert assistant.__all__ == sorted(assistant.__all__)
    assert len(assistant.__all__) == len(set(assistant.__all__))
    for name in assistant.__all__:
        assert name in dir(assistant)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_imports_and_is_documented(package):
    module = importlib.import_module(package)
    assert module.__doc__, f"{package} has no docstring"
    for name in module.__all__:
        value = getattr(module, name)
        if callable(value):
            assert getattr(value, "__doc__", None), f"{package}.{name} has no docstring"


def test_star_import_gives_the_public_names_only():
    namespace: dict = {}
    exec("from assistant import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(assistant.__all__)


def test_importing_the_package_loads_no_heavy_library():
    code = "import sys, assistant; assistant.Finding; print(sorted(m for m in ('spacy', 'numpy', 'vosk', 'sqlite_utils') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_internal_modules_are_private_and_type_information_ships():
    root = Path(assistant.__file__).parent
    assert (root / "py.typed").exists()
    for name in ("_lazy", "_values", "_screen", "_jsonl", "_cli_common"):
        assert (root / f"{name}.py").exists()
    assert not any(name in assistant.__all__ for name in ("lazy_getattr",))
    pyproject = (root.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"py.typed"' in pyproject
