"""Format detection for `auto`: the format that parses most of a file's first lines."""

from __future__ import annotations

from tailstat.parse.batch import PARSERS
from tailstat.parse.spec import TEXT_PREFIX, ParserSpec
from tailstat.parse.text import learn_layout

# More specific formats first: a tie keeps the earlier one (a combined_timed line is a combined line with extra
# fields; a syslog message may contain key=value pairs).
DETECT_ORDER = ("json", "syslog", "combined_timed", "combined", "common", "logfmt")


def detect(head: bytes) -> str | None:
    """The format of a file from its first complete lines: a known format that parses most of them, else
    `text:<layout>` with the header layout learned from them (parse.text); None when there is no line yet."""
    lines = [ln for ln in head.split(b"\n")[:-1] if ln.strip()][:20]
    if not lines:
        return None
    sample = b"\n".join(lines) + b"\n"
    best, best_parsed = None, 0
    for fmt in DETECT_ORDER:  # more specific formats first: a tie keeps the earlier one
        parser = PARSERS.get(fmt)
        if parser is None:
            continue
        if fmt == "logfmt":  # a text log with key=value pairs in its messages is not logfmt
            keyed = [ln for ln in lines if b"=" in ln.split(None, 1)[0]]
            parsed = parser(ParserSpec(format=fmt), b"\n".join(keyed) + b"\n").parsed if keyed else 0
        else:
            parsed = parser(ParserSpec(format=fmt), sample).parsed
        if parsed > best_parsed:
            best, best_parsed = fmt, parsed
    if best_parsed * 2 > len(lines):
        return best
    return TEXT_PREFIX + learn_layout(sample)
