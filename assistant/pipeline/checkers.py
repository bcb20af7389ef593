"""Built-in call checkers, registered like plugins."""
from __future__ import annotations

from typing import Sequence

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


class CallRulesChecker:
    """The call-level rules (:mod:`assistant.rules.call_rules`): they judge each final
    utterance with the line findings already made on it (the customer's cues), keep the
    call's state, and at the end raise what is still owed."""

    def __init__(self, ctx: CallContext) -> None:
        from assistant.rules.call_rules import CallRules

        self.rules = CallRules(ctx.lang, ctx.case, ctx.meta)

    def partial(self, event: Partial) -> list[Finding]:
        """Nothing: call rules judge what was finally said."""
        return []

    def final(self, utterance: Utterance) -> list[Finding]:
        """Nothing before the line findings are known (see :meth:`turn`)."""
        return []

    def turn(self, utterance: Utterance, findings: Sequence[Finding]) -> list[Finding]:
        """The call rules on a final utterance, after the line checkers."""
        return self.rules.turn(utterance, findings)

    def finish(self) -> list[Finding]:
        """What is still owed when the call ends."""
        return self.rules.finish()


@registry.checker("call")
def call_rules_checker(ctx: CallContext) -> CallRulesChecker:
    """What must be said in a call, and what must follow a customer's cue."""
    return CallRulesChecker(ctx)
