"""spaCy is imported without its command line on the start-up path, and stays whole."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_rule_engine_does_not_load_spacys_command_line() -> None:
    out = run(
        """
        import sys
        import assistant.rules.engine
        print(sorted(m for m in ("spacy.cli", "spacy.cli.info", "typer", "weasel", "requests") if m in sys.modules))
        """
    )
    assert out == "[]"


def test_spacy_stays_whole_after_the_deferred_import() -> None:
    out = run(
        """
        import assistant.rules.engine
        import spacy
        from spacy.cli import download
        import spacy.cli.info
        print(callable(download), "spacy_version" in spacy.info(), spacy.blank("zh").lang)
        """
    )
    assert out == "True True zh"


def test_a_spacy_imported_before_is_left_alone() -> None:
    out = run(
        """
        import sys
        import spacy
        cli = sys.modules["spacy.cli"]
        from assistant import _spacy
        print(_spacy.load() is spacy, sys.modules["spacy.cli"] is cli)
        """
    )
    assert out == "True True"
