"""spaCy without its command-line interface, for start-up time.

``import spacy`` runs ``from .cli.info import info``, which executes ``spacy/cli/__init__.py``
and with it every spaCy sub-command and their imports (typer, weasel, requests, …): about
0.4 s of the 1.2 s the import takes, on every ``callassist check`` start, for nothing the
rule engine uses. :func:`load` imports spaCy with ``spacy.cli`` and ``spacy.cli.info``
stood in for while ``spacy/__init__.py`` runs, then takes the stand-ins out of
``sys.modules`` again, so that a later ``import spacy.cli`` (by anyone) loads the real
package as usual. ``spacy.info`` stays a function that imports the real one when called.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import types
from typing import Any

_lock = threading.Lock()


def _deferred_info(*args: Any, **kwargs: Any) -> Any:
    """spaCy's ``info()``, imported on first use."""
    from spacy.cli.info import info

    return info(*args, **kwargs)


def load() -> types.ModuleType:
    """The ``spacy`` module, imported without ``spacy.cli`` when it was not imported yet."""
    with _lock:
        if "spacy" in sys.modules or "spacy.cli" in sys.modules:
            import spacy

            return spacy
        spec = importlib.util.find_spec("spacy")
        if spec is None or spec.origin is None:
            import spacy  # raises ModuleNotFoundError with Python's own message

            return spacy
        cli = types.ModuleType("spacy.cli", "stand-in while spacy/__init__.py runs (assistant._spacy)")
        cli.__path__ = [os.path.join(os.path.dirname(spec.origin), "cli")]
        info = types.ModuleType("spacy.cli.info", cli.__doc__)
        info.__dict__["info"] = _deferred_info
        sys.modules["spacy.cli"] = cli
        sys.modules["spacy.cli.info"] = info
        try:
            import spacy
        finally:
            for name, stand_in in (("spacy.cli.info", info), ("spacy.cli", cli)):
                if sys.modules.get(name) is stand_in:
                    del sys.modules[name]
        if getattr(spacy, "cli", None) is cli:
            delattr(spacy, "cli")
        return spacy
