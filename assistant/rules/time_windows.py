"""Times of day in what a customer says (“晚上十点半以后打给我”, “call me after 9:30 tonight”),
as the window of the day they grant or refuse for calls (``HH:MM-HH:MM``, may wrap midnight).

Rules of thumb, stated: “after T” is T to midnight; “before T” the hour before T when
granted, midnight to T when refused; “at T” a quarter of an hour before to three quarters
after. A Chinese time with 晚上/下午/傍晚 (or an English one with pm/tonight/evening) is in the
afternoon; an English hour of 1–7 with nothing said is taken as afternoon too (nobody asks
to be called at 3 a.m.).
"""
from __future__ import annotations

import re

_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_TIME = re.compile(r"(早上|早晨|上午|中午|下午|傍晚|晚上|夜里|凌晨)?\s*([0-9]{1,2}|[一二两三四五六七八九十]{1,3})\s*(?:点|:|：)\s*"
                      r"(半|一刻|三刻|[0-9]{1,2}|[一二三四五六七八九十]{1,3})?分?\s*(以后|之后|后|以前|之前|前|左右)?")
_EN_TIME = re.compile(r"\b(after|before|at|around|by|past)?\s*(\d{1,2})(?::(\d\d))?\s*(a\.?m\.?|p\.?m\.?)?\b(\s*(tonight|this evening|in the evening|"
                      r"in the morning|at night))?", re.IGNORECASE)


def _zh_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.startswith("十"):
        return 10 + (_ZH_DIGITS.get(text[1:], 0) if len(text) > 1 else 0)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _ZH_DIGITS.get(tens, 0) * 10 + (_ZH_DIGITS.get(ones, 0) if ones else 0)
    return _ZH_DIGITS.get(text, 0)


def _fmt(minutes: int) -> str:
    minutes %= 24 * 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _window(at: int, direction: str, granted: bool) -> str:
    if direction == "after":
        return f"{_fmt(at)}-00:00"
    if direction == "before":
        return f"{_fmt(at - 60)}-{_fmt(at)}" if granted else f"00:00-{_fmt(at)}"
    return f"{_fmt(at - 15)}-{_fmt(at + 45)}"


def time_window(lang: str, text: str, granted: bool = True) -> str | None:
    """The window of the day ``text`` names (None when it names no time of day)."""
    if lang == "zh":
        m = _ZH_TIME.search(text)
        if not m:
            return None
        part, hour_text, minute_text, when = m.groups()
        hour = _zh_number(hour_text)
        minute = {"半": 30, "一刻": 15, "三刻": 45}.get(minute_text or "", None)
        if minute is None:
            minute = _zh_number(minute_text) if minute_text else 0
        if part in ("下午", "傍晚", "晚上", "夜里") and hour < 12:
            hour += 12
        direction = "after" if when in ("以后", "之后", "后") else "before" if when in ("以前", "之前", "前") else "at"
    else:
        m = next((x for x in _EN_TIME.finditer(text) if x.group(3) or x.group(4) or x.group(6) or x.group(1)), None)
        if not m:
            return None
        word, hour_text, minute_text, meridiem, _, evening = m.groups()
        hour, minute = int(hour_text), int(minute_text or 0)
        pm = (meridiem or "").lower().startswith("p") or bool(evening and "morning" not in evening.lower())
        if (pm or (not meridiem and not evening and 1 <= hour <= 7)) and hour < 12:
            hour += 12
        if (meridiem or "").lower().startswith("a") and hour == 12:
            hour = 0
        word = (word or "").lower()
        direction = "after" if word in ("after", "past") else "before" if word in ("before", "by") else "at"
    if hour > 24 or minute > 59:
        return None
    return _window(hour * 60 + minute, direction, granted)
