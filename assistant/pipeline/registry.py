"""Where call checkers and sinks are registered: built-ins the same way as plugins.

A checker factory takes a :class:`CallContext` and returns an object with
``partial(event) -> list[Finding]`` and ``final(utterance) -> list[Finding]``. A checker
that judges the call rather than the line may also have ``turn(utterance, findings)``
(called after every checker's ``final``, with the findings made on that utterance) and
``finish()`` (called when the call ends, for what is still owed); both return findings. A sink
factory takes keyword options and returns an object with ``handle(event)`` and ``close()``.
A plugin is a module named in the ``callassist.plugins`` entry-point group that registers
its own with the decorators below::

    from assistant.pipeline import registry

    @registry.sink("webhook")
    def webhook_sink(url: str): ...
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping, Protocol, Sequence

from assistant.errors import RegistryError
from assistant.events import Finding, Partial, Utterance

BUILTINS = ("assistant.pipeline.checkers", "assistant.pipeline.sinks", "assistant.views.terminal", "assistant.views.web")
PLUGIN_GROUP = "callassist.plugins"


@dataclass
class CallContext:
    """What a checker may know about its call."""

    call_id: str
    lang: str
    case: Mapping[str, Any] = field(default_factory=dict)
    checker: Any = None  # the shared assistant.checker.Checker
    meta: Mapping[str, Any] = field(default_factory=dict)


class CallChecker(Protocol):
    """Judges the utterances of one call."""

    def partial(self, event: Partial) -> list[Finding]:
        """Findings on a partial hypothesis (fast: it runs many times a second)."""
        ...

    def final(self, utterance: Utterance) -> list[Finding]:
        """Findings on a final utterance."""
        ...


class Sink(Protocol):
    """Receives every event of a call, in order."""

    def handle(self, event: Any) -> None:
        """Take one event."""
        ...

    def close(self) -> None:
        """The call is over (after its CallEnded): flush and release."""
        ...


@dataclass
class Registry:
    """Named checker and sink factories."""

    checkers: dict[str, Callable[[CallContext], CallChecker]] = field(default_factory=dict)
    sinks: dict[str, Callable[..., Sink]] = field(default_factory=dict)
    _loaded: bool = False

    def checker(self, name: str) -> Callable[[Callable[[CallContext], CallChecker]], Callable[[CallContext], CallChecker]]:
        """Decorator: register a checker factory under ``name``."""
        def add(factory: Callable[[CallContext], CallChecker]) -> Callable[[CallContext], CallChecker]:
            self.checkers[name] = factory
            return factory
        return add

    def sink(self, name: str) -> Callable[[Callable[..., Sink]], Callable[..., Sink]]:
        """Decorator: register a sink factory under ``name``."""
        def add(factory: Callable[..., Sink]) -> Callable[..., Sink]:
            self.sinks[name] = factory
            return factory
        return add

    def load(self) -> None:
        """Import the built-ins, then every installed plugin (once)."""
        if self._loaded:
            return
        self._loaded = True
        for module in BUILTINS:
            importlib.import_module(module)
        for ep in entry_points(group=PLUGIN_GROUP):
            try:
                ep.load()
            except Exception as exc:  # a broken plugin must not take the call down: name it
                raise RegistryError(f"plugin {ep.name!r} ({ep.value}) cannot be loaded: {type(exc).__name__}: {exc}") from exc

    def make_checkers(self, names: Sequence[str], ctx: CallContext) -> list[CallChecker]:
        """Build the named checkers for one call."""
        self.load()
        unknown = [n for n in names if n not in self.checkers]
        if unknown:
            raise RegistryError(f"unknown checker(s) {', '.join(unknown)}: known are {', '.join(sorted(self.checkers))}")
        return [self.checkers[n](ctx) for n in names]

    def make_sink(self, name: str, **options: Any) -> Sink:
        """Build the named sink."""
        self.load()
        if name not in self.sinks:
            raise RegistryError(f"unknown sink {name!r}: known are {', '.join(sorted(self.sinks))}")
        return self.sinks[name](**options)


registry = Registry()
