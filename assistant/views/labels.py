"""The words the collector's screens use, in the call's language (``data/labels.yaml``)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from assistant._screen import safe
from assistant.events import Finding

LABELS = Path(__file__).parent / "data" / "labels.yaml"


class Labels:
    """Labels of one language; unknown names fall back to the name itself."""

    def __init__(self, lang: str, data: dict[str, Any]) -> None:
        self.lang = lang
        self.data = data

    def __getitem__(self, key: str) -> str:
        return str(self.data["text"].get(key, key))

    def _get(self, group: str, name: str) -> str:
        return str(self.data.get(group, {}).get(name, name))

    def category(self, name: str) -> str:
        """A finding category in plain words."""
        return self._get("category", name)

    def severity(self, name: str) -> str:
        """A severity in plain words."""
        return self._get("severity", name)

    def stage(self, name: str) -> str:
        """A call stage in plain words."""
        return self._get("stage", name)

    def state(self, name: str) -> str:
        """A review state or decision in plain words."""
        return self._get("state", name)

    @property
    def qa(self) -> dict[str, str]:
        """The words of the QA reports and the review app."""
        return dict(self.data.get("qa", {}))

    def speaker(self, name: str) -> str:
        """agent / customer."""
        return self._get("speaker", name)

    def status(self, name: str) -> str:
        """A call's end status."""
        return self._get("status", name)

    def alert_line(self, f: Finding, verbose: bool = False) -> str:
        """One alert in plain words: severity, category, what was said, what to say instead."""
        line = f"! {self.severity(f.severity)} {self.category(f.category)}: «{safe(f.matched)}»"
        if f.provisional:
            line += f" ({self['provisional']})"
        if f.low_confidence:
            line += f" — {self['low_confidence']}"
        if f.suggestion and f.kind == "violation":
            line += f" — {self['say_instead']}: {safe(f.suggestion)}"
        if verbose:
            line += f"  [{f.rule_id} {f.start}:{f.end}]"
        return line


@lru_cache(maxsize=None)
def _all() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    return data


def labels(lang: str) -> Labels:
    """The labels of ``lang`` (English for a language without its own)."""
    data = _all()
    return Labels(lang if lang in data else "en", data.get(lang) or data["en"])
