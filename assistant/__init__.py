"""callassist: offline assistant for debt-collection calls.

Public API::

    from assistant import Checker
    Checker(lang="zh").check("不还钱就等着坐牢", speaker="agent")
"""
from assistant.checker import Checker
from assistant.errors import CallassistError
from assistant.events import CUE_CATEGORIES, VIOLATION_CATEGORIES, Finding

__version__ = "0.1.0"
__all__ = ["Checker", "CallassistError", "Finding", "VIOLATION_CATEGORIES", "CUE_CATEGORIES", "__version__"]
