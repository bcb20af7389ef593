"""Built-in call checkers, registered like plugins."""
from __future__ import annotations

from assistant.events import Finding, Partial, Utterance
from assistant.pipeline.registry import CallContext, registry


class UtteranceChecker:
    """The rule layer on partials; rules and the meaning layer on finals (the checker of
    :mod:`assistant.checker`, in the call's language)."""

    def __init__(self, ctx: CallContext) -> None:
        self.checker = ctx.checker
        self.lang = ctx.lang

    def partial(self, event: Partial) -> list[Finding]:
        """Provisional rule findings on a partial hypothesis."""
        found: list[Finding] = self.checker.check(event.text, event.speaker, lang=self.lang, final=False)
        return found

    def final(self, utterance: Utterance) -> list[Finding]:
        """Every finding on a final utterance."""
        found: list[Finding] = self.checker.check(utterance.text, utterance.speaker, lang=self.lang)
        return found


@registry.checker("utterance")
def utterance_checker(ctx: CallContext) -> UtteranceChecker:
    """Rules and meaning, one utterance at a time."""
    return UtteranceChecker(ctx)
