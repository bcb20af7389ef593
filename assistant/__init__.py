"""callassist: offline assistant for debt-collection calls.

Public API::

    from assistant import Checker
    Checker(lang="zh").check("不还钱就等着坐牢", speaker="agent")

Names are imported on first use (PEP 562), so ``import assistant`` and ``callassist --help``
stay fast: the checker's spaCy and meaning-model imports happen only when a checker is built.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.lazy import lazy_getattr

__version__ = "0.1.0"
__all__ = ["Checker", "CallassistError", "Finding", "VIOLATION_CATEGORIES", "CUE_CATEGORIES", "__version__"]

_LAZY = {
    "Checker": "assistant.checker",
    "CallassistError": "assistant.errors",
    "Finding": "assistant.events",
    "VIOLATION_CATEGORIES": "assistant.events",
    "CUE_CATEGORIES": "assistant.events",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from assistant.checker import Checker
    from assistant.constants import CUE_CATEGORIES, VIOLATION_CATEGORIES
    from assistant.errors import CallassistError
    from assistant.events import Finding


__getattr__ = lazy_getattr("assistant", _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
