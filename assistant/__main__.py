"""``python -m assistant`` and the ``callassist`` console script.

The CLI is imported inside :func:`run`, so a Ctrl-C while it loads is a quiet exit 130
rather than a traceback. (A Ctrl-C in the first ~50 ms, while Python itself starts and
before this package's few milliseconds of ``__init__``, is the interpreter's to handle.)
"""
from __future__ import annotations

import sys


def run() -> None:
    """Entry point: import the CLI and run it; Ctrl-C at any moment exits quietly with 130."""
    try:
        from assistant.cli import main
    except KeyboardInterrupt:
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
