"""Access logs: combined, common, combined_timed, and nginx `log_format` strings compiled by logformat.py.

One `findall` over the whole batch (C speed), transposed into columns; only batches that contain unparseable
lines pay for a per-line pass, to sample them.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

from tailstat.eventtime import nothing_parsed, split_slots
from tailstat.parse.common import DIGIT_MEASURE_FORMATS, measure_sketch
from tailstat.parse.logformat import REQUEST_PIECES, compile_log_format
from tailstat.parse.timestamps import (
    MAX_EPOCH,
    clf_minute,
    clf_seconds,
    epoch_text_seconds,
    iso_minute,
    iso_seconds,
)
from tailstat.partial import SAMPLE_CHARS, Column, Partial

if TYPE_CHECKING:
    from tailstat.parse.spec import ParserSpec

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
        return nothing_parsed(partial, spec)
    # findall gives tuples for two groups or more, the group itself for one
    cols = list(zip(*matches)) if pattern.groups > 1 else [tuple(matches)]
    keys, to_seconds = (None,) * len(matches), clf_seconds  # a log_format without a time: no event times
    for name, convert in (("_time", clf_seconds), ("_time_iso", iso_seconds), ("_msec", epoch_text_seconds)):
        idx = columns.get(name)
        if idx is not None:
            keys, to_seconds = cols[idx], convert
            break
    if not split_slots(partial, spec, keys, to_seconds, lambda lines: _columns_part(spec, cols, columns, lines)):
        _aggregate_columns(spec, cols, columns, partial)
    return partial


def _columns_part(spec: ParserSpec, cols: list[tuple[str, ...]], columns: dict[str, int],
                  lines: list[int]) -> Partial:
    """The partial of some of a batch's matched lines (one window slot's)."""
    part = Partial()
    if lines[-1] - lines[0] + 1 == len(lines):  # a run of lines (logs are mostly in time order): slices
        first, stop = lines[0], lines[-1] + 1
        _aggregate_columns(spec, [col[first:stop] for col in cols], columns, part)
        return part
    pick = operator.itemgetter(*lines) if len(lines) > 1 else (lambda col: (col[lines[0]],))
    _aggregate_columns(spec, [pick(col) for col in cols], columns, part)
    return part


def _aggregate_columns(spec: ParserSpec, cols: list[tuple[str, ...]], columns: dict[str, int],
                       partial: Partial) -> None:
    """Dimensions, measures and event minutes of matched lines, given as columns."""
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
