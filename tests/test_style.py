"""Style and likely bugs: `ruff check` (configured in pyproject.toml) over the library, the
tests and the benches must be clean."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import require

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff")
    require(ruff is not None, "ruff is not installed (the [dev] extra)")
    done = subprocess.run([str(ruff), "check", "assistant", "tests", "bench"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
