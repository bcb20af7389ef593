"""QA review of archived findings: one finding id everywhere, each flag's review state.

A finding's id is ``CALL_ID#POS``: the call and the finding's position in that call's hash
chain. ``archive show``, ``archive search``, ``archive review``, the reports and the review
app all print and accept this one id, so a review always lands on the finding the reviewer
looked at.

A flag's state comes from its reviews, read in chain order:

- ``unreviewed``: nobody has decided yet;
- ``asr_review``: nobody has decided yet, and the recogniser was unsure of the words behind
  it (or of its utterance), so a person must listen before it counts against the agent;
- ``confirmed`` / ``dismissed``: the last reviewer's decision;
- ``disputed``: the agent disputed it after the last decision (or before any), and no
  reviewer has answered yet.

Every decision and dispute stays in the chain as history; the state is derived, never stored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from assistant.errors import ArchiveError, FindingIdError

if TYPE_CHECKING:
    from assistant.archive.store import Archive

FLAG_KINDS = ("violation", "missing", "contact")  # what the agent (or the call) did; cues are the customer's words
STATES = ("unreviewed", "asr_review", "disputed", "confirmed", "dismissed")
OPEN_STATES = ("unreviewed", "asr_review", "disputed")  # the review queue
SEVERITY_ORDER = ("critical", "major", "minor", "info")
MIN_WORD_CONF = 0.6  # a word behind a flag recognised with less confidence than this needs a human ear
_ID = re.compile(r"^(?P<call>.+)#(?P<pos>[0-9]{1,9})$")
_LOW_EVENT = re.compile(r"^utterance (?P<seq>[0-9]+) ")


def finding_id(call_id: str, pos: int) -> str:
    """The id of the finding at chain position ``pos`` of call ``call_id``."""
    return f"{call_id}#{pos}"


def parse_finding_id(text: str, pos: int | None = None) -> tuple[str, int]:
    """``(call_id, pos)`` from ``CALL#POS`` (or from ``CALL`` and a separate ``pos``)."""
    if pos is not None and "#" not in text:
        return text, pos
    m = _ID.match(text.strip())
    if not m or pos is not None:
        raise FindingIdError(f"{text!r} is not a finding id: write CALL_ID#POS as `archive show` and `archive search` print it (e.g. zh-threats_and_insults#9)")
    return m.group("call"), int(m.group("pos"))


@dataclass(frozen=True)
class ReviewEntry:
    """One chained review record of a finding."""

    pos: int
    decision: str  # confirm, dismiss or dispute
    reviewer: str
    note: str
    at: str
    agent_dispute: bool


@dataclass
class Flag:
    """An archived finding with the utterance behind it and its review history."""

    call_id: str
    pos: int
    kind: str
    category: str
    severity: str
    rule_id: str
    matched: str
    utterance_seq: int
    span: tuple[int, int]
    agent_id: str = ""
    started_at: str = ""
    speaker: str = ""
    start: float = 0.0
    end: float = 0.0
    text: str = ""
    asr_doubt: str = ""  # why the recogniser's words behind it cannot be trusted ("" when they can)
    history: list[ReviewEntry] = field(default_factory=list)

    @property
    def id(self) -> str:
        """The finding id (``CALL#POS``)."""
        return finding_id(self.call_id, self.pos)

    @property
    def is_flag(self) -> bool:
        """Whether it is something the agent or the call did (not a customer cue)."""
        return self.kind in FLAG_KINDS

    @property
    def decision(self) -> ReviewEntry | None:
        """The last reviewer decision (confirm or dismiss), if any."""
        return next((r for r in reversed(self.history) if r.decision != "dispute"), None)

    @property
    def dispute(self) -> ReviewEntry | None:
        """The agent's dispute still waiting for an answer, if any."""
        last = self.history[-1] if self.history else None
        return last if last is not None and last.decision == "dispute" else None

    @property
    def state(self) -> str:
        """One of :data:`STATES`."""
        if self.dispute is not None:
            return "disputed"
        last = self.decision
        if last is not None:
            return "confirmed" if last.decision == "confirm" else "dismissed"
        return "asr_review" if self.asr_doubt else "unreviewed"

    @property
    def counts(self) -> bool:
        """Whether it counts against the agent in a score: a flag not dismissed, and, when
        the recogniser was unsure of it, only once a reviewer confirmed it."""
        if not self.is_flag:
            return False
        state = self.state
        if state == "dismissed":
            return False
        if self.asr_doubt:
            last = self.decision
            return last is not None and last.decision == "confirm"
        return True


def asr_doubt(text: str, words: Sequence[dict[str, Any]], span: tuple[int, int], min_conf: float = MIN_WORD_CONF) -> str:
    """Why the recognised words covering characters ``span`` of ``text`` are doubtful ("" if
    they are not, or the text has no word confidences: a typed transcript)."""
    start, end = span
    if end <= start:
        return ""  # a call-level finding: no words of its own
    pos = 0
    doubtful = []
    for w in words:
        token = str(w.get("w", ""))
        at = text.find(token, pos) if token else -1
        if at < 0:
            continue
        stop = at + len(token)
        pos = stop
        if stop > start and at < end:
            conf = float(w.get("conf", 1.0))
            if conf < min_conf:
                doubtful.append((token, conf))
    if not doubtful:
        return ""
    worst = min(doubtful, key=lambda item: item[1])
    return f"recogniser confidence {worst[1]:.2f} on «{worst[0]}»"


def _among(column: str, ids: Sequence[str] | None) -> str:
    """An SQL condition keeping rows of these calls (every row when ``ids`` is None)."""
    return f"{column} IN ({', '.join('?' for _ in ids)})" if ids is not None else "1 = 1"


def load_flags(archive: "Archive", call_ids: Iterable[str] | None = None, *, min_conf: float = MIN_WORD_CONF) -> list[Flag]:
    """Every finding of these calls (default: every call), with utterance, doubt and history,
    in call order then chain order."""
    from assistant.archive.store import json_or

    ids = list(call_ids) if call_ids is not None else None
    if ids is not None and not ids:
        return []
    args = ids or []
    rows = archive.conn.execute(
        "SELECT f.call_id, f.pos, f.kind, f.category, f.severity, f.rule_id, f.matched, f.utterance_seq, f.span_start, f.span_end, "
        "c.agent_id, c.started_at, u.speaker, u.start, u.end, u.text, u.words "
        "FROM findings f LEFT JOIN calls c ON c.call_id = f.call_id AND c.pos = 0 "
        "LEFT JOIN utterances u ON u.call_id = f.call_id AND u.seq = f.utterance_seq "
        f"WHERE {_among('f.call_id', ids)} ORDER BY c.started_at, f.call_id, f.pos", args).fetchall()
    reviews: dict[tuple[str, int], list[ReviewEntry]] = {}
    low: dict[str, dict[int, str]] = {}
    for r in archive.conn.execute("SELECT call_id, pos, finding_pos, decision, reviewer, note, at, agent_dispute FROM reviews "
                                  f"WHERE {_among('call_id', ids)} ORDER BY call_id, pos", args):
        reviews.setdefault((r["call_id"], int(r["finding_pos"])), []).append(
            ReviewEntry(int(r["pos"]), str(r["decision"]), str(r["reviewer"] or ""), str(r["note"] or ""), str(r["at"] or ""), bool(r["agent_dispute"])))
    for r in archive.conn.execute(f"SELECT call_id, detail FROM call_events WHERE {_among('call_id', ids)} AND event = 'low_confidence'", args):
        m = _LOW_EVENT.match(str(r["detail"] or ""))
        if m:
            low.setdefault(r["call_id"], {})[int(m.group("seq"))] = str(r["detail"]).split(": ", 1)[-1]
    flags = []
    for r in rows:
        text = str(r["text"] or "")
        words = json_or(r["words"]) if r["words"] else []
        words = words if isinstance(words, list) else []
        span = (int(r["span_start"] or 0), int(r["span_end"] or 0))
        doubt = low.get(r["call_id"], {}).get(int(r["utterance_seq"])) or (asr_doubt(text, words, span, min_conf) if words else "")
        flags.append(Flag(
            call_id=r["call_id"], pos=int(r["pos"]), kind=str(r["kind"]), category=str(r["category"]), severity=str(r["severity"]),
            rule_id=str(r["rule_id"]), matched=str(r["matched"] or ""), utterance_seq=int(r["utterance_seq"]), span=span,
            agent_id=str(r["agent_id"] or ""), started_at=str(r["started_at"] or ""), speaker=str(r["speaker"] or ""),
            start=float(r["start"] or 0.0), end=float(r["end"] or 0.0), text=text, asr_doubt=doubt if r["kind"] in FLAG_KINDS else "",
            history=reviews.get((r["call_id"], int(r["pos"])), [])))
    return flags


def ended_calls(archive: "Archive", call_ids: Iterable[str] | None = None) -> list[tuple[dict[str, Any], list[Flag]]]:
    """The ended calls (sealed or interrupted; default: all of them) with their flags, in the
    archive's call order: what scores, reports and the review app read."""
    wanted = set(call_ids) if call_ids is not None else None
    calls = [c for c in archive.calls() if c["status"] in ("sealed", "interrupted") and (wanted is None or c["call_id"] in wanted)]
    by_call: dict[str, list[Flag]] = {c["call_id"]: [] for c in calls}
    for f in load_flags(archive, list(by_call)):
        by_call[f.call_id].append(f)
    return [(c, by_call[c["call_id"]]) for c in calls]


def get_flag(archive: "Archive", fid: str) -> Flag:
    """One finding by its id; a clear error when there is none."""
    call_id, pos = parse_finding_id(fid)
    for flag in load_flags(archive, [call_id]):
        if flag.pos == pos:
            return flag
    raise FindingIdError(f"no finding {fid} in {archive.path}: `callassist archive show {call_id}` lists the call's finding ids")


def record_review(archive: "Archive", fid: str, decision: str, reviewer: str, note: str = "") -> int:
    """Record a decision (confirm, dismiss) or an agent's dispute of the finding ``fid``.

    A dispute needs a note (what the agent says); answering one (a decision while it is
    disputed) also needs a note, so the agent learns why. Returns the review's position.
    """
    flag = get_flag(archive, fid)
    if decision == "dispute" and not note.strip():
        raise ArchiveError("a dispute needs a note: say why the finding is wrong")
    if decision == "dispute" and flag.state == "disputed":
        raise ArchiveError(f"finding {fid} is already disputed and waits for a reviewer's answer")
    if decision != "dispute" and flag.state == "disputed" and not note.strip():
        raise ArchiveError("answering a dispute needs a note: tell the agent why")
    return archive.add_review(flag.call_id, flag.pos, decision, reviewer, note, agent_dispute=flag.state == "disputed" or decision == "dispute")


@dataclass(frozen=True)
class RuleRate:
    """How often reviewers dismiss one rule's flags (a noisy rule has a high rate)."""

    rule_id: str
    category: str
    flags: int
    decided: int
    confirmed: int
    dismissed: int
    disputed: int

    @property
    def dismissal_rate(self) -> float | None:
        """Dismissed share of the decided flags (None when none is decided)."""
        return self.dismissed / self.decided if self.decided else None


def dismissal_rates(flags: Sequence[Flag]) -> list[RuleRate]:
    """Per rule: flags, decisions and the dismissal rate, noisiest first."""
    by_rule: dict[str, list[Flag]] = {}
    for f in flags:
        if f.is_flag:
            by_rule.setdefault(f.rule_id, []).append(f)
    rates = []
    for rule, group in by_rule.items():
        states = [f.state for f in group]
        confirmed, dismissed = states.count("confirmed"), states.count("dismissed")
        disputed = sum(1 for f in group if any(r.decision == "dispute" for r in f.history))
        rates.append(RuleRate(rule, group[0].category, len(group), confirmed + dismissed, confirmed, dismissed, disputed))
    return sorted(rates, key=lambda r: (-(r.dismissal_rate or 0.0), -r.flags, r.rule_id))


__all__ = ["FLAG_KINDS", "OPEN_STATES", "STATES", "Flag", "ReviewEntry", "RuleRate", "asr_doubt", "dismissal_rates", "ended_calls", "finding_id", "get_flag",
           "load_flags", "parse_finding_id", "record_review"]
