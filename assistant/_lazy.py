"""Names a package re-exports but imports only on first use (PEP 562), so that importing
the package, or ``callassist --help``, does not load spaCy, numpy or Vosk."""
from __future__ import annotations

from importlib import import_module
from typing import Any, Callable


def lazy_getattr(package: str, names: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` (a module path) on first access
    and keeps the value in the package's ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
