"""Contact rules: may this debtor be called at this time, given the calls already made?

Judged from the case (time zone or US state, consent windows, cease notice, attorney,
opt-outs, prohibited work numbers) and the case's history in the archive (every call,
answered or not, with its start time and outcome). The rules and their thresholds are
data, ``lexicons/<lang>/call/contact.yaml``; the language picks the jurisdiction (zh: CN,
en: US). ``callassist precall`` prints the decision; ``live`` shows it when a call starts;
``archive import`` records a ``contact`` finding for a call that broke a rule.

Outcomes of a call: ``conversation`` (the customer spoke: an effective conversation),
``voicemail`` (only the agent spoke), ``unanswered`` (nobody spoke), or what the archive
recorded for it (``callassist archive attempt``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.constants import LANGUAGES, SEVERITIES
from assistant.errors import CaseError, RuleFileError
from assistant.events import Finding, Severity, as_severity
from assistant.rules.loader import read_language_file

FILE = "call/contact.yaml"
OUTCOMES = ("conversation", "voicemail", "unanswered", "connected")
CHECKS = ("hours", "refused_hours", "per_day", "rolling", "after_conversation", "case_flag")
JURISDICTION = {"zh": "CN", "en": "US"}

_E, _C, _M, _P = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
# US state → its time zones (several where a state spans zones: the call must suit every one)
US_STATE_ZONES: dict[str, tuple[str, ...]] = {
    **{s: (_E,) for s in "CT DE DC GA ME MD MA NH NJ NY NC OH PA RI SC VT VA WV".split()},
    **{s: (_C,) for s in "AL AR IL IA LA MN MS MO OK WI".split()},
    **{s: (_M,) for s in "CO MT NM UT WY".split()},
    **{s: (_P,) for s in "CA NV WA".split()},
    "MI": (_E, "America/Menominee"), "IN": ("America/Indiana/Indianapolis", _C), "KY": (_E, _C), "TN": (_C, _E), "FL": (_E, _C),
    "TX": (_C, _M), "KS": (_C, _M), "NE": (_C, _M), "SD": (_C, _M), "ND": (_C, _M),
    "AZ": ("America/Phoenix",), "ID": (_M, _P), "OR": (_P, "America/Boise"),
    "AK": ("America/Anchorage", "America/Adak"), "HI": ("Pacific/Honolulu",),
}
US_CONTIGUOUS = (_E, _C, _M, "America/Phoenix", _P)

# what about a call breaks a rule, in the case's language (the collector's screen speaks it)
DETAILS: dict[str, dict[str, str]] = {
    "zh": {
        "hours": "债务人当地时间 {local} （{zone}），允许时段为 {start}–{end}（另有约定的时段除外）。",
        "refused": "债务人当地时间 {local} （{zone}）在其表示不便接听的时段 {window} 内。",
        "per_day": "{day} 已有 {count} 次{outcomes}通话，这将是第 {next} 次，上限 {limit} 次。",
        "rolling": "最近 {days} 天已拨打 {count} 次，这将是第 {next} 次，超过 {limit} 次。",
        "after_conversation": "{day} 已通话（第1天），{until} 之前不应再拨打。",
        "flag": "案件记载 {field}：{value}。",
        "number": "号码 {number} 列在 {field} 中。",
    },
    "en": {
        "hours": "It is {local} ({zone}); allowed {start}–{end} unless the debtor agreed to another window.",
        "refused": "It is {local} ({zone}), inside {window}, a time the consumer said is inconvenient.",
        "per_day": "{count} {outcomes} call(s) already on {day}: this would be number {next}, the limit is {limit}.",
        "rolling": "{count} calls placed in the last {days} days: this would be number {next}, more than {limit}.",
        "after_conversation": "A conversation took place on {day} (day 1): no call before {until}.",
        "flag": "The case records {field}: {value}.",
        "number": "The number {number} is listed in {field}.",
    },
}
OUTCOME_WORDS = {"zh": {"conversation": "有效", "unanswered": "未接通", "voicemail": "留言", "connected": "接通"}}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lang", "default_timezone", "rules"],
    "properties": {
        "lang": {"enum": list(LANGUAGES)},
        "default_timezone": {"type": "string"},
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "category", "severity", "check", "catalogue", "citation", "verification", "explanation"],
                "properties": {
                    "id": {"type": "string", "pattern": r"^(zh|en)\.contact\.[a-z_]+$"},
                    "category": {"type": "string", "pattern": r"^contact\.[a-z_]+$"},
                    "severity": {"enum": list(SEVERITIES)},
                    "check": {"enum": list(CHECKS)},
                    "allowed_from": {"type": "string", "pattern": r"^\d\d:\d\d$"},
                    "allowed_until": {"type": "string", "pattern": r"^\d\d:\d\d$"},
                    "outcomes": {"type": "array", "items": {"enum": list(OUTCOMES)}},
                    "limit": {"type": "integer", "minimum": 1},
                    "days": {"type": "integer", "minimum": 1},
                    "per_number": {"type": "boolean"},
                    "field": {"type": "string"},
                    "values": {"type": "array", "items": {"type": "string"}},
                    "catalogue": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "citation": {"type": "string", "minLength": 1},
                    "verification": {"type": "string", "minLength": 1},
                    "explanation": {"type": "string", "minLength": 1},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class ContactRule:
    """One contact rule (see ``contact.yaml``)."""

    id: str
    category: str
    severity: Severity
    check: str
    catalogue: tuple[str, ...]
    citation: str
    verification: str
    explanation: str
    allowed_from: time = time(0, 0)
    allowed_until: time = time(0, 0)
    outcomes: tuple[str, ...] = ()
    limit: int = 0
    days: int = 1
    per_number: bool = False
    field: str = ""
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContactRules:
    """A jurisdiction's contact rules."""

    lang: str
    default_timezone: str
    rules: tuple[ContactRule, ...]


@dataclass(frozen=True)
class Attempt:
    """A call already made to the case: when (aware), which way, how it went, to which number."""

    at: datetime
    direction: str = "outbound"
    outcome: str = "conversation"
    number: str = ""
    call_id: str = ""


@dataclass(frozen=True)
class Reason:
    """Why a call is blocked: the rule, and what about this call breaks it."""

    rule: ContactRule
    detail: str

    def finding(self, call_id: str = "") -> Finding:
        """The reason as a ``contact`` finding of a call."""
        r = self.rule
        return Finding("contact", r.category, r.id, r.severity, 0, 0, "", citation=r.citation,
                       explanation=f"{r.explanation} {self.detail}".strip(),
                       extra={"call_rule": True, "catalogue": list(r.catalogue), "verification": r.verification}, call_id=call_id)


@dataclass
class Decision:
    """The contact check of one planned (or made) call."""

    case_id: str
    at: datetime
    zones: tuple[str, ...]
    reasons: list[Reason] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    counted: int = 0  # earlier calls of the case that were looked at

    @property
    def allowed(self) -> bool:
        """No rule blocks the call."""
        return not self.reasons

    def local(self) -> list[str]:
        """The call's time in each of the debtor's zones, as ``HH:MM Zone``."""
        return [f"{self.at.astimezone(ZoneInfo(z)):%Y-%m-%d %H:%M} {z}" for z in self.zones]

    def to_dict(self) -> dict[str, Any]:
        """The decision as plain data (``precall --format json``)."""
        return {
            "case": self.case_id, "allowed": self.allowed, "at": self.at.isoformat(), "local": self.local(), "calls_counted": self.counted,
            "reasons": [{"rule_id": r.rule.id, "category": r.rule.category, "severity": r.rule.severity, "detail": r.detail,
                         "citation": r.rule.citation, "verification": r.rule.verification, "catalogue": list(r.rule.catalogue)}
                        for r in self.reasons],
            "checked": self.checked,
        }


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours) % 24, int(minutes))


@lru_cache(maxsize=4)
def load_contact_rules(lang: str, root: str | None = None) -> ContactRules:
    """The contact rules of a language's jurisdiction (:class:`RuleFileError` naming the line of any problem)."""
    path, data, loc = read_language_file(lang, FILE, SCHEMA, root)
    problems: list[str] = []
    needs = {"hours": ("allowed_from", "allowed_until"), "refused_hours": (), "per_day": ("limit", "outcomes"), "rolling": ("limit", "days"),
             "after_conversation": ("days",), "case_flag": ("field",)}
    rules = []
    for i, spec in enumerate(data["rules"]):
        missing = [k for k in needs[spec["check"]] if k not in spec]
        if missing:
            problems.append(f"{path}:{loc.line(['rules', i])}: {spec['id']}: a {spec['check']} rule needs {', '.join(missing)}")
            continue
        rules.append(ContactRule(
            spec["id"], spec["category"], as_severity(spec["severity"]), spec["check"], tuple(spec["catalogue"]), spec["citation"],
            spec["verification"], spec["explanation"].strip(), _clock(spec.get("allowed_from", "00:00")), _clock(spec.get("allowed_until", "00:00")),
            tuple(spec.get("outcomes", ())), int(spec.get("limit", 0)), int(spec.get("days", 1)), bool(spec.get("per_number", False)),
            spec.get("field", ""), tuple(spec.get("values", ()))))
    if data["default_timezone"]:
        try:
            ZoneInfo(data["default_timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"{path}:{loc.line(['default_timezone'])}: unknown time zone {data['default_timezone']!r}")
    if problems:
        raise RuleFileError(problems)
    return ContactRules(lang, data["default_timezone"], tuple(rules))


def case_lang(case: Mapping[str, Any], lang: str | None = None) -> str:
    """The language whose rules apply: ``lang``, else the case's ``lang``, else its ``jurisdiction``."""
    chosen = lang or case.get("lang") or {j: code for code, j in JURISDICTION.items()}.get(str(case.get("jurisdiction", "")).upper())
    if chosen not in LANGUAGES:
        raise CaseError(f"case {case.get('id', '?')}: say which rules apply: `lang: zh` (CN) or `lang: en` (US) in the case, or --lang")
    return str(chosen)


def case_zones(case: Mapping[str, Any], lang: str, root: Path | None = None) -> tuple[str, ...]:
    """The debtor's time zones: the case's ``timezone``, else (US) its ``debtor_state``'s, else
    the jurisdiction's default (CN: Asia/Shanghai; US: every contiguous zone)."""
    given = case.get("timezone")
    if given:
        try:
            ZoneInfo(str(given))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CaseError(f"case {case.get('id', '?')}: unknown time zone {given!r} (an IANA name such as Asia/Shanghai or America/Chicago)") from exc
        return (str(given),)
    state = str(case.get("debtor_state") or "").strip().upper()
    if state:
        if state not in US_STATE_ZONES:
            raise CaseError(f"case {case.get('id', '?')}: unknown US state {state!r} (a two-letter code such as CA or NY)")
        return US_STATE_ZONES[state]
    default = load_contact_rules(lang, str(root) if root else None).default_timezone
    return (default,) if default else US_CONTIGUOUS


def parse_when(value: str | datetime | None, zones: Sequence[str], now: datetime | None = None) -> datetime:
    """The call's time as an aware datetime: ``None`` (now), ``HH:MM`` (today in the debtor's
    first zone), a date and time without offset (debtor's local time) or ISO 8601 with one."""
    now = now or datetime.now(timezone.utc)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zones[0]))
    if value is None or not str(value).strip():
        return now
    text = str(value).strip()
    zone = ZoneInfo(zones[0])
    if re.fullmatch(r"\d{1,2}:\d\d", text):
        hours, minutes = map(int, text.split(":"))
        if hours > 23 or minutes > 59:
            raise CaseError(f"{text!r} is not a time of day (HH:MM, 00:00–23:59)")
        return datetime.combine(now.astimezone(zone).date(), time(hours, minutes), zone)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CaseError(f"{text!r} is not a time: give HH:MM (debtor's local time today), 2026-12-05T23:00 or an ISO 8601 time with offset") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _windows(case: Mapping[str, Any], key: str = "consent_time_windows") -> list[tuple[time, time]]:
    """``consent_time_windows`` (or ``inconvenient_times``): ``"22:00-22:30"`` strings or ``{from, to}`` mappings."""
    out = []
    for item in case.get(key) or []:
        if isinstance(item, Mapping):
            start, end = str(item.get("from", "")), str(item.get("to", ""))
        else:
            start, _, end = str(item).partition("-")
        if not (re.fullmatch(r"\s*\d{1,2}:\d\d\s*", start) and re.fullmatch(r"\s*\d{1,2}:\d\d\s*", end)):
            raise CaseError(f"case {case.get('id', '?')}: {key} window {item!r} is not HH:MM-HH:MM")
        out.append((_clock(start.strip()), _clock(end.strip())))
    return out


def _within(t: time, start: time, end: time) -> bool:
    return start <= t < end if start <= end else (t >= start or t < end)


def _listed(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)] if value not in (None, "", False) else []


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)[-10:]


def check_contact(case: Mapping[str, Any], at: datetime, history: Sequence[Attempt] = (), *, lang: str | None = None,
                  number: str = "", root: Path | None = None) -> Decision:
    """Whether a call to the case at ``at`` (aware) breaks a contact rule, given the calls
    already made (``history``: earlier calls only; inbound ones never count)."""
    lang = case_lang(case, lang)
    zones = case_zones(case, lang, root)
    rules = load_contact_rules(lang, str(root) if root else None)
    outbound = [a for a in history if a.direction != "inbound" and a.at < at]
    decision = Decision(str(case.get("id", "")), at, zones, counted=len(outbound))
    windows = _windows(case)
    for rule in rules.rules:
        decision.checked.append(rule.id)
        detail = _broken(rule, case, at, zones, outbound, windows, number, lang)
        if detail:
            decision.reasons.append(Reason(rule, detail))
    return decision


def _broken(rule: ContactRule, case: Mapping[str, Any], at: datetime, zones: Sequence[str], outbound: Sequence[Attempt],
            windows: list[tuple[time, time]], number: str, lang: str) -> str:
    """What about this call breaks ``rule`` ("" when nothing), in ``lang``."""
    say, words = DETAILS[lang], OUTCOME_WORDS.get(lang, {})
    if rule.check == "hours":
        for z in zones:
            local = at.astimezone(ZoneInfo(z))
            t = local.time().replace(second=0, microsecond=0)
            if not _within(t, rule.allowed_from, rule.allowed_until) and not any(_within(t, a, b) for a, b in windows):
                return say["hours"].format(local=f"{local:%H:%M}", zone=z, start=f"{rule.allowed_from:%H:%M}", end=f"{rule.allowed_until:%H:%M}")
        return ""
    if rule.check == "refused_hours":
        for z in zones:
            local = at.astimezone(ZoneInfo(z))
            t = local.time().replace(second=0, microsecond=0)
            for a, b in _windows(case, "inconvenient_times"):
                if _within(t, a, b):
                    return say["refused"].format(local=f"{local:%H:%M}", zone=z, window=f"{a:%H:%M}–{b:%H:%M}")
        return ""
    if rule.check == "per_day":
        zone = ZoneInfo(zones[0])
        day = at.astimezone(zone).date()
        same = [a for a in outbound if a.outcome in rule.outcomes and a.at.astimezone(zone).date() == day
                and (not rule.per_number or not number or _digits(a.number) == _digits(number))]
        if len(same) >= rule.limit:
            return say["per_day"].format(count=len(same), outcomes="/".join(words.get(o, o) for o in rule.outcomes), day=day.isoformat(),
                                         next=len(same) + 1, limit=rule.limit)
        return ""
    if rule.check == "rolling":
        since = at - timedelta(days=rule.days)
        placed = [a for a in outbound if a.at > since]
        if len(placed) >= rule.limit:
            return say["rolling"].format(count=len(placed), days=rule.days, next=len(placed) + 1, limit=rule.limit)
        return ""
    if rule.check == "after_conversation":
        zone = ZoneInfo(zones[0])
        today = at.astimezone(zone).date()
        talks: list[date] = [a.at.astimezone(zone).date() for a in outbound if a.outcome == "conversation"]
        recent = [d for d in talks if d <= today < d + timedelta(days=rule.days)]
        if recent:
            last = max(recent)
            return say["after_conversation"].format(day=last.isoformat(), until=(last + timedelta(days=rule.days)).isoformat())
        return ""
    value = case.get(rule.field)
    listed = [v.lower() for v in _listed(value)]
    if not listed or value is False:
        return ""
    if rule.values:  # a medium (telephone …) or a number
        if any(v in rule.values for v in listed):
            return say["flag"].format(field=rule.field, value=", ".join(_listed(value)))
        if number and any(_digits(v) and _digits(v) == _digits(number) for v in listed):
            return say["number"].format(number=number, field=rule.field)
        return ""
    if isinstance(value, (list, tuple)):  # numbers: only a call to one of them
        return say["number"].format(number=number, field=rule.field) if number and any(_digits(v) == _digits(number) for v in listed) else ""
    return say["flag"].format(field=rule.field, value=value)

