"""The entry point the pool runs: one parse function per format, bytes of complete lines in, a Partial out."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from tailstat.parse.access import parse_access
from tailstat.parse.regex import parse_regex
from tailstat.parse.spec import UNKNOWN_FORMAT, ParserSpec
from tailstat.parse.structured import parse_json, parse_logfmt
from tailstat.parse.syslog import parse_syslog
from tailstat.parse.text import parse_text
from tailstat.partial import Partial

PARSERS: dict[str, Callable[[ParserSpec, bytes], Partial]] = {
    "combined": parse_access,
    "common": parse_access,
    "combined_timed": parse_access,
    "nginx": parse_access,
    "json": parse_json,
    "logfmt": parse_logfmt,
    "syslog": parse_syslog,
    "regex": parse_regex,
    "text": parse_text,
}


def parse_batch(spec: ParserSpec, data: bytes) -> Partial:
    """The one entry point the pool runs: bytes of complete lines in, a Partial out."""
    return PARSERS[spec.format](spec, data)


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
