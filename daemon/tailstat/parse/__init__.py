"""Parse stage: pure functions from a batch of complete lines (bytes) to a Partial.

No I/O, no shared mutable state, no locks: the same functions run in a thread pool or a process pool.

One module per format family: access (combined, common, combined_timed, nginx via logformat), syslog (RFC 3164
and 5424), structured (json, logfmt), regex; spec (ParserSpec, build_spec, the format tables), timestamps and
common (shared helpers), batch (parse_batch, the entry point the pool runs), detect (what `auto` picks).
"""

from __future__ import annotations

from tailstat.parse.access import ACCESS_FIELDS, access_pattern, access_pieces, parse_access
from tailstat.parse.batch import PARSERS, cut_long_lines, parse_batch, timed_parse
from tailstat.parse.common import DIGIT_MEASURE_FORMATS, measure_sketch, numeric_counter, to_number
from tailstat.parse.detect import DETECT_ORDER, detect
from tailstat.parse.regex import parse_regex
from tailstat.parse.spec import (
    COMPRESSED_MAGIC,
    DEFAULT_DIMENSIONS,
    DEFAULT_MEASURES,
    FIXED_FIELDS,
    FORMATS,
    SYSLOG_FIELDS,
    UNKNOWN_FORMAT,
    ParserSpec,
    build_spec,
    default_measures,
    format_fields,
)
from tailstat.parse.structured import (
    MINUTE_LEVELS,
    aggregate_records,
    as_label,
    lookup,
    parse_json,
    parse_logfmt,
    parse_logfmt_line,
)
from tailstat.parse.syslog import parse_syslog
from tailstat.parse.timestamps import MAX_EPOCH, any_minute, clf_minute, iso_minute

__all__ = [
    "ACCESS_FIELDS",
    "COMPRESSED_MAGIC",
    "DEFAULT_DIMENSIONS",
    "DEFAULT_MEASURES",
    "DETECT_ORDER",
    "DIGIT_MEASURE_FORMATS",
    "FIXED_FIELDS",
    "FORMATS",
    "MAX_EPOCH",
    "MINUTE_LEVELS",
    "PARSERS",
    "SYSLOG_FIELDS",
    "UNKNOWN_FORMAT",
    "ParserSpec",
    "access_pattern",
    "access_pieces",
    "aggregate_records",
    "any_minute",
    "as_label",
    "build_spec",
    "clf_minute",
    "cut_long_lines",
    "default_measures",
    "detect",
    "format_fields",
    "iso_minute",
    "lookup",
    "measure_sketch",
    "numeric_counter",
    "parse_access",
    "parse_batch",
    "parse_json",
    "parse_logfmt",
    "parse_logfmt_line",
    "parse_regex",
    "parse_syslog",
    "timed_parse",
    "to_number",
]
