"""One call, from audio to findings, stage and suggestions: the only place that wires a call.

``CallPipeline.feed(event) -> list[event]`` is synchronous. It takes an
:class:`AudioChunk` (with recognisers), a :class:`Partial` or an :class:`Utterance`, and
returns what followed, in order, after handing each to the call's sinks:

- a partial runs the rule layer only: a new alert is *provisional*;
- a final runs every checker (rules and meaning); the provisional alerts of that speaker
  are confirmed (a final finding of the same category) or :class:`Withdrawn`;
- a final the recogniser was unsure of (low confidence, or not in the call's language)
  never raises a critical alert: its findings are marked ``low_confidence`` and capped at
  ``minor``, and a :class:`LowConfidence` event says "check the recording";
- then the stage tracker and the suggester.

Threads and queues live at the edges (:mod:`assistant.pipeline.live`), never here.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from assistant.asr.segmenter import Segmenter
from assistant.asr.stream import flush
from assistant.errors import CallassistError, PipelineInputError, SpeechEngineError
from assistant.events import (
    AudioChunk,
    CallEnded,
    CallStarted,
    Finding,
    LowConfidence,
    Partial,
    StageChanged,
    Suggestion,
    SuggestionUsed,
    Utterance,
    Withdrawn,
    Word,
)
from assistant.pipeline.registry import CallChecker, CallContext, Sink, registry
from assistant.text import language_share

MIN_CONF = 0.6  # mean word confidence under which an utterance is "low confidence"
MIN_SHARE = 0.5  # share of the text in the call's script under which it is "not the call's language"
DEFAULT_CHECKERS = ("utterance", "call")


def word_times(text: str, words: Sequence[Word], start: int, end: int) -> tuple[float, float] | None:
    """Audio times of the characters ``start:end`` of ``text`` from its words (found in order;
    Chinese words are joined without spaces). None when the words cannot be placed."""
    pos = 0
    first = last = None
    for w in words:
        at = text.find(w.w, pos)
        if at < 0:
            return None
        stop = at + len(w.w)
        if stop > start and at < end:
            first = w.start if first is None else first
            last = w.end
        pos = stop
    return (first, last) if first is not None and last is not None else None


def _capped(f: Finding, unsure: str) -> Finding:
    """A finding heard on (or opened by) an utterance the recogniser was unsure of: never
    above ``minor``, marked with why (its heard severity kept)."""
    return replace(f, severity="minor" if f.severity in ("critical", "major") else f.severity,
                   extra={**f.extra, "low_confidence": unsure, "heard_severity": f.severity})


def _recognise(call: Any, *args: Any) -> list[Any]:
    """A recogniser call; its failure becomes a SpeechEngineError naming it."""
    try:
        return list(call(*args))
    except CallassistError:
        raise
    except Exception as exc:
        raise SpeechEngineError(f"the speech recogniser failed: {type(exc).__name__}: {exc}") from exc


@dataclass
class Turn:
    """The events one final utterance produced (``CallPipeline.turns``, for callers that
    think in turns)."""

    utterance: Utterance
    findings: list[Finding] = field(default_factory=list)
    stage: list[StageChanged] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    withdrawn: list[Withdrawn] = field(default_factory=list)
    low_confidence: LowConfidence | None = None


class CallPipeline:
    """Everything between the audio and the screens for one call.

    ``lang`` is the call's language (it wins over per-line detection). ``recognizers``
    (speaker → Recognizer) are needed only to feed :class:`AudioChunk` events.
    ``checkers`` are registry names; ``suggest=False`` skips the stage tracker's
    suggestions (an import of a past call shows nobody anything). ``sinks`` receive every
    event. ``meta`` travels in :class:`CallStarted` (the archive sink records it).
    ``contact`` are the contact rules the call breaks (:mod:`assistant.rules.contact`, checked
    by the driver when the call starts): they follow CallStarted, and the views show them as a banner.
    """

    def __init__(self, call_id: str, lang: str, *, case: Mapping[str, Any] | None = None, checker: Any = None,
                 recognizers: Mapping[str, Any] | None = None, checkers: Sequence[str] = DEFAULT_CHECKERS,
                 sinks: Sequence[Sink] = (), suggest: bool = True, lines: Sequence[Any] | None = None, stage_rules: Any = None,
                 meta: Mapping[str, Any] | None = None, min_conf: float = MIN_CONF, top: int = 3, contact: Sequence[Finding] = ()) -> None:
        from assistant.stages import StageTracker

        self.call_id = call_id
        self.lang = lang
        self.case = dict(case or {})
        if checker is None and checkers:
            from assistant.checker import Checker  # (imports spaCy: not for a pipeline without checkers)

            checker = Checker(lang)
        self.checker = checker
        self.meta = dict(meta or {})
        self.contact = [replace(f, call_id=call_id) for f in contact]
        self.recognizers = dict(recognizers or {})
        self.segmenter = Segmenter(call_id)
        self.sinks = list(sinks)
        self.min_conf = min_conf
        ctx = CallContext(call_id, lang, self.case, self.checker, self.meta)
        self.checkers: list[CallChecker] = registry.make_checkers(checkers, ctx)
        self.tracker = StageTracker(call_id, lang, stage_rules)
        self.suggester = None
        if suggest:
            from assistant.suggest.library import load_library
            from assistant.suggest.suggester import Suggester

            days = self.case.get("days_overdue")
            self.suggester = Suggester(call_id, lines if lines is not None else load_library(lang)[0], self.case,
                                       int(days) if days is not None else None, top)
        self.turns: list[Turn] = []
        self._unsure: dict[int, str] = {}  # utterance seq → why the recogniser's result cannot be trusted
        self.shown: list[Suggestion] = []  # the suggestions on screen now
        self._provisional: dict[str, dict[str, Finding]] = {}  # speaker → category → provisional alert shown
        self.started = False
        self.ended: CallEnded | None = None
        self.check_partials = True  # the live runner turns this off while it is behind

    @property
    def stage(self) -> str:
        """The call's current stage."""
        return self.tracker.stage

    def _emit(self, events: list[Any]) -> list[Any]:
        for event in events:
            for sink in self.sinks:
                sink.handle(event)
        return events

    def start(self) -> list[Any]:
        """The :class:`CallStarted` event (sent once, before anything else)."""
        if self.started:
            return []
        self.started = True
        return self._emit([CallStarted(self.call_id, self.lang, dict(self.meta, case=self.case)), *self.contact])

    def feed(self, event: AudioChunk | Partial | Utterance) -> list[Any]:
        """Process one event; return (and hand to the sinks) the events that followed."""
        out = self.start()
        if isinstance(event, AudioChunk):
            recognizer = self.recognizers.get(event.speaker)
            if recognizer is not None:
                for result in _recognise(recognizer.accept, event):
                    for item in self.segmenter.feed(event.speaker, result):
                        out += self.feed(item)
            return out
        if isinstance(event, Partial):
            return out + self._emit(self._partial(event))
        if isinstance(event, Utterance):
            return out + self._emit(self._final(event))
        raise PipelineInputError(f"a call pipeline takes AudioChunk, Partial or Utterance events, not {type(event).__name__}")

    def _locate(self, f: Finding, text: str, words: Sequence[Word], start: float, end: float, seq: int, speaker: str) -> Finding:
        times = word_times(text, words, f.start, f.end) if words else None
        a, b = times or (start, end)
        return replace(f, call_id=self.call_id, seq=seq, speaker=speaker, audio_start=round(a, 3), audio_end=round(b, 3))

    def _partial(self, event: Partial) -> list[Any]:
        if not self.check_partials or language_share(event.text, self.lang) < MIN_SHARE:
            return [event]  # not the call's language: nothing provisional to raise
        shown = self._provisional.setdefault(event.speaker, {})
        out: list[Any] = [event]
        for checker in self.checkers:
            for f in checker.partial(event):
                if f.category in shown:
                    continue
                f = self._locate(replace(f, provisional=True), event.text, event.words, event.start, event.end or event.start, 0, event.speaker)
                shown[f.category] = f
                out.append(f)
        return out

    def low_confidence(self, utt: Utterance) -> str:
        """Why ``utt`` cannot be trusted ("" when it can)."""
        share = language_share(utt.text, self.lang)
        if share < MIN_SHARE:
            return f"only {share:.0%} of it reads as {'Chinese' if self.lang == 'zh' else 'English'}"
        if utt.words and utt.conf < self.min_conf:
            return f"recogniser confidence {utt.conf:.2f}"
        return ""

    def _final(self, utt: Utterance) -> list[Any]:
        findings: list[Finding] = []
        for checker in self.checkers:
            findings += [self._locate(f, utt.text, utt.words, utt.start, utt.end, utt.seq, utt.speaker) for f in checker.final(utt)]
        unsure = self.low_confidence(utt)
        low = None
        if unsure:
            low = LowConfidence(self.call_id, utt.seq, utt.speaker, unsure)
            self._unsure[utt.seq] = unsure
            findings = [_capped(f, unsure) for f in findings]
        line_findings = list(findings)
        for checker in self.checkers:
            turn = getattr(checker, "turn", None)
            if turn is not None:
                for f in turn(utt, line_findings):
                    f = self._locate(f, utt.text, utt.words, utt.start, utt.end, utt.seq, utt.speaker)
                    why = unsure or self._unsure.get(f.extra.get("opened_by") or -1, "")
                    findings.append(_capped(f, why) if why else f)
        confirmed = {f.category for f in findings}
        withdrawn = [Withdrawn(self.call_id, p) for cat, p in self._provisional.pop(utt.speaker, {}).items() if cat not in confirmed]
        stage = self.tracker.feed(utt, findings)
        suggestions: list[Suggestion] = []
        if self.suggester is not None:
            suggestions = self.suggester.feed(utt, findings, self.tracker.stage, self.tracker.by_agent)
            self.shown = suggestions
        turn = Turn(utt, findings, stage, suggestions, withdrawn, low)
        self.turns.append(turn)
        return [utt, *findings, *withdrawn, *([low] if low else []), *stage, *suggestions]

    def use(self, index: int) -> list[Any]:
        """The agent used suggestion ``index`` (1-based) of those on screen: recorded as used,
        never offered again. Returns the :class:`SuggestionUsed` event (none when out of range)."""
        if not (1 <= index <= len(self.shown)) or self.suggester is None:
            return []
        chosen = self.shown[index - 1]
        self.suggester.mark_said(chosen.line_id)
        self.shown = [s for s in self.shown if s.line_id != chosen.line_id]
        return self._emit([SuggestionUsed(self.call_id, chosen.seq, chosen.line_id, chosen.text)])

    def call_findings(self) -> list[Finding]:
        """The call checkers' findings at the end of the call (what is still owed), placed on
        the utterance each names (its audio times) or, with none, the call's start."""
        out: list[Finding] = []
        by_seq = {t.utterance.seq: t.utterance for t in self.turns}
        for checker in self.checkers:
            finish = getattr(checker, "finish", None)
            for f in finish() if finish is not None else ():
                utt = by_seq.get(f.seq)
                f = replace(f, call_id=self.call_id, speaker=utt.speaker if utt else "", audio_start=round(utt.start, 3) if utt else None,
                            audio_end=round(utt.end, 3) if utt else None)
                why = self._unsure.get(f.extra.get("opened_by") or -1, "") or self._unsure.get(f.seq, "")
                out.append(_capped(f, why) if why else f)
        return out

    def finish(self, status: str = "sealed", reason: str = "") -> list[Any]:
        """End the call: flush the recognisers (a normal end), then :class:`CallEnded`."""
        if self.ended is not None:
            return []
        out = self.start()
        if status == "sealed":
            for speaker, result in _recognise(flush, self.recognizers):
                for item in self.segmenter.feed(speaker, result):
                    out += self.feed(item)
            out += self._emit(self.call_findings())
        self.ended = CallEnded(self.call_id, status, reason)
        return out + self._emit([self.ended])

    def close(self) -> None:
        """Close every sink (after :meth:`finish`)."""
        for sink in self.sinks:
            sink.close()
