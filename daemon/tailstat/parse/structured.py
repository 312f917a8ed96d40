"""Structured records: json and logfmt lines, and the aggregation of decoded records (shared with regex)."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

import orjson

from tailstat.eventtime import split_slots
from tailstat.parse.common import to_number
from tailstat.parse.timestamps import any_seconds
from tailstat.partial import Partial
from tailstat.sketches import Quantiles

if TYPE_CHECKING:
    from tailstat.parse.spec import ParserSpec

_TIME_KEYS = ("time", "timestamp", "ts", "@timestamp", "t", "datetime")
_LEVEL_KEYS = ("level", "severity", "lvl", "loglevel")


def lookup(record: dict, name: str) -> object:
    """A field by name; dots address nested objects (`http.status`), a literal dotted key wins."""
    if name in record:
        return record[name]
    node: object = record
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def as_label(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (dict, list)):
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # nested deeper than orjson writes (254 levels)
            return "(too deep)"
    return str(value)


# Level names that get their own per-minute breakdown; any other level counts as "other", so a level field
# that holds arbitrary text cannot grow the per-minute buckets.
MINUTE_LEVELS = frozenset(("trace", "debug", "info", "notice", "warn", "warning", "error", "err", "crit",
                           "critical", "fatal", "panic", "alert", "emerg", "emergency"))


def _stamp_of(record: dict) -> str | int | float | None:
    """A record's event time as written (the first time key it has), or None."""
    for key in _TIME_KEYS:
        if key in record:
            ts = record[key]
            return ts if isinstance(ts, (str, int, float)) else None
    return None


_MISSING = object()


def aggregate_records(spec: ParserSpec, records: list[dict], partial: Partial, split: bool = True) -> None:
    """Dimensions, measures and event minutes from already-decoded records (JSON, logfmt, regex), and (with
    `split`) the window slots of their event times."""
    stamps = list(map(_stamp_of, records))
    seconds: dict = {}  # each distinct time parsed once

    def to_seconds(ts: object) -> float | None:
        t = seconds.get(ts, _MISSING)
        if t is _MISSING:
            t = seconds[ts] = any_seconds(ts)
        return t  # type: ignore[return-value]

    if split and split_slots(partial, spec, stamps, to_seconds, lambda lines: _records_part(spec, records, lines)):
        return
    dims = {name: Counter() for name in spec.dimensions}
    values: dict[str, list[float]] = {name: [] for name in spec.measures}
    skipped = partial.skipped
    minutes: Counter = Counter()
    for record, ts in zip(records, stamps):
        for name, counter in dims.items():
            value = lookup(record, name)
            if value is not None:
                counter[as_label(value)] += 1
        for name, out in values.items():
            value = lookup(record, name)
            if value is None:
                continue
            number = to_number(value)
            if number is not None:
                out.append(number)
            elif value == "-":
                skipped[f"missing:{name}"] += 1
            else:
                skipped[f"not_a_number:{name}"] += 1
        if ts is not None:
            level = ""
            for key in _LEVEL_KEYS:
                if key in record:
                    level = as_label(record[key]).lower()
                    if level not in MINUTE_LEVELS:
                        level = "other"
                    break
            minutes[(ts, level)] += 1
    partial.dims.update({k: v for k, v in dims.items() if v})
    for name, numbers in values.items():
        if numbers:
            sketch = partial.measures[name] = Quantiles()
            sketch.add_values(numbers)
    for (ts, level), n in minutes.items():
        epoch = to_seconds(ts)
        if epoch is not None:
            partial.minutes[(int(epoch // 60), level)] += n


def _records_part(spec: ParserSpec, records: list[dict], lines: list[int]) -> Partial:
    """The partial of some of a batch's records (one window slot's)."""
    part = Partial()
    aggregate_records(spec, [records[i] for i in lines], part, split=False)
    return part


def parse_json(spec: ParserSpec, data: bytes) -> Partial:
    partial = Partial(lines=data.count(b"\n"), bytes=len(data))
    loads = orjson.loads
    records = []
    for line in data.split(b"\n")[:-1]:
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as exc:
            if not line.strip():
                reason = "empty_line"
            elif "depth limit" in str(exc):
                reason = "too_deep"  # more than 1024 levels: orjson's limit, nothing a dimension could use
            else:
                reason = "invalid_json"
            partial.add_error(reason, line)
            continue
        if not isinstance(obj, dict):
            partial.add_error("not_an_object", line)
            continue
        records.append(obj)
    partial.parsed = len(records)
    aggregate_records(spec, records, partial)
    return partial


# logfmt: key=value, key="quoted \" value", bare keys. Groups: key, "=" (absent for a bare key), quoted value,
# plain value, and anything else (a stray quote or "="), which makes the line invalid.
_LOGFMT_PAIR = re.compile(r'([^\s="]+)(?:(=)(?:"([^"\\]*(?:\\.[^"\\]*)*)"|([^\s"]*)))?|(\S)')
_LOGFMT_ESCAPE = re.compile(r"\\(.)")
_LOGFMT_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _logfmt_unescape(value: str) -> str:
    return _LOGFMT_ESCAPE.sub(lambda m: _LOGFMT_ESCAPES.get(m.group(1), m.group(1)), value)


def parse_logfmt_line(line: str) -> dict[str, object] | None:
    """One logfmt line as a dict (a bare key is True), or None when it is not logfmt: a stray quote or "=",
    or no key=value pair at all."""
    record: dict[str, object] = {}
    pairs = 0
    for key, eq, quoted, plain, junk in _LOGFMT_PAIR.findall(line):
        if junk:
            return None
        if not eq:
            record[key] = True
            continue
        pairs += 1
        record[key] = plain or (_logfmt_unescape(quoted) if "\\" in quoted else quoted)
    return record if pairs else None


def parse_logfmt(spec: ParserSpec, data: bytes) -> Partial:
    partial = Partial(lines=data.count(b"\n"), bytes=len(data))
    records = []
    for line in data.decode("utf-8", "replace").split("\n")[:-1]:
        record = parse_logfmt_line(line)
        if record is None:
            partial.add_error("empty_line" if not line.strip() else "invalid_logfmt", line.encode())
            continue
        records.append(record)
    partial.parsed = len(records)
    aggregate_records(spec, records, partial)
    return partial
