"""`tailstat scan --since/--until`: a point in time from the command line, and the scan's rates over the logs'
own time span (a scan reads history: its wall-clock rates would say how fast the disk was, not the logs)."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
ACCEPTED = "ISO 8601 (2025-10-10T10:00, 2025-10-10 10:00:00+02:00; local time without an offset) or a time " \
           "ago such as 90s, 20m, 2h, 1d"


def parse_time(text: str, now: float | None = None) -> float:
    """Epoch seconds of `text`; ValueError naming what is accepted."""
    value = text.strip()
    m = _RELATIVE.fullmatch(value)
    if m:
        return (time.time() if now is None else now) - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time; accepted: {ACCEPTED}") from None
    return moment.timestamp()  # a naive time is local time, as `date` shows it


def log_time_rates(doc: dict[str, Any], first: float | None, last: float | None, outside: int,
                   since: float | None, until: float | None) -> None:
    """Replace a scan document's wall-clock `rates` by per-second rates over its lines' own time span, and say
    what the span and the range were."""
    seconds = None if first is None or last is None else last - first
    t = doc["totals"]
    doc["rates"] = {} if not seconds else {"log_span": {"lines": t["lines"] / seconds,
                                                         "parse_errors": t["parse_errors"] / seconds,
                                                         "bytes": t["bytes"] / seconds}}
    doc["span"] = {"first": first, "last": last, "seconds": seconds}
    if since is not None or until is not None:
        doc["range"] = {"since": since, "until": until, "outside_lines": outside}


def describe(doc: dict[str, Any]) -> str:
    """The scan table's line about the span (and range)."""
    span = doc.get("span") or {}
    if span.get("first") is None:
        text = "log time span: no event times"
    else:
        fmt = "%Y-%m-%d %H:%M:%S"
        text = (f"log time span: {time.strftime(fmt, time.localtime(span['first']))} .. "
                f"{time.strftime(fmt, time.localtime(span['last']))} ({span['seconds']:,.0f} s)")
    if "range" in doc:
        text += f"; {doc['range']['outside_lines']:,} lines outside --since/--until not counted"
    return text
