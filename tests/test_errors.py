"""One error registry: every error and warning coded, defined in assistant/errors.py,
drawn in its docstring; no bare built-in exception raised by the library."""
from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

import assistant
from assistant import errors
from assistant.errors import CallassistError, CallassistWarning

LIBRARY = Path(assistant.__file__).parent
BUILTIN_ERRORS = {"Exception", "ValueError", "KeyError", "TypeError", "RuntimeError", "IndexError", "AttributeError", "OSError", "LookupError"}
# where raising a built-in is right
ALLOWED = {
    "testing.py": "the fake sound device raises what the sounddevice module raises",
    "_lazy.py": "a module's __getattr__ must raise AttributeError (Python's import protocol)",
}


def _all_classes(base: type) -> list[Any]:
    for info in pkgutil.walk_packages(assistant.__path__, "assistant."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    found: list[Any] = []
    todo: list[Any] = [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("assistant"):
                found.append(sub)
            todo.append(sub)
    return found


def test_every_error_and_warning_is_in_the_registry_with_a_unique_code():
    classes: list[Any] = [CallassistError, *_all_classes(CallassistError), CallassistWarning, *_all_classes(CallassistWarning)]
    codes: dict[str, str] = {}
    for cls in classes:
        assert cls.__module__ == "assistant.errors", f"{cls.__name__} is defined in {cls.__module__}, not in the registry"
        assert re.fullmatch(r"[EW]\d{3}", cls.code), cls
        assert cls.code not in codes, f"{cls.__name__} and {codes[cls.code]} share {cls.code}"
        codes[cls.code] = cls.__name__
        assert re.search(rf"\b{cls.__name__}\b.*\b{cls.code}\b", errors.__doc__ or ""), f"{cls.__name__} ({cls.code}) is not drawn in the registry docstring"
        assert cls.__doc__, f"{cls.__name__} has no docstring"
    drawn = set(re.findall(r"\b([EW]\d{3})\b", errors.__doc__ or ""))
    assert drawn == set(codes), f"the docstring draws codes with no class: {drawn - set(codes)}"


def test_the_library_raises_no_bare_builtin_exception():
    offenders = []
    for path in sorted(LIBRARY.rglob("*.py")):
        if path.name in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(target, ast.Name) and target.id in BUILTIN_ERRORS:
                    offenders.append(f"{path.relative_to(LIBRARY)}:{node.lineno}: raise {target.id}")
    assert not offenders, "raise a coded error from assistant.errors instead:\n" + "\n".join(offenders)


def test_coded_errors_still_behave_like_the_builtins_callers_catch():
    from assistant.checker import Checker
    from assistant.errors import UnknownRuleError, UnknownSpeakerError

    checker = Checker("zh", meaning=False)
    with pytest.raises(ValueError, match=r"\[E006\]"):
        checker.check("你好", "caller")
    with pytest.raises(KeyError) as info:
        checker.lexicon("zh").rule("zh.no.such.rule")
    assert isinstance(info.value, UnknownRuleError) and str(info.value).startswith("[E007] no rule")
    assert issubclass(UnknownSpeakerError, CallassistError)


def test_a_missing_lexicon_folder_says_so_instead_of_blaming_the_rules(tmp_path, monkeypatch):
    from assistant.errors import LexiconMissingError
    from assistant.rules.loader import load_lexicon

    with pytest.raises(LexiconMissingError, match=r"\[E008\] no lexicon folder .*CALLASSIST_LEXICONS") as info:
        load_lexicon("zh", tmp_path)
    assert "rules lint" not in str(info.value)


def test_a_stale_meaning_model_warns_with_its_code(tmp_path):
    import shutil

    from assistant.rules import meaning
    from assistant.rules.loader import lexicon_root

    copy = tmp_path / "lexicons"
    shutil.copytree(lexicon_root(), copy)
    extra = copy / "zh" / "training" / "zz_extra.jsonl"
    extra.write_text('{"text": "新加的一句训练数据", "speaker": "agent", "labels": []}\n', encoding="utf-8")
    meaning._checked_models.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meaning._checked_models(str(copy), 0)
    coded = [w for w in caught if issubclass(w.category, CallassistWarning)]
    assert coded and str(coded[0].message).startswith("[W001]") and "callassist rules train" in str(coded[0].message)
