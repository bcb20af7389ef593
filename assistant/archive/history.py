"""A case's calls as contact attempts, read from the archive (for the contact rules).

Every call of the case counts, answered or not: its start time and direction come from its
first record; its outcome from an ``outcome`` event when one was recorded (``callassist
archive attempt``), else from who spoke: the customer (``conversation``), only the agent
(``voicemail``), nobody (``unanswered``).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from assistant._values import parse_time
from assistant.archive.store import Archive
from assistant.errors import InputValidationError
from assistant.events import Finding
from assistant.rules.contact import OUTCOMES, Attempt, Decision, check_contact

OUTCOME_EVENT = "outcome"


def contact_history(archive: Archive, case_id: str, *, exclude: str = "") -> list[Attempt]:
    """The calls of ``case_id`` in the archive, oldest first (``exclude``: a call id left out)."""
    rows = archive.conn.execute("SELECT call_id, started_at, direction FROM calls WHERE pos = 0 AND case_id = ? ORDER BY started_at",
                                (case_id,)).fetchall()
    out = []
    for row in rows:
        if row["call_id"] == exclude:
            continue
        at = parse_time(row["started_at"])
        if at is None:
            continue
        outcome, number = "", ""
        for (detail,) in archive.conn.execute("SELECT detail FROM call_events WHERE call_id = ? AND event = ? ORDER BY pos DESC LIMIT 1",
                                              (row["call_id"], OUTCOME_EVENT)):
            try:
                noted = json.loads(detail)
            except (TypeError, ValueError):
                noted = {}
            outcome, number = str(noted.get("outcome", "")), str(noted.get("number", ""))
        if outcome not in OUTCOMES:
            speakers = {s for (s,) in archive.conn.execute("SELECT DISTINCT speaker FROM utterances WHERE call_id = ?", (row["call_id"],))}
            outcome = "conversation" if "customer" in speakers else "voicemail" if speakers else "unanswered"
        out.append(Attempt(at, str(row["direction"] or "outbound"), outcome, number, row["call_id"]))
    return out


def record_attempt(archive: Archive, case: Mapping[str, Any], *, at: datetime | None = None, outcome: str = "unanswered",
                   number: str = "", direction: str = "outbound", agent_id: str = "", lang: str = "", call_id: str | None = None) -> str:
    """Record a call that left no transcript (unanswered, voicemail …) so that the contact
    rules count it; returns its call id. The call is sealed at once."""
    if outcome not in OUTCOMES:
        raise InputValidationError(f"an outcome is one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if direction not in ("outbound", "inbound"):
        raise InputValidationError(f"a direction is outbound or inbound, not {direction!r}")
    when = (at or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    with archive.transaction():
        cid = archive.start_call(call_id, case=dict(case), agent_id=agent_id, direction=direction, started_at=when, lang=lang,
                                 source="callassist archive attempt")
        archive.add_event(cid, OUTCOME_EVENT, json.dumps({"outcome": outcome, "number": number}, ensure_ascii=False))
        archive.seal(cid)
    return cid


def contact_decision(archive: Archive | None, case: Mapping[str, Any], at: datetime, lang: str, *, exclude: str = "",
                     number: str = "") -> Decision:
    """Whether a call to ``case`` at ``at`` keeps the contact rules, given what the archive
    holds (none when there is no archive): what calls noted on the case (windows granted or
    refused, opt-outs, an attorney) and the case's other calls."""
    from assistant.archive.cases import recorded_case

    case = recorded_case(archive, case)
    history = contact_history(archive, str(case.get("id", "")), exclude=exclude) if archive is not None else []
    return check_contact(case, at, history, lang=lang, number=number or str(case.get("number") or ""))


def contact_findings(archive: Archive | None, case: Mapping[str, Any], at: datetime, lang: str, *, exclude: str = "",
                     number: str = "") -> list[Finding]:
    """The contact rules a call to ``case`` at ``at`` broke (:func:`contact_decision`), as ``contact`` findings."""
    return [reason.finding() for reason in contact_decision(archive, case, at, lang, exclude=exclude, number=number).reasons]
