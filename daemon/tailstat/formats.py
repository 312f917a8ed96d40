"""Parse stage: pure functions from a batch of complete lines (bytes) to a Partial.

No I/O, no shared mutable state, no locks: the same functions run in a thread pool or a process pool.
Regex formats use one `findall` over the whole batch (C speed) and transpose the matches into columns;
only batches that contain unparseable lines pay for a per-line pass, to sample them.

Formats: access logs (combined, common, combined_timed, and nginx `log_format` strings compiled by
logformat.py), syslog (RFC 3164 and 5424, in syslog.py), json, logfmt, regex; `detect` picks one for `auto`.
"""

from __future__ import annotations

import calendar
import math
import operator
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import orjson

from tailstat.logformat import (
    REQUEST_PIECES,
    TEXT_FIELDS,
    LogFormatError,
    compile_log_format,
    log_format_fields,
)
from tailstat.partial import SAMPLE_CHARS, Column, Partial
from tailstat.sketches import Quantiles
from tailstat.syslog import parse_syslog

# Access logs. The pattern is built per spec: only the fields a spec uses are captured (fewer groups, faster
# findall); everything else is matched without capturing, so a line must still be a whole valid line.
_Q_FAST = rb'"([^"\\\n]*(?:\\.[^"\\\n]*)*)"'  # unrolled: one C loop per run of plain characters
# (field name or None, piece with exactly one capture group when named)
_PIECES_HEAD: tuple[tuple[str | None, bytes], ...] = (
    ("client", rb"^(\S+)"), (None, rb" "), ("ident", rb"(\S+)"), (None, rb" "), ("user", rb"(\S+)"),
    (None, rb" \["), ("_time", rb"([^\]\n]*)"), (None, rb"\] \""),
    # "METHOD PATH[?QUERY] PROTOCOL"; anything else in the quotes (e.g. "-") still parses, without method/path.
    *REQUEST_PIECES, (None, rb"\" "),
    ("status", rb"([1-5]\d\d)"), (None, rb" "), ("bytes_sent", rb"(\d+|-)"),
)
_PIECES_TAIL: dict[str, tuple[tuple[str | None, bytes], ...]] = {
    "common": ((None, rb"\r?$"),),
    "combined": ((None, rb" "), ("referer", _Q_FAST), (None, rb" "), ("user_agent", _Q_FAST),
                 (None, rb"(?: [^\n]*?)?\r?$")),
    "combined_timed": ((None, rb" "), ("referer", _Q_FAST), (None, rb" "), ("user_agent", _Q_FAST),
                       (None, rb" "), ("request_time", rb"(\d+(?:\.\d+)?|-)"), (None, rb" "),
                       ("upstream_time", rb"(\d+(?:\.\d+)?|-)"), (None, rb"(?:[ ,:][^\n]*?)?\r?$")),
}
ACCESS_FIELDS = {
    fmt: tuple(n for n, _ in _PIECES_HEAD + tail if n and not n.startswith("_"))
    for fmt, tail in _PIECES_TAIL.items()
}


def _uncapture(piece: bytes) -> bytes:
    """The piece with its one capture group removed: plain when the group has no top-level alternation
    (sre runs a bare sequence measurably faster than a (?:...) group), else (?:...)."""
    start = piece.index(b"(")
    depth, i, alternation = 0, start, False
    while i < len(piece):
        ch = piece[i:i + 1]
        if ch == b"\\":
            i += 2
            continue
        if ch == b"[":  # skip a character class: parentheses and bars inside it are literal
            i += 2 if piece[i + 1:i + 2] != b"^" else 3  # a ']' right after '[' or '[^' is literal
            while piece[i:i + 1] != b"]":
                i += 2 if piece[i:i + 1] == b"\\" else 1
            i += 1
            continue
        if ch == b"(":
            depth += 1
        elif ch == b")":
            depth -= 1
            if depth == 0:
                break
        elif ch == b"|" and depth == 1:
            alternation = True
        i += 1
    inner = piece[start + 1:i]
    return piece[:start] + (b"(?:" + inner + b")" if alternation else inner) + piece[i + 1:]


def access_pieces(fmt: str, log_format: str | None = None) -> tuple[tuple[str | None, bytes], ...]:
    if fmt == "nginx":
        return compile_log_format(log_format or "")
    return _PIECES_HEAD + _PIECES_TAIL[fmt]


@lru_cache(maxsize=64)
def access_pattern(fmt: str, wanted: frozenset[str], log_format: str | None = None,
                   ) -> tuple[re.Pattern, dict[str, int]]:
    """The compiled pattern for `fmt` capturing only `wanted` fields (+ event time and status), and the
    column index of each captured field."""
    wanted = wanted | {"_time", "_time_iso", "_msec", "status"}
    parts, columns = [], {}
    for name, piece in access_pieces(fmt, log_format):
        if name is not None and name in wanted:
            columns[name] = len(columns)
            parts.append(piece)
        elif name is not None:
            parts.append(_uncapture(piece))  # matched, not captured
        else:
            parts.append(piece)
    # str, not bytes: Counter over str keys is faster (cached hashes) and needs no per-key decode later
    return re.compile(b"".join(parts).decode(), re.MULTILINE | re.ASCII), columns


DEFAULT_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "common": ("status", "method", "path", "client"),
    "combined": ("status", "method", "path", "client"),
    "combined_timed": ("status", "method", "path", "client"),
    "nginx": ("status", "method", "path", "client"),  # those its log_format has
    "json": ("level",),
    "logfmt": ("level",),
    "syslog": ("program", "host", "severity"),
    "regex": (),
    "auto": (),
}
DEFAULT_MEASURES: dict[str, tuple[str, ...]] = {
    "common": ("bytes_sent",),
    "combined": ("bytes_sent",),
    "combined_timed": ("bytes_sent", "request_time", "upstream_time"),
    "nginx": ("bytes_sent", "request_time", "upstream_time"),  # those its log_format has
}
# the first bytes of gzip, bzip2, xz, zstd, lz4 and zip files: compressed logs are never read as text
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18", b"PK\x03\x04")
# the format of a file `auto` could not recognise: its lines are counted as errors, not parsed
UNKNOWN_FORMAT = "unknown"
FORMATS = ("auto", "combined", "common", "combined_timed", "nginx", "json", "logfmt", "syslog", "regex")
# Formats whose lines always have the same fields: a GROUP_BY / MEASURES name outside them is a typo.
SYSLOG_FIELDS = ("host", "program", "pid", "facility", "severity", "message", "msgid")
FIXED_FIELDS: dict[str, tuple[str, ...]] = {**ACCESS_FIELDS, "syslog": SYSLOG_FIELDS}


def format_fields(fmt: str, log_format: str | None = None) -> tuple[str, ...] | None:
    """The fields a format gives, or None when any name may occur (json, logfmt, regex, auto)."""
    if fmt == "nginx":
        return log_format_fields(log_format or "")
    return FIXED_FIELDS.get(fmt)


def default_measures(fmt: str) -> tuple[str, ...]:
    return DEFAULT_MEASURES.get(fmt, ())


@dataclass(frozen=True)
class ParserSpec:
    """Everything a parse function needs, passed explicitly (picklable)."""

    format: str
    dimensions: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    regex: str | None = None
    # user-requested extras, kept so `auto` can resolve them against the detected format
    extra_dimensions: tuple[str, ...] = ()
    extra_measures: tuple[str, ...] = ()
    log_format: str | None = None  # the nginx log_format string of format "nginx"
    # "now" for the year of RFC 3164 timestamps (they have none); None: the wall clock when a batch is parsed
    reference_time: float | None = None

    def resolved(self, fmt: str) -> ParserSpec:
        """The spec for a concrete format (used once `auto` has detected one)."""
        dims, measures = DEFAULT_DIMENSIONS.get(fmt, ()), DEFAULT_MEASURES.get(fmt, ())
        if fmt == "nginx":
            fields = log_format_fields(self.log_format or "")
            dims, measures = tuple(d for d in dims if d in fields), tuple(m for m in measures if m in fields)
        return ParserSpec(
            format=fmt,
            dimensions=tuple(dict.fromkeys(dims + self.extra_dimensions)),
            measures=tuple(dict.fromkeys(measures + self.extra_measures)),
            regex=self.regex,
            extra_dimensions=self.extra_dimensions,
            extra_measures=self.extra_measures,
            log_format=self.log_format,
            reference_time=self.reference_time,
        )


def build_spec(fmt: str, group_by: tuple[str, ...], measures: tuple[str, ...], regex: str | None, *,
               log_format: str | None = None, regex_var: str = "TAILSTAT_REGEX",
               format_var: str = "TAILSTAT_FORMAT", log_format_var: str = "TAILSTAT_NGINX_LOG_FORMAT",
               group_by_var: str = "TAILSTAT_GROUP_BY", measures_var: str = "TAILSTAT_MEASURES") -> ParserSpec:
    """The parser spec of one source; ConfigError (naming the variable) for anything that cannot work."""
    from tailstat.config import ConfigError

    if log_format and fmt == "auto":
        fmt = "nginx"
    if fmt == "nginx":
        if not log_format:
            raise ConfigError(f"{log_format_var} is empty but {format_var}=nginx; accepted: an nginx log_format "
                              "string such as $remote_addr - $remote_user [$time_local] \"$request\" $status ...")
        try:
            compile_log_format(log_format)
        except LogFormatError as exc:
            raise ConfigError(f"{log_format_var}={log_format!r} {exc}") from None
    elif log_format:
        raise ConfigError(f"{log_format_var} is set but {format_var}={fmt}; accepted: {format_var}=nginx (or "
                          "unset) with a log_format string")
    fields = format_fields(fmt, log_format)
    if fields is not None:
        for var, names in ((group_by_var, group_by), (measures_var, measures)):
            unknown = [n for n in names if n not in fields]
            if unknown:
                raise ConfigError(f"{var} names {unknown[0]!r}, which format {fmt} does not have; accepted: "
                                  f"{', '.join(fields)}")
        numeric = [f for f in fields if f not in TEXT_FIELDS]
        text = [n for n in measures if n in TEXT_FIELDS]
        if text:
            raise ConfigError(f"{measures_var} names {text[0]!r}, which is not a number in format {fmt}; "
                              f"accepted: {', '.join(numeric)} (count text fields with {group_by_var})")
    if fmt == "regex":
        if not regex:
            raise ConfigError(f"{regex_var} is empty but {format_var}=regex; accepted: a Python regular "
                              "expression with named groups, e.g. (?P<level>\\w+) (?P<msg>.*)")
        try:
            compiled = re.compile(regex.encode())
        except re.error as exc:
            raise ConfigError(f"{regex_var}={regex!r} does not compile ({exc}); accepted: a Python regular "
                              "expression with named groups") from None
        if not compiled.groupindex:
            raise ConfigError(f"{regex_var}={regex!r} has no named group; accepted: a Python regular expression "
                              "with named groups such as (?P<status>\\d+)")
        if not group_by:
            group_by = tuple(n for n in compiled.groupindex if n not in measures)
        unknown = [n for n in group_by + measures if n not in compiled.groupindex]
        if unknown:
            var = group_by_var if unknown[0] in group_by else measures_var
            raise ConfigError(f"{var} names {unknown[0]!r}, which is not a named group of {regex_var}; "
                              f"accepted: {', '.join(compiled.groupindex)}")
    base = ParserSpec(format=fmt, regex=regex, extra_dimensions=group_by, extra_measures=measures,
                      log_format=log_format)
    return base if fmt == "auto" else base.resolved(fmt)


# ---------------------------------------------------------------------------------------------- timestamps
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


# ------------------------------------------------------------------------------------------------ numbers
def to_number(value: object) -> float | None:
    """A measure value: numbers, and numbers given as strings; None for anything else (skipped)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, (str, bytes)):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def numeric_counter(raw: Counter, name: str, partial: Partial, dash_is_zero: bool = False) -> Counter:
    """Counter of raw values (bytes or str) -> Counter of floats; non-numbers counted as skipped.

    Runs once per distinct value of the batch, not per line."""
    out: Counter = Counter()
    for key, n in raw.items():
        try:
            number = float(key)
        except (ValueError, TypeError):
            if dash_is_zero and key in (b"-", "-"):
                out[0.0] += n
            else:
                number = to_number(key) if not isinstance(key, (bytes, str)) else None
                if number is None:
                    partial.skipped[f"not_a_number:{name}"] += n
                else:
                    out[number] += n
            continue
        if not math.isfinite(number):  # NaN or inf: not a measure
            partial.skipped[f"not_a_number:{name}"] += n
        else:
            out[number] += n
    return out


# formats whose measure columns the pattern restricts to digits (\d+ or \d+.\d+) or "-"
DIGIT_MEASURE_FORMATS = ("combined", "common", "combined_timed")


def measure_sketch(column: tuple[str, ...], name: str, partial: Partial, dash_is_zero: bool = False,
                   digits_only: bool = False) -> Quantiles:
    """One batch's values of a measure as a (small, mergeable) Quantiles sketch, built in the worker.

    A `-` is the log's "no value": 0 for a byte count (Apache's %b), else skipped as `missing:<name>` (nginx's
    $upstream_response_time when nothing was proxied). Fast path: every other value is a plain finite number,
    converted and bucketed by C-level maps. Otherwise (garbage, NaN) the values go through numeric_counter,
    which counts what it skips as `not_a_number:<name>`."""
    sketch = Quantiles()
    dashes = column.count("-")
    if dashes:
        column = tuple(filter("-".__ne__, column))
        if dash_is_zero:
            sketch.add_values([0.0] * dashes)
        else:
            partial.skipped[f"missing:{name}"] += dashes
    try:
        values = list(map(float, column))
    except ValueError:
        values = None
    # (a column the pattern already restricted to digits cannot hold "nan" or "inf")
    if values is not None and (digits_only or not (any(map(math.isinf, values)) or any(map(math.isnan, values)))):
        sketch.add_values(values)
    else:
        sketch.add_counts(numeric_counter(Counter(column), name, partial, dash_is_zero))
    return sketch


# ------------------------------------------------------------------------------------------- access logs
def _sample_failures(pattern: re.Pattern, text: str, partial: Partial, reason: str, missing: int) -> None:
    """Only for batches with failures: find up to 3 failing lines to sample."""
    partial.errors[reason] += missing
    for line in text.split("\n")[:-1]:
        if len(partial.samples) >= 3:
            break
        if not pattern.fullmatch(line):
            partial.samples.append(line[:SAMPLE_CHARS])


def parse_access(spec: ParserSpec, data: bytes) -> Partial:
    pattern, columns = access_pattern(spec.format, frozenset(spec.dimensions + spec.measures), spec.log_format)
    partial = Partial(lines=data.count(b"\n"), bytes=len(data))
    text = data.decode("utf-8", "replace")
    matches = pattern.findall(text)
    partial.parsed = len(matches)
    if partial.parsed < partial.lines:
        _sample_failures(pattern, text, partial, "no_match", partial.lines - partial.parsed)
    if not matches:
        return partial
    # findall gives tuples for two groups or more, the group itself for one
    cols = list(zip(*matches)) if pattern.groups > 1 else [tuple(matches)]
    for name in spec.dimensions:
        idx = columns.get(name)
        if idx is not None:
            partial.dims[name] = Column(cols[idx])  # counted by the store; "" (no method/path) dropped
    for name in spec.measures:
        idx = columns.get(name)
        if idx is not None:
            partial.measures[name] = measure_sketch(cols[idx], name, partial, dash_is_zero=name == "bytes_sent",
                                                    digits_only=spec.format in DIGIT_MEASURE_FORMATS)
    _access_minutes(cols, columns, partial)
    return partial


def _access_minutes(cols: list[tuple[str, ...]], columns: dict[str, int], partial: Partial) -> None:
    """Event-time minute x status class: one C-level Counter over "time+status" strings, then each distinct
    key (a few hundred per batch) is parsed through the minute cache."""
    status = columns.get("status")
    for name, to_minute in (("_time", _clf_text_minute), ("_time_iso", iso_minute), ("_msec", _epoch_minute)):
        idx = columns.get(name)
        if idx is None:
            continue
        if status is None:
            for key, n in Counter(cols[idx]).items():
                epoch = to_minute(key)
                if epoch is not None:
                    partial.minutes[(epoch, "")] += n
            return
        for key, n in Counter(map(operator.add, cols[idx], cols[status])).items():
            epoch = to_minute(key[:-3])
            if epoch is not None:
                partial.minutes[(epoch, key[-3] + "xx")] += n
        return


def _clf_text_minute(text: str) -> int | None:
    """'10/Oct/2000:13:55:36 -0700' -> epoch minute."""
    return clf_minute(text[:17], text[20:])


def _epoch_minute(text: str) -> int | None:
    if not text.isdigit() or len(text) > 12:
        return None
    secs = int(text)
    return secs // 60 if secs < MAX_EPOCH else None


# -------------------------------------------------------------------------------------- structured records
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


def aggregate_records(spec: ParserSpec, records: list[dict], partial: Partial) -> None:
    """Dimensions, measures and event minutes from already-decoded records (JSON, logfmt, regex)."""
    dims = {name: Counter() for name in spec.dimensions}
    values: dict[str, list[float]] = {name: [] for name in spec.measures}
    skipped = partial.skipped
    minutes: Counter = Counter()
    for record in records:
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
        ts = None
        for key in _TIME_KEYS:
            if key in record:
                ts = record[key]
                break
        if ts is not None:
            level = ""
            for key in _LEVEL_KEYS:
                if key in record:
                    level = as_label(record[key]).lower()
                    if level not in MINUTE_LEVELS:
                        level = "other"
                    break
            minutes[(ts if isinstance(ts, (str, int, float)) else None, level)] += 1
    partial.dims.update({k: v for k, v in dims.items() if v})
    for name, numbers in values.items():
        if numbers:
            sketch = partial.measures[name] = Quantiles()
            sketch.add_values(numbers)
    for (ts, level), n in minutes.items():
        epoch = any_minute(ts)
        if epoch is not None:
            partial.minutes[(epoch, level)] += n


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


def parse_regex(spec: ParserSpec, data: bytes) -> Partial:
    """A user pattern with named groups, which must match a whole line."""
    pattern = _compiled_user_regex(spec.regex or "")
    partial = Partial(lines=data.count(b"\n"), bytes=len(data))
    records = []
    for line in data.split(b"\n")[:-1]:
        if line.endswith(b"\r"):
            line = line[:-1]
        m = pattern.fullmatch(line)
        if m is None:
            partial.add_error("no_match" if pattern.search(line) is None else "partial_match", line)
            continue
        records.append({k: v.decode("utf-8", "replace") for k, v in m.groupdict().items() if v is not None})
    partial.parsed = len(records)
    aggregate_records(spec, records, partial)
    return partial


@lru_cache(maxsize=16)
def _compiled_user_regex(regex: str) -> re.Pattern:
    return re.compile(regex.encode())


PARSERS: dict[str, Callable[[ParserSpec, bytes], Partial]] = {
    "combined": parse_access,
    "common": parse_access,
    "combined_timed": parse_access,
    "nginx": parse_access,
    "json": parse_json,
    "logfmt": parse_logfmt,
    "syslog": parse_syslog,
    "regex": parse_regex,
}


def parse_batch(spec: ParserSpec, data: bytes) -> Partial:
    """The one entry point the pool runs: bytes of complete lines in, a Partial out."""
    return PARSERS[spec.format](spec, data)


# ---------------------------------------------------------------------------------------------- detection
# More specific formats first: a tie keeps the earlier one (a combined_timed line is a combined line with extra
# fields; a syslog message may contain key=value pairs).
DETECT_ORDER = ("json", "syslog", "combined_timed", "combined", "common", "logfmt")


def detect(head: bytes) -> str | None:
    """The format of a file from its first complete lines, or None when no format fits most of them."""
    lines = [ln for ln in head.split(b"\n")[:-1] if ln.strip()][:20]
    if not lines:
        return None
    sample = b"\n".join(lines) + b"\n"
    best, best_parsed = None, 0
    for fmt in DETECT_ORDER:  # more specific formats first: a tie keeps the earlier one
        parser = PARSERS.get(fmt)
        if parser is None:
            continue
        parsed = parser(ParserSpec(format=fmt), sample).parsed
        if parsed > best_parsed:
            best, best_parsed = fmt, parsed
    return best if best_parsed * 2 > len(lines) else None


def timed_parse(spec: ParserSpec, data: bytes) -> tuple[Partial, float]:
    """parse_batch and its seconds; a file of unknown format counts every line as an error."""
    started = time.perf_counter()
    if spec.format == UNKNOWN_FORMAT:
        lines = data.count(b"\n")
        partial = Partial(lines=lines, bytes=len(data), errors=Counter({"format_unknown": lines}))
    else:
        partial = parse_batch(spec, data)
    return partial, time.perf_counter() - started


def cut_long_lines(data: bytes, max_line: int) -> tuple[bytes, int]:
    """`data` (complete lines) with every line longer than `max_line` bytes cut to its first `max_line` bytes,
    and the number of bytes cut off (TAILSTAT_MAX_LINE_BYTES; counted as dropped.line_too_long)."""
    if len(data) <= max_line + 1:
        return data, 0
    lines = data.split(b"\n")
    if max(map(len, lines)) <= max_line:
        return data, 0
    kept = b"\n".join([line[:max_line] for line in lines])
    return kept, len(data) - len(kept)
