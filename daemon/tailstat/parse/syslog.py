"""The `syslog` format: RFC 3164 (BSD) and RFC 5424 lines, one findall per batch.

    Jun 14 15:16:01 web1 sshd[2231]: Accepted publickey for deploy         RFC 3164, as /var/log/syslog has it
    <86>Jun 14 15:16:01 web1 CRON[1201]: pam_unix(cron:session): ...        3164 with its priority
    2025-06-14T15:16:01.123456+02:00 web1 systemd[1]: Started ...           rsyslog's high-precision variant
    <165>1 2025-06-14T15:16:01.003Z web1 app 1234 ID47 [ex@32473 a="1"] msg  RFC 5424

Fields: host, program (3164 tag / 5424 APP-NAME), pid (3164 [pid] / 5424 PROCID), facility and severity (from
the priority, when the line has one), message, msgid (5424). A 5424 `-` is a nil value: not counted.

Event time: 5424 and ISO timestamps carry their offset. A 3164 timestamp has neither year nor zone: it is read
in the local time zone of the machine running tailstat, in the current year, unless that puts it more than a
day in the future -- then it is last year's (a December line read in January).

Lines that do not parse are counted by reason: `bad_priority` (not 0..191), `broken_structured_data` (a 5424
header whose structured data does not parse), `no_match` (anything else), `empty_line`.
"""

from __future__ import annotations

import calendar
import operator
import re
import time
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

from tailstat.eventtime import nothing_parsed, split_slots
from tailstat.parse.common import measure_sketch
from tailstat.partial import SAMPLE_CHARS, Partial

if TYPE_CHECKING:
    from tailstat.parse.spec import ParserSpec

SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
              "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4",
              "local5", "local6", "local7")
_PRI_NAMES = {str(pri): (FACILITIES[pri >> 3], SEVERITIES[pri & 7]) for pri in range(192)}

_SD_NAME = r'[^\s="\]]{1,32}'
_SD_VALUE = r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'  # \" \\ \] escapes; an unescaped ] inside the quotes is tolerated
_SD = rf"(?:\[{_SD_NAME}(?: {_SD_NAME}={_SD_VALUE})*\])+"
# One pattern for both RFCs: the version "1" after the priority selects the 5424 tail through a conditional
# group. Named groups; `syslog_pattern` turns the ones a spec does not use into non-capturing groups.
_SYSLOG = (
    r"^(?:(?:<(?P<pri>1[0-8]\d|19[01]|[1-9]?\d)>(?P<v>1 )?)?"
    r"(?:(?P<bsd>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d)"
    r"|(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d{1,9})?(?P<tz>Z|[+-]\d\d:\d\d)"
    r"|(?(v)-|(?!)))"  # the nil timestamp, 5424 only
    r" (?P<host>\S+) "
    r"(?(v)"
    rf"(?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) (?P<sd>-|{_SD})(?: \ufeff?(?P<msg5424>[^\n]*))?"
    # a program name may hold spaces (macOS: "Microsoft Word[1234]:"), up to 4 words, when a [pid]: follows
    r"|(?:(?P<prog>[^\s\[\]:]+(?:(?: [^\s\[\]:]+){1,3}(?=\[\d+\]: ))?)(?:\[(?P<pid>[^\]\s]*)\])?: ?)?"
    r"(?P<msg3164>[^\n]*))\r?$"
    r"|(?P<bad>[^\n]+))"  # any other non-empty line: one row too, so failures need no second pass
)
_ALWAYS = ("pri", "v", "bsd", "iso", "tz", "bad")
_FIELD_GROUPS = {"host": ("host",), "program": ("app", "prog"), "pid": ("procid", "pid"),
                 "facility": ("pri",), "severity": ("pri",), "message": ("msg5424", "msg3164"),
                 "msgid": ("msgid",)}
_HEADER_5424 = re.compile(r"<\d{1,3}>1 \S+ \S+ \S+ \S+ \S+ \[")
_PRI = re.compile(r"<(\d*)>")


@lru_cache(maxsize=32)
def syslog_pattern(fields: frozenset[str]) -> tuple[re.Pattern, dict[str, int]]:
    """The pattern capturing the groups of `fields` (and those always needed), and each group's column."""
    keep = set(_ALWAYS)
    for f in fields:
        keep.update(_FIELD_GROUPS.get(f, ()))
    source = re.sub(r"\(\?P<(\w+)>", lambda m: m.group(0) if m.group(1) in keep else "(?:", _SYSLOG)
    pattern = re.compile(source, re.MULTILINE | re.ASCII)
    return pattern, {name: i - 1 for name, i in pattern.groupindex.items()}


def parse_syslog(spec: ParserSpec, data: bytes) -> Partial:
    pattern, col = syslog_pattern(frozenset(spec.dimensions + spec.measures))
    partial = Partial(lines=data.count(b"\n"), bytes=len(data))
    rows = pattern.findall(data.decode("utf-8", "replace"))
    if not rows:
        _count_failures((), partial)
        return nothing_parsed(partial, spec)
    cols = list(zip(*rows))
    bad = cols[col["bad"]]
    failed = len(bad) - bad.count("")
    partial.parsed = len(rows) - failed
    if partial.parsed < partial.lines:
        _count_failures(bad if failed else (), partial)
    if not partial.parsed:
        return nothing_parsed(partial, spec)
    now = time.time() if spec.reference_time is None else spec.reference_time
    year = time.localtime(now).tm_year
    if spec.slot_seconds is not None or spec.since is not None or spec.until is not None or spec.event_span:
        good = [i for i, b in enumerate(bad) if not b] if failed else None
        parsed = cols if good is None else [
            operator.itemgetter(*good)(c) if len(good) > 1 else (c[good[0]],) for c in cols]

        def part(lines: list[int]) -> Partial:
            pick = operator.itemgetter(*lines) if len(lines) > 1 else (lambda c: (c[lines[0]],))
            one = Partial()
            _aggregate_rows(spec, [pick(c) for c in parsed], col, one, now, year)
            return one

        if split_slots(partial, spec, list(zip(parsed[col["bsd"]], parsed[col["iso"]], parsed[col["tz"]])),
                       lambda key: _seconds(key, year, now), part):
            return partial
    _aggregate_rows(spec, cols, col, partial, now, year)
    return partial


def _seconds(key: tuple[str, str, str], year: int, now: float) -> int | None:
    """A row's (bsd, iso, tz) timestamp -> epoch seconds; None for the 5424 nil timestamp."""
    bsd, iso, tz = key
    if bsd:
        minute = bsd_minute(bsd[:12], year, now)
        return None if minute is None else minute * 60 + int(bsd[13:15])
    if iso:
        minute = _iso_minute(iso[:16], tz)
        return None if minute is None else minute * 60 + int(iso[17:19])
    return None


def _aggregate_rows(spec: ParserSpec, cols: list[tuple[str, ...]], col: dict[str, int], partial: Partial,
                    now: float, year: int) -> None:
    """Dimensions, measures and event minutes of parsed rows, given as columns."""
    pri = cols[col["pri"]]
    for name in spec.dimensions:
        groups = _FIELD_GROUPS.get(name)
        if groups is None:
            continue
        counts: Counter = Counter()
        for group in groups:
            column_counts = Counter(cols[col[group]])
            if not counts:
                counts = column_counts
            else:
                counts.update(column_counts)
        if name in ("facility", "severity"):
            which = 0 if name == "facility" else 1
            named: Counter = Counter()
            for value, n in counts.items():
                if value:
                    named[_PRI_NAMES[value][which]] += n
            counts = named
        elif name == "message":
            counts = _clean_messages(counts)
        counts.pop("", None)  # rows of failed lines, and fields a line does not have
        counts.pop("-", None)  # the 5424 nil value
        if counts:
            partial.dims[name] = counts
    if spec.measures:
        for name in spec.measures:
            groups = _FIELD_GROUPS.get(name, ())
            values = tuple(v for g in groups for v in cols[col[g]] if v and v != "-")
            if values:
                partial.measures[name] = measure_sketch(values, name, partial)
    for (bsd, iso, tz, p), n in Counter(zip(cols[col["bsd"]], cols[col["iso"]], cols[col["tz"]], pri)).items():
        if bsd:
            minute = bsd_minute(bsd[:12], year, now)
        elif iso:
            minute = _iso_minute(iso[:16], tz)
        else:
            continue  # a failed line, or a 5424 nil timestamp
        if minute is not None:
            partial.minutes[(minute, _PRI_NAMES[p][1] if p else "")] += n


def _clean_messages(counts: Counter) -> Counter:
    out: Counter = Counter()
    for value, n in counts.items():
        out[value.rstrip("\r")] += n
    return out


def _count_failures(bad: tuple[str, ...], partial: Partial) -> None:
    """Reasons for the lines that did not parse: each failed non-empty line is a row of its own."""
    failed = 0
    for line in bad:
        if not line:
            continue
        failed += 1
        partial.errors[failure_reason(line)] += 1
        if len(partial.samples) < 3:
            partial.samples.append(line[:SAMPLE_CHARS])
    blank = partial.lines - partial.parsed - failed  # every other line gave a row: these are empty
    if blank:
        partial.errors["empty_line"] += blank


def failure_reason(line: str) -> str:
    m = _PRI.match(line)
    if m and (not m.group(1) or int(m.group(1)) > 191 or (len(m.group(1)) > 1 and m.group(1)[0] == "0")):
        return "bad_priority"
    if _HEADER_5424.match(line):
        return "broken_structured_data"
    return "no_match"


_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), start=1)}


@lru_cache(maxsize=4096)
def _bsd_minute_in(text: str, year: int) -> int | None:
    """'Jun 14 15:16' in `year`, local time -> epoch minute; None for a date that year does not have."""
    month = _MONTHS.get(text[:3])
    try:
        day, hour, minute = int(text[4:6]), int(text[7:9]), int(text[10:12])
    except ValueError:
        return None
    if month is None or not 1 <= day <= calendar.monthrange(year, month)[1] or hour > 23 or minute > 59:
        return None
    return int(time.mktime((year, month, day, hour, minute, 0, 0, 0, -1))) // 60


def bsd_minute(text: str, year: int, now: float) -> int | None:
    """A 3164 timestamp's minute: this year's, or last year's when this year's is more than a day ahead."""
    minute = _bsd_minute_in(text, year)
    if minute is None or minute * 60 > now + 86400:
        minute = _bsd_minute_in(text, year - 1)
    return minute


@lru_cache(maxsize=4096)
def _iso_minute(minute: str, tz: str) -> int | None:
    """'2025-06-14T15:16' and 'Z' / '+02:00' -> epoch minute (UTC)."""
    try:
        ts = calendar.timegm((int(minute[:4]), int(minute[5:7]), int(minute[8:10]), int(minute[11:13]),
                              int(minute[14:16]), 0))
    except ValueError:
        return None
    offset = 0 if tz in ("Z", "") else (int(tz[1:3]) * 60 + int(tz[4:6])) * (-1 if tz[0] == "-" else 1)
    return ts // 60 - offset
