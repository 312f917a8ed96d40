"""`tailstat scan`: read files to their end with the daemon's own parse and aggregate code."""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future

from tailstat.aggregate import Store
from tailstat.config import Config
from tailstat.formats import UNKNOWN_FORMAT, ParserSpec, cut_long_lines, detect, timed_parse
from tailstat.inputs import Input, open_input, read_errors, stream_chunks
from tailstat.parse.multiline import Joiner
from tailstat.partial import Partial

RANGE_BYTES = 16 << 20  # a process worker's share of a file per task


def _chunks(path: str, size: int) -> Iterator[tuple[int, bytes]]:
    """(offset_end, bytes of complete lines) pieces of a file, streaming; a final unterminated line counts.

    Each read starts at a line start (pread at the offset after the last complete line), so a piece is the
    read itself or one slice of it: nothing is carried over and joined."""
    with open(path, "rb", buffering=0) as fh:
        fd = fh.fileno()
        offset = 0
        while chunk := os.pread(fd, size, offset):
            cut = chunk.rfind(b"\n") + 1  # 0: no newline in this read
            if not cut:  # one line longer than `size`: read on to its newline
                parts, read = [chunk], offset + len(chunk)
                while more := os.pread(fd, size, read):
                    read += len(more)
                    nl = more.find(b"\n") + 1
                    parts.append(more[:nl] if nl else more)
                    if nl:
                        break
                chunk = b"".join(parts)
                cut = len(chunk) if chunk.endswith(b"\n") else 0
            if not cut:  # the file ends inside this line
                yield offset + len(chunk), chunk + b"\n"
                return
            offset += cut
            yield offset, chunk if cut == len(chunk) else chunk[:cut]


def read_range(path: str, start: int, end: int, batch_bytes: int) -> Generator[bytes, None, int]:
    """Batches of the complete lines that *start* inside [start, end): a worker reads its own share of a file
    (the main process only hands out offsets). Ranges cut anywhere; each line belongs to exactly one range.
    Returns (as StopIteration.value) how many bytes it added: 1 for the newline of a final unterminated line."""
    with open(path, "rb") as fh:
        if start > 0:
            fh.seek(start - 1)
            fh.readline()  # the line holding byte start-1 belongs to the previous range
        pos = fh.tell()
        pending = b""
        while pos + len(pending) < end or pending:
            chunk = fh.read(batch_bytes)
            if not chunk:
                if pending and pos < end:
                    yield pending + b"\n"  # a final line without its newline
                    return 1
                return 0
            buf = pending + chunk if pending else chunk
            cut = buf.rfind(b"\n")
            if cut < 0:
                pending = buf
                continue
            limit = end - pos  # lines starting before index `limit` are ours
            if cut >= limit - 1:
                yield buf[: buf.find(b"\n", max(limit - 1, 0)) + 1]
                return 0
            yield buf[: cut + 1]
            pending = buf[cut + 1:]
            pos += cut + 1
    return 0  # the range began inside a line that runs past its end: nothing of it is ours


def parse_range(spec: ParserSpec, path: str, start: int, end: int, batch_bytes: int, capacity: int,
                max_line: int) -> tuple[Partial, int]:
    """Process-pool work item: read, parse and pre-merge one byte range; return a bounded partial and the bytes
    cut off over-long lines."""
    total = Partial()
    cut = 0
    batches = read_range(path, start, end, batch_bytes)
    joiner = Joiner.for_spec(spec)  # multiline text: batches cut between events (ranges begin at one)
    while True:
        try:
            data = next(batches)
        except StopIteration as done:
            if joiner is not None and joiner.held:
                total.absorb(timed_parse(spec, joiner.flush())[0])
            total.bytes -= done.value  # a newline added to a final line is not the file's
            break
        data, dropped = cut_long_lines(data, max_line)
        cut += dropped
        if joiner is not None:
            data = joiner.feed(data)
            if not data:
                continue
        partial, _ = timed_parse(spec, data)
        total.absorb(partial)
    return total.compact(capacity), cut


def range_starts(spec: ParserSpec, path: str, size: int) -> list[int]:
    """Where the process workers' byte ranges begin: every RANGE_BYTES, moved on to the next event's first
    line for multiline text (so no event is split between two workers), within 64 KiB."""
    starts = list(range(0, size, RANGE_BYTES))
    joiner = Joiner.for_spec(spec)
    if joiner is None or len(starts) < 2:
        return starts
    out = [0]
    with open(path, "rb") as fh:
        for start in starts[1:]:
            fh.seek(start - 1)
            window = fh.read(64 << 10)
            line = window.find(b"\n") + 1  # the first line that starts at or after `start`
            found = joiner.next_start(window, line) if line else -1
            if found >= 0 and start - 1 + found > out[-1]:
                out.append(start - 1 + found)
    return out


def resolve_spec(spec: ParserSpec, path: str) -> ParserSpec:
    if spec.format != "auto":
        return spec
    with open(path, "rb") as fh:
        head = fh.read(65536)
    return resolve_head(spec, head, path)


def resolve_head(spec: ParserSpec, head: bytes, name: str) -> ParserSpec:
    """`spec`, or for `auto` the format detected from an input's first bytes."""
    if spec.format != "auto":
        return spec
    fmt = detect(head[: head.rfind(b"\n") + 1])
    if fmt is None:
        print(f"tailstat: {name}: format not recognised (set TAILSTAT_FORMAT or --format)", file=sys.stderr)
        return ParserSpec(format=UNKNOWN_FORMAT)
    return spec.resolved(fmt)


def parse_chunk(spec: ParserSpec, data: bytes, added: int, capacity: int, max_line: int) -> tuple[Partial, int]:
    """Process-pool work item for a streamed input (stdin, a pipe, decompressed content): one chunk of lines."""
    data, cut = cut_long_lines(data, max_line)
    partial, _ = timed_parse(spec, data)
    partial.bytes -= added  # a newline added to a final line is not the input's
    return partial.compact(capacity), cut


def scan_files(cfg: Config, spec: ParserSpec, paths: list[str | Input], progress: bool = False,
               report: Callable[[str, str], None] | None = None) -> Store:
    """Scan files (paths or opened inputs.Input: stdin, pipes, compressed). An input whose content fails part
    way is told to `report(name, message)` (the lines before are counted); without `report` it raises."""
    inputs = [p if isinstance(p, Input) else open_input(p) for p in paths]
    store = Store(cfg.topk_capacity, cfg.event_minutes, patterns_max=cfg.patterns_max)
    store.expect_fields("default", spec.extra_dimensions)
    # Thread mode parses right here: under the GIL more parse threads add no CPU to a one-shot scan, only
    # hand-offs (the daemon's pool exists to keep its event loop free; a scan has no loop to keep free).
    executor = None
    if cfg.executor == "process":
        # imported here: the pipeline module pulls in asyncio and structlog, which a thread-mode scan never uses
        from tailstat.pipeline import make_executor

        executor = make_executor("process", cfg.workers)
    inflight: deque[tuple[str, int, Future]] = deque()
    total = sum(inp.size for inp in inputs if inp.plain)
    bar = _progress(total) if progress else None
    try:
        for inp in inputs:
            if not inp.plain:
                try:
                    _scan_stream(cfg, spec, inp, store, executor, inflight, bar, report)
                finally:
                    inp.close()
                continue
            path, size = inp.arg, inp.size
            file_spec = resolve_spec(spec, path)
            store.upsert_file(path, path=path, format=file_spec.format, size=size, **_identity(inp))
            if cfg.executor == "process":
                # workers read their own byte ranges; only offsets and bounded partials cross processes
                starts = range_starts(file_spec, path, size)
                for start, end in zip(starts, [*starts[1:], size]):
                    inflight.append((path, end, executor.submit(parse_range, file_spec, path, start, end,
                                                                cfg.batch_bytes, cfg.topk_capacity,
                                                                cfg.max_line_bytes)))
                    while len(inflight) > 2 * cfg.workers:
                        _merge_one(store, inflight, bar)
                continue
            done = 0
            joiner = Joiner.for_spec(file_spec)  # multiline text: batches cut between events
            for end, data in _chunks(path, cfg.batch_bytes):
                added = len(data) - (end - done)  # 1 for a final line's newline, which is not the file's
                done = end
                data, dropped = cut_long_lines(data, cfg.max_line_bytes)
                if dropped:
                    store.add_dropped("line_too_long", 0, dropped)
                held = 0
                if joiner is not None:
                    data = joiner.feed(data)
                    held = joiner.held
                # `added` belongs to the file's last line: held back with it, if a joiner holds anything
                _merge_chunk(store, file_spec, data, path, end - held, 0 if held else added, bar, dropped)
            if joiner is not None and joiner.held:
                _merge_chunk(store, file_spec, joiner.flush(), path, done, added, bar, 0)
        while inflight:
            _merge_one(store, inflight, bar)
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.stop()
    return store


def _merge_chunk(store: Store, spec: ParserSpec, data: bytes, path: str, end: int, added: int, bar,
                 dropped: int) -> None:
    """Parse and merge one chunk of a file scanned in this process; `added`: a newline the file lacks."""
    partial, _ = timed_parse(spec, data)
    partial.bytes = max(0, partial.bytes - added)  # (0 when --since/--until kept no line)
    store.merge(partial, path, end)
    if bar is not None:
        bar.advance(partial.bytes + dropped)


def _identity(inp: Input) -> dict:
    return {"identity": inp.identity} if inp.identity else {}


def _scan_stream(cfg: Config, spec: ParserSpec, inp: Input, store: Store, executor, inflight: deque, bar,
                 report: Callable[[str, str], None] | None) -> None:
    """One streamed input, read in order here; in process mode its chunks are parsed by the workers."""
    assert inp.stream is not None
    name = inp.name
    file_spec = None
    joiner = None
    done = last_added = 0

    def emit(data: bytes, end: int, added: int) -> None:
        if executor is not None:
            inflight.append((name, end, executor.submit(parse_chunk, file_spec, data, added,
                                                        cfg.topk_capacity, cfg.max_line_bytes)))
            while len(inflight) > 2 * cfg.workers:
                _merge_one(store, inflight, None)
            return
        data, dropped = cut_long_lines(data, cfg.max_line_bytes)
        if dropped:
            store.add_dropped("line_too_long", 0, dropped)
        partial, _ = timed_parse(file_spec, data)
        partial.bytes -= added
        store.merge(partial, name, end)

    try:
        for end, data in stream_chunks(inp.stream, cfg.batch_bytes):
            if file_spec is None:
                file_spec = resolve_head(spec, data[:65536], name)
                store.upsert_file(name, path=name, format=file_spec.format, compression=inp.compression,
                                  **_identity(inp))
                joiner = Joiner.for_spec(file_spec)  # multiline text: chunks cut between events
            added = last_added = len(data) - (end - done)
            done = end
            if joiner is not None:
                data = joiner.feed(data)
                end -= joiner.held
                if joiner.held:
                    added = 0  # a final line's added newline is in what is held back
            emit(data, end, added)
        if joiner is not None and joiner.held:
            emit(joiner.flush(), done, last_added)
    except read_errors() as exc:
        if report is None:
            raise
        what = f"its {inp.compression} content" if inp.compression else "it"
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        report(name, f"cannot read {what} past byte {done:,} ({reason}); the complete lines before are counted")
    if file_spec is None:  # empty
        store.upsert_file(name, path=name, format=spec.format, compression=inp.compression, **_identity(inp))
    store.upsert_file(name, size=done)


def _merge_one(store: Store, inflight: deque, bar) -> None:
    key, end, fut = inflight.popleft()
    partial, dropped = fut.result()
    if dropped:
        store.add_dropped("line_too_long", 0, dropped)
    store.merge(partial, key, end)
    if bar is not None:
        bar.advance(partial.bytes)


class _progress:
    """A rich progress bar on stderr, only for big inputs on a terminal."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.p = Progress(BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                          console=Console(stderr=True), transient=True)
        self.task = self.p.add_task("scan", total=total)
        self.p.start()

    def advance(self, n: int) -> None:
        self.p.advance(self.task, n)

    def stop(self) -> None:
        self.p.stop()
