"""The reader: one stream's state, a bounded LRU of descriptors, reads, line cutting and batches.

Line cutting keeps back the trailing incomplete part of what was read (`Tracked.pending`, starting at file
offset `Tracked.line_start`): only bytes up to the end of the last complete *unit* are queued and, once merged,
committed. The unit is found by `LineCutter.unit_end(buf) -> int`: the offset just past the last complete unit in
`buf` (0 when there is none). Today it is the last newline (`last_line_end`). A multiline grouping (continuation
lines join the event before them) plugs in here: a function returning where the last *complete event* ends holds
back the trailing event exactly as an unterminated line is held back now, so a batch never splits an event, the
committed offset is always an event boundary, and after a crash the event is read again from its first line.
(A quiet-timeout flush of a held-back event goes through `LineCutter.flush`, which `Tailer._retire` already uses
for a finished file's unterminated last line.)
"""

from __future__ import annotations

import dataclasses
import errno
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tailstat.config import Config, Source
from tailstat.formats import ParserSpec, cut_long_lines
from tailstat.parse.multiline import Joiner
from tailstat.parse.text import learn_layout
from tailstat.tail.identity import FP_BYTES, fingerprint


@dataclass(slots=True)
class Batch:
    """Complete lines of one file: bytes [start, end) of key's stream (end is the offset to commit). `cut`: bytes
    cut off over-long lines in `data`, counted as dropped when the batch is committed (not when read, so a
    batch read again after a crash or discarded is not counted twice)."""

    key: str
    start: int
    end: int
    data: bytes
    spec: ParserSpec
    cut: int = 0


@dataclass(slots=True)
class Tracked:
    key: str
    path: str  # where the file is now
    origin: str  # the path it was first opened at: its rotations count against that path
    source: Source
    dev: int
    ino: int
    spec: ParserSpec | None = None  # None until `auto` has detected the format
    head: bytes = b""  # the file's first bytes (up to FP_BYTES): what a copy or a reused inode is told by
    fp: str = ""  # hash of head, as recorded in checkpoints
    pos: int = 0  # bytes of the file consumed (read) so far
    line_start: int = 0  # file offset where `pending` begins: everything before it is queued
    pending: bytes = b""
    skipping: bool = False  # inside an over-long line: drop bytes until its newline
    size: int = 0
    mtime_ns: int = 0
    status: str = "live"  # live (at a path the globs match) | rotated (elsewhere) | deleted
    fh: Any = None
    idle_since: float = field(default_factory=time.monotonic)
    rotations: int = 0
    truncations: int = 0
    skipped_at_start: int = 0  # bytes that existed at the first start with TAILSTAT_READ_FROM=end
    published: tuple = ()  # the record fields last written to the store, size aside (see Tailer._publish)


def pass_budget(cfg: Config) -> int:
    """Bytes one pass may read (per file, and over all files of a pass): enough for throughput, bounded so
    memory stays flat however far behind the files are."""
    return max(4 * cfg.batch_bytes, 4 << 20)


def set_head(t: Tracked, head: bytes) -> None:
    head = head[:FP_BYTES]
    if len(head) > len(t.head) or not t.fp:
        t.head, t.fp = head, fingerprint(head)


def last_line_end(buf: bytes) -> int:
    """The default unit: a line. Offset just past the last newline of `buf` (0: no complete line)."""
    return buf.rfind(b"\n") + 1


class Descriptors:
    """Open descriptors of tracked files, at most `limit`: the least recently read is closed first (it is
    reopened by path, and checked to be the same inode, when it is read again)."""

    def __init__(self, limit: int, on_error: Callable[[str, OSError], None],
                 on_ok: Callable[[str], None]) -> None:
        self.limit = limit
        self.open: OrderedDict[str, Tracked] = OrderedDict()
        self._on_error, self._on_ok = on_error, on_ok

    def __len__(self) -> int:
        return len(self.open)

    def get(self, t: Tracked) -> bool:
        """t has an open descriptor on its inode (opened now if need be)."""
        if t.fh is not None:
            self.open.move_to_end(t.key)
            return True
        try:
            fh = open(t.path, "rb", buffering=0)  # noqa: SIM115 - kept open across cycles, closed by close()
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                self._on_error(t.path, exc)
            return False
        st = os.fstat(fh.fileno())
        if (st.st_dev, st.st_ino) != (t.dev, t.ino):
            fh.close()
            return False
        self._on_ok(t.path)
        self.hold(t, fh)
        return True

    def hold(self, t: Tracked, fh: Any) -> None:
        t.fh = fh
        self.open[t.key] = t
        while len(self.open) > self.limit:
            _, oldest = self.open.popitem(last=False)
            if oldest.fh is not None:
                oldest.fh.close()
                oldest.fh = None

    def release(self, t: Tracked) -> Any:
        """Take t's descriptor away from it (not closed: the caller keeps it)."""
        fh, t.fh = t.fh, None
        self.open.pop(t.key, None)
        return fh

    def close(self, t: Tracked) -> None:
        if t.fh is not None:
            t.fh.close()
            t.fh = None
        self.open.pop(t.key, None)

    def close_all(self) -> None:
        for t in list(self.open.values()):
            self.close(t)


class LineCutter:
    """Turns chunks read from a stream into batches of complete units (see the module docstring)."""

    def __init__(self, cfg: Config, dropped: Callable[[str, int], None], detect: Callable[[Tracked, bytes], None],
                 unit_end: Callable[[bytes], int] = last_line_end) -> None:
        self.batch_bytes = cfg.batch_bytes
        self.max_line = cfg.max_line_bytes
        self._dropped = dropped
        self._detect = detect
        self.unit_end = unit_end  # the default, for sources without their own
        self._unit_ends: dict[str, Callable[[bytes], int]] = {}
        # multiline text (parse/multiline.py): a file's unit is an event; key -> (spec, its Joiner or None)
        self._joiners: dict[str, tuple[ParserSpec | None, Joiner | None]] = {}

    def _joiner(self, t: Tracked) -> Joiner | None:
        if t.spec is None or t.spec.format != "text":
            return None  # (only text events span lines: nothing kept for the other 10,000 files)
        if t.spec.layout is None and b"\n" in t.head:
            # a text file resumed from a checkpoint (whose record says only "text"): its header layout again,
            # from its first lines, for the whole file rather than per batch
            t.spec = dataclasses.replace(t.spec, layout=learn_layout(t.head[: t.head.rfind(b"\n") + 1]))
        known = self._joiners.get(t.key)
        if known is None or known[0] is not t.spec:
            # an event held back stays below half the line limit (never taken for one too long line) and below
            # a batch (a batch never splits an event below that size)
            bound = min(self.max_line // 2, self.batch_bytes)
            joiner = Joiner.for_spec(t.spec, t.head, bound) if t.spec is not None else None
            known = self._joiners[t.key] = (t.spec, joiner)
        return known[1]

    def _end_of_units(self, t: Tracked, buf: bytes) -> int:
        if t.spec is None and b"\n" in buf:  # detect first: the unit of a multiline text file is an event
            self._detect(t, buf[: buf.rfind(b"\n") + 1])
        joiner = self._joiner(t)
        if joiner is not None:
            return joiner.unit_end(buf)
        return (self._unit_ends.get(t.source.name, self.unit_end) if self._unit_ends else self.unit_end)(buf)

    def set_unit_end(self, source: str, unit_end: Callable[[bytes], int]) -> None:
        """Where the last complete unit of `source`'s files ends (e.g. a multiline event instead of a line)."""
        self._unit_ends[source] = unit_end

    def forget(self, key: str) -> None:
        self._joiners.pop(key, None)

    def flush_quiet(self, t: Tracked, out: list[Batch], quiet: float, now: float) -> None:
        """A multiline event held back while its writer has been quiet for `quiet` seconds is complete:
        queue its complete lines (an unterminated last line stays held)."""
        if not t.pending or t.skipping or now - t.idle_since < quiet or self._joiner(t) is None:
            return
        end = t.pending.rfind(b"\n") + 1
        if end:
            self.emit(t, t.pending[:end], t.line_start + end, out)
            t.pending = t.pending[end:]
            t.line_start = t.pos - len(t.pending)

    def cut(self, t: Tracked, chunk: bytes, out: list[Batch]) -> None:
        """Append chunk (which ends at file offset t.pos) and cut batches of complete units."""
        chunk_start = t.pos - len(chunk)
        if t.skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                self._dropped("line_too_long", len(chunk))
                return
            self._dropped("line_too_long", nl)
            self.emit(t, t.pending + b"\n", chunk_start + nl + 1, out)
            t.pending, t.skipping = b"", False
            chunk = chunk[nl + 1:]
            t.line_start = chunk_start + nl + 1
        buf = t.pending + chunk if t.pending else chunk
        end = self._end_of_units(t, buf)
        if end <= 0:
            t.pending = buf
        else:
            self.emit(t, buf[:end], t.line_start + end, out)
            t.pending = buf[end:]
            t.line_start = t.pos - len(t.pending)
        if len(t.pending) > self.max_line:
            self._dropped("line_too_long", len(t.pending) - self.max_line)
            t.pending, t.skipping = t.pending[:self.max_line], True

    def flush(self, t: Tracked, out: list[Batch]) -> None:
        """The stream is finished: its held-back last unit counts (an unterminated line, as in `tailstat scan`)."""
        if t.pending and not t.skipping:  # (a held multiline event already ends with its newline)
            self.emit(t, t.pending if t.pending.endswith(b"\n") else t.pending + b"\n", t.pos, out)
            t.line_start, t.pending = t.pos, b""

    def emit(self, t: Tracked, data: bytes, end: int, out: list[Batch]) -> None:
        if t.spec is None:
            self._detect(t, data)
        spec = t.spec or ParserSpec(format="unknown")
        limit = self.batch_bytes
        start = t.line_start  # data begins at the first byte not yet queued
        joiner = self._joiner(t)
        pos = 0
        while pos < len(data):
            stop = len(data) if len(data) - pos <= limit else data.rfind(b"\n", pos, pos + limit) + 1
            if joiner is not None and stop < len(data):  # batches of whole events (one longer: by lines)
                stop = pos + (joiner.unit_end(data[pos:stop]) or stop - pos)
            if stop <= pos:
                stop = data.find(b"\n", pos + limit) + 1 or len(data)
            piece, cut = cut_long_lines(data[pos:stop], self.max_line)  # offsets stay the file's
            piece_end = end if stop == len(data) else min(end, start + stop)
            out.append(Batch(t.key, start + pos, piece_end, piece, spec, cut))
            pos = stop


def read_new(t: Tracked, cutter: LineCutter, out: list[Batch], batch_bytes: int, budget: int,
             unbounded: bool) -> bool:
    """Read t's descriptor from t.pos to its end (or `budget` bytes unless `unbounded`) into batches.
    Returns True when the budget stopped it (more to read in a later pass)."""
    fd = t.fh.fileno()
    start = t.pos
    while True:
        chunk = os.pread(fd, batch_bytes, t.pos)
        if not chunk:
            return False
        t.pos += len(chunk)
        cutter.cut(t, chunk, out)
        if len(chunk) < batch_bytes:
            return False
        if t.pos - start >= budget and not unbounded:
            return True


def last_line_start(path: str, size: int) -> int:
    """Where reading from the end starts: at the start of an unfinished last line, so no line is cut."""
    if size == 0:
        return 0
    try:
        with open(path, "rb") as fh:
            back = min(size, 1 << 16)
            tail = os.pread(fh.fileno(), back, size - back)
    except OSError:
        return size
    nl = tail.rfind(b"\n")
    if nl >= 0:
        return size - back + nl + 1
    return 0 if back == size else size


def tail_sample(path: str, end: int, nbytes: int = 65536) -> bytes:
    """The complete lines just before `end` (up to nbytes): what a format is detected from when existing lines
    are skipped (TAILSTAT_READ_FROM=end)."""
    if end <= 0:
        return b""
    try:
        with open(path, "rb") as fh:
            back = min(end, nbytes)
            data = os.pread(fh.fileno(), back, end - back)
    except OSError:
        return b""
    if back < end:
        nl = data.find(b"\n")
        data = data[nl + 1:] if nl >= 0 else b""
    return data
