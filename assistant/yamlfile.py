"""Reading the small YAML files users hand us (case files, scenarios)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assistant.errors import CallassistError


def load_mapping(path: str | Path, what: str, error: type[CallassistError] = CallassistError) -> dict[str, Any]:
    """A YAML file that must hold a mapping; ``error`` (naming ``what``) otherwise."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"cannot read the {what} {p}: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{p}: a {what} is a mapping of name: value")
    return data
