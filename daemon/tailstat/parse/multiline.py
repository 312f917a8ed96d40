"""Multiline events for readers: where a chunk of complete lines may be cut so no event is split.

A reader hands the parse stage batches of complete lines. For the `text` format with TAILSTAT_MULTILINE=on, an
event (a log line and its stack trace) must not be split between two batches, or its continuation lines would
count as an event of their own. `Joiner` is the pure, per-file piece a reader keeps: it is fed chunks of
complete lines and returns the part that holds only complete events, keeping back the last event, which the
next chunk may continue. An event is complete when the next event's first line has been seen, when the file's
writer has been quiet for a while (`flush`, the reader's decision), or when it reaches the bounds
(TAILSTAT_MULTILINE_MAX_LINES lines, or `max_bytes`): then it is cut there like parse_text would.

Offsets stay exact: the reader commits (and checkpoints) only the bytes it emitted, so after a crash the held
event is read again from its first line. No I/O here; `tests/test_multiline.py` checks the invariants against
every way of cutting a file into chunks.

The hook for the reader (tail/): keep one Joiner per file while its spec is `text` with multiline on
(`Joiner.for_spec` returns None otherwise), pass each chunk of complete lines through `feed`, queue what it
returns with the end offset `chunk_end - joiner.held`, and call `flush` after the quiet timeout or at EOF of
a rotated file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from tailstat.parse.text import CONTINUATION, layout_parts, learn_layout

if TYPE_CHECKING:
    from tailstat.parse.spec import ParserSpec

DEFAULT_MAX_BYTES = 1 << 20  # an event held back is never larger than this (TAILSTAT_MAX_LINE_BYTES-like)


@lru_cache(maxsize=256)
def event_start(layout: str) -> re.Pattern[bytes]:
    """A pattern matching the first line of an event of a `text` layout (with re.MULTILINE, at a line start)."""
    head, body = layout_parts(layout)
    if head or body:  # the timestamp, else the level (as parse_text tells events apart)
        return re.compile(("^(?:" + (head or body) + ")").encode(), re.MULTILINE)
    # no header at all: any line that does not look like a continuation starts an event
    return re.compile(b"^(?!" + CONTINUATION.pattern.encode() + rb"|\r?$)", re.MULTILINE)


def may_hold(spec: ParserSpec) -> bool:
    """Whether a reader of a file of this spec can hold back an event (a Joiner): `text` with multiline on,
    or `auto`, which may detect `text`."""
    return spec.multiline and spec.format in ("text", "auto")


class Joiner:
    """Cuts one file's stream of complete lines at event boundaries. Pure: bytes in, bytes out."""

    __slots__ = ("_pending", "_start", "max_bytes", "max_lines")

    def __init__(self, start: re.Pattern[bytes], max_lines: int = 500, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._start = start
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._pending = b""  # the last event seen so far (complete lines), not yet emitted

    @classmethod
    def for_spec(cls, spec: ParserSpec, head: bytes = b"", max_bytes: int = DEFAULT_MAX_BYTES) -> Joiner | None:
        if spec.format != "text" or not spec.multiline:
            return None
        layout = spec.layout or learn_layout(head)
        return cls(event_start(layout), spec.multiline_max_lines, max_bytes)

    @property
    def held(self) -> int:
        """Bytes fed but not emitted yet: the reader's committed offset is its read offset minus these."""
        return len(self._pending)

    def feed(self, data: bytes) -> bytes:
        """`data`: complete lines. Returns the complete events among what is held plus `data` (maybe b"")."""
        buf = self._pending + data if self._pending else data
        cut = self._last_start(buf)
        cut = max(0, cut)
        out, rest = buf[:cut], buf[cut:]
        # bounds: an event too long is cut like parse_text cuts it (every max_lines lines), or by bytes
        if rest.count(b"\n") >= self.max_lines or len(rest) >= self.max_bytes:
            keep = _tail_lines(rest, self.max_lines, self.max_bytes)
            out, rest = out + rest[:len(rest) - keep], rest[len(rest) - keep:]
        self._pending = rest
        return out

    def unit_end(self, buf: bytes) -> int:
        """For a reader that keeps the unread tail itself (tail/reader.py's `LineCutter.unit_end` hook): the
        offset just past the last complete event of `buf` (complete lines, maybe followed by an unterminated
        one), 0 when there is none yet. Stateless; the same bounds as `feed`."""
        line_end = buf.rfind(b"\n") + 1
        if not line_end:
            return 0
        lines = buf[:line_end] if line_end < len(buf) else buf
        cut = max(0, self._last_start(lines))
        rest = lines[cut:]
        if rest.count(b"\n") >= self.max_lines or len(rest) >= self.max_bytes:
            cut = line_end - _tail_lines(rest, self.max_lines, self.max_bytes)
        return cut

    def flush(self) -> bytes:
        """The held event, complete now (the writer was quiet, or the file ended)."""
        out, self._pending = self._pending, b""
        return out

    def next_start(self, buf: bytes, pos: int = 0) -> int:
        """Offset of the first line at or after the line start `pos` of `buf` that starts an event, or -1
        (used to cut a file into ranges for parallel workers at event boundaries)."""
        m = self._start.search(buf, pos)
        return m.start() if m else -1

    def _last_start(self, buf: bytes) -> int:
        """Offset of the last line of `buf` that starts an event (0: only the first line, or none)."""
        pos = len(buf) - 1  # buf ends with a newline: look for line starts backwards, a window at a time
        window = 64 << 10
        while pos > 0:
            lo = max(0, buf.rfind(b"\n", 0, max(0, pos - window)) + 1)
            last = -1
            for m in self._start.finditer(buf, lo, pos):
                last = m.start()
            if last > 0:
                return last
            if lo == 0:
                return 0
            pos = lo
        return 0


def _tail_lines(rest: bytes, max_lines: int, max_bytes: int) -> int:
    """How many bytes of an over-long held event to keep: the lines after the last full `max_lines` run,
    within `max_bytes`."""
    lines = rest.count(b"\n")
    keep_lines = lines % max_lines
    if keep_lines == 0:
        return 0
    start = len(rest)
    for _ in range(keep_lines):
        start = rest.rfind(b"\n", 0, start - 1) + 1
    keep = len(rest) - start
    return keep if keep < max_bytes else 0
