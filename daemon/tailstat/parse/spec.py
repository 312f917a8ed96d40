"""The parser spec of a source: its format, dimensions and measures (picklable), and the format tables.

`build_spec` validates a source's settings against the format and raises ConfigError naming the variable.
"""

from __future__ import annotations

import functools

import re
from dataclasses import dataclass, replace

from tailstat.errors import ConfigError
from tailstat.parse.access import ACCESS_FIELDS
from tailstat.parse.logformat import TEXT_FIELDS, LogFormatError, compile_log_format, log_format_fields
from tailstat.parse.text import TEXT_FIELDS as TEXT_FORMAT_FIELDS

DEFAULT_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "common": ("status", "method", "path", "client"),
    "combined": ("status", "method", "path", "client"),
    "combined_timed": ("status", "method", "path", "client"),
    "nginx": ("status", "method", "path", "client"),  # those its log_format has
    "json": ("level",),
    "logfmt": ("level",),
    "syslog": ("program", "host", "severity"),
    "regex": (),
    "text": ("level", "level_raw", "logger", "pattern"),
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
FORMATS = ("auto", "combined", "common", "combined_timed", "nginx", "json", "logfmt", "syslog", "regex", "text")
# Formats whose lines always have the same fields: a GROUP_BY / MEASURES name outside them is a typo.
SYSLOG_FIELDS = ("host", "program", "pid", "facility", "severity", "message", "msgid")
FIXED_FIELDS: dict[str, tuple[str, ...]] = {**ACCESS_FIELDS, "syslog": SYSLOG_FIELDS, "text": TEXT_FORMAT_FIELDS}
# `text` detection results carry the learned header layout: "text:<layout>" (see parse.text.learn_layout)
TEXT_PREFIX = "text:"


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
    # seconds per window slot (the daemon's TAILSTAT_WINDOW_SLOT): parse functions tag each batch's lines with
    # their event-time slots (eventtime.split_slots); None: no windows (`tailstat scan`), nothing computed
    slot_seconds: float | None = None
    # `tailstat scan --since/--until`: only lines whose own time is in [since, until) are counted (epoch seconds)
    since: float | None = None
    until: float | None = None
    event_span: bool = False  # `tailstat scan`: note each batch's earliest and latest event time (its rates)
    source: str = "default"  # the source's name: patterns are mined per source
    # `text`: the header layout learned from the file's first lines (None: learned from each batch)
    layout: str | None = None
    multiline: bool = True  # `text`: continuation lines join the event before them (TAILSTAT_MULTILINE)
    multiline_max_lines: int = 500  # an event longer than this many lines goes on as a new event

    def resolved(self, fmt: str) -> ParserSpec:
        """The spec for a concrete format (used once `auto` has detected one; `text:<layout>` for text). One
        object per (spec, format): the 10,000 files of one source share theirs (it is frozen)."""
        return _resolved(self, fmt)

    def _resolve(self, fmt: str) -> ParserSpec:
        if fmt.startswith(TEXT_PREFIX):
            return replace(self.resolved("text"), layout=fmt[len(TEXT_PREFIX):] or None)
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
            slot_seconds=self.slot_seconds,
            since=self.since,
            until=self.until,
            event_span=self.event_span,
            source=self.source,
            multiline=self.multiline,
            multiline_max_lines=self.multiline_max_lines,
        )


def build_spec(fmt: str, group_by: tuple[str, ...], measures: tuple[str, ...], regex: str | None, *,
               log_format: str | None = None, regex_var: str = "TAILSTAT_REGEX",
               format_var: str = "TAILSTAT_FORMAT", log_format_var: str = "TAILSTAT_NGINX_LOG_FORMAT",
               group_by_var: str = "TAILSTAT_GROUP_BY", measures_var: str = "TAILSTAT_MEASURES",
               source: str = "default", multiline: bool = True, multiline_max_lines: int = 500) -> ParserSpec:
    """The parser spec of one source; ConfigError (naming the variable) for anything that cannot work."""
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
    if fmt == "text" and measures:
        raise ConfigError(f"{measures_var} names {measures[0]!r}, but format text has no numeric fields; accepted: "
                          f"nothing (count text fields with {group_by_var}: {', '.join(TEXT_FORMAT_FIELDS)})")
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
                      log_format=log_format, source=source, multiline=multiline,
                      multiline_max_lines=multiline_max_lines)
    return base if fmt == "auto" else base.resolved(fmt)


@functools.lru_cache(maxsize=1024)  # (sources x formats x text layouts: a few; bounded all the same)
def _resolved(spec: ParserSpec, fmt: str) -> ParserSpec:
    return spec._resolve(fmt)
