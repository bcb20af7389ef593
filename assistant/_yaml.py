"""The one YAML reader for data files (lexicons, the script library, stage rules, scenarios):
safe loading (libyaml when present), problems as ``file:line: message``, and JSON Schema
validation that points at the line of the offending value."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: several times faster


class LineLocator:
    """Finds the line of a value inside a YAML document from its path (the document is
    composed only when a problem needs its line: loading good files stays fast)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._root: Any = False

    @property
    def root(self) -> Any:
        if self._root is False:
            try:
                self._root = yaml.compose(self.text, Loader=_SafeLoader)
            except yaml.YAMLError:
                self._root = None
        return self._root

    def line(self, path: list[Any]) -> int:
        node = self.root
        line = node.start_mark.line + 1 if node is not None else 1
        for key in path:
            if isinstance(node, yaml.MappingNode):
                nxt = next((v for k, v in node.value if k.value == key), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                nxt = node.value[key]
            else:
                nxt = None
            if nxt is None:
                break
            node = nxt
            line = node.start_mark.line + 1
        return line


def read_yaml(path: Path) -> tuple[Any, LineLocator | None, list[str]]:
    """A YAML file's data, a locator for its lines, and its problems (``file:line: message``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, None, [f"{path}:1: not UTF-8 ({exc.reason} at byte {exc.start})"]
    except OSError as exc:
        return None, None, [f"{path}:1: cannot read: {exc.strerror}"]
    try:
        data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        return None, None, [f"{path}:{line}: YAML syntax error: {getattr(exc, 'problem', exc)}"]
    return data, LineLocator(text), []


def schema_errors(data: Any, schema: dict[str, Any]) -> list[tuple[list[Any], str]]:
    """Every way ``data`` breaks a JSON Schema, as ``(path to the value, message)``."""
    import jsonschema  # 80 ms of start-up; a cached lexicon needs no validation

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [(list(err.absolute_path), err.message) for err in errors]


def schema_problems(path: Path, data: Any, schema: dict[str, Any], loc: LineLocator) -> list[str]:
    """Every way ``data`` breaks a JSON Schema, as ``file:line: where: message``."""
    return [f"{path}:{loc.line(at)}: {'.'.join(map(str, at)) or '(top level)'}: {message}" for at, message in schema_errors(data, schema)]


def read_checked(path: Path, schema: dict[str, Any]) -> tuple[Any, LineLocator | None, list[str]]:
    """A YAML file read and checked against a JSON Schema: ``(data, locator, problems)``."""
    data, loc, problems = read_yaml(path)
    if loc is not None:
        problems = schema_problems(path, data, schema, loc)
    return data, loc, problems
