"""Event-time helpers shared by the formats: text timestamps and epoch numbers -> epoch minutes (UTC)."""

from __future__ import annotations

import calendar
import math
import re
from datetime import datetime
from functools import lru_cache

from tailstat.parse.common import to_number

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), start=1)}


def _tz_minutes(tz: str) -> int:
    tz = tz.strip()
    if not tz or tz in ("Z", "z"):
        return 0
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", tz)
    if not m:
        return 0
    value = int(m.group(2)) * 60 + int(m.group(3))
    return -value if m.group(1) == "-" else value


@lru_cache(maxsize=8192)
def clf_minute(minute: str, tz: str) -> int | None:
    """'10/Oct/2000:13:55' and '-0700' -> epoch minute (UTC); cached, so each distinct minute parses once."""
    try:
        day, mon, rest = minute.split("/", 2)
        year, hour, mins = rest.split(":")
        ts = calendar.timegm((int(year), _MONTHS[mon], int(day), int(hour), int(mins), 0))
    except (ValueError, KeyError):
        return None
    return ts // 60 - _tz_minutes(tz)


_ISO = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d)(?::\d\d(?:[.,]\d+)?)?\s*(Z|z|[+-]\d\d:?\d\d)?$")


@lru_cache(maxsize=8192)
def _iso_minute_cached(minute: str, tz: str) -> int | None:
    try:
        dt = datetime.strptime(minute.replace(" ", "T"), "%Y-%m-%dT%H:%M")
    except ValueError:
        return None
    return calendar.timegm(dt.timetuple()) // 60 - _tz_minutes(tz)


def iso_minute(value: str) -> int | None:
    m = _ISO.match(value)
    if not m:
        return None
    return _iso_minute_cached(m.group(1), m.group(2) or "")


MAX_EPOCH = 253402300800  # 10000-01-01: event times beyond it are not timestamps


def any_minute(value: object) -> int | None:
    """An event time given as ISO 8601 text or epoch seconds/milliseconds -> epoch minute."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value[:1].isdigit() or "-" in value:
            return iso_minute(value)
        value = to_number(value)  # epoch seconds given as text (logfmt)
    if isinstance(value, (int, float)) and math.isfinite(value):
        secs = value / 1000 if value > 1e11 else value
        if 0 <= secs < MAX_EPOCH:  # a wild number is no timestamp (and would not fit a 64-bit JSON integer)
            return int(secs // 60)
    return None


# ------------------------------------------------------------------------------ event seconds (window slots)
def clf_seconds(text: str) -> int | None:
    """'10/Oct/2000:13:55:36 -0700' -> epoch seconds (UTC), through the minute cache."""
    minute = clf_minute(text[:17], text[20:])
    second = text[18:20]
    return None if minute is None or not second.isdigit() else minute * 60 + int(second)


_ISO_SECONDS = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d)(?::(\d\d)(?:[.,](\d+))?)?\s*(Z|z|[+-]\d\d:?\d\d)?$")


def iso_seconds(value: str) -> float | None:
    m = _ISO_SECONDS.match(value)
    if not m:
        return None
    minute = _iso_minute_cached(m.group(1), m.group(4) or "")
    if minute is None:
        return None
    return minute * 60 + int(m.group(2) or 0) + (float("0." + m.group(3)) if m.group(3) else 0)


def any_seconds(value: object) -> float | None:
    """An event time given as ISO 8601 text or epoch seconds/milliseconds -> epoch seconds (any_minute's
    rules: any_minute(v) == any_seconds(v) // 60)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value[:1].isdigit() or "-" in value:
            return iso_seconds(value)
        value = to_number(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        secs = value / 1000 if value > 1e11 else value
        if 0 <= secs < MAX_EPOCH:
            return float(secs)
    return None


def epoch_text_seconds(text: str) -> int | None:
    """nginx $msec-style epoch seconds as text ('1700000000' or '1700000000.123') -> whole epoch seconds."""
    head = text.split(".", 1)[0]
    if not head.isdigit() or len(head) > 12:
        return None
    secs = int(head)
    return secs if secs < MAX_EPOCH else None
