"""Files: the small YAML files users hand us (case files, scenarios), and file digests."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable
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


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in blocks (``algorithm``: sha256, md5 …)."""
    h = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(paths: Iterable[Path]) -> str:
    """SHA-256 over the names and contents of files (missing ones are skipped): what a result was made from."""
    h = hashlib.sha256()
    for path in paths:
        if path.is_file():
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()
