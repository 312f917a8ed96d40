"""The bare parse kernel: the fastest plain-CPython way to aggregate a combined log, and the baseline that
`tailstat scan` is measured against.

    python -m bench.kernel FILE [--processes N]      (or: python bench/kernel.py FILE ...)

Reads 1 MiB chunks (the partial last line is carried into the next chunk), runs one multiline ``re.findall``
over the bytes of a chunk, and feeds each column to ``Counter.update`` (a C loop).  Keys stay ``bytes``; nothing
is decoded.  Counted: status, method, path (the request target up to ``?``; the query string is dropped),
client, and the sum of ``$body_bytes_sent`` (``-`` counts as 0).  Only the fields up to the byte count are
matched: referer, user agent and any trailing fields (``$request_time``...) are not looked at.

``--processes N`` splits the file into N byte ranges that start after a newline, runs the kernel on each range
in its own process and merges the Counters.  Prints one JSON line: lines, seconds (wall), cpu_s (this process
plus its reaped children), and the details.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

CHUNK_BYTES = 1 << 20

# client ident user [time] "method target protocol" status bytes
COMBINED_RE = re.compile(
    rb'^(\S+) \S+ \S+ \[[^\]\n]*\] "(\S+) ([^ ?"\n]*)[^"\n]*" (\d{3}) (\d+|-)',
    re.MULTILINE,
)


# --full-line: tailstat's own whole-line combined pattern (str, only the used fields captured), so the ratio
# measures tailstat's pipeline overhead over the same essential parse, not a cheaper prefix-only match.
FULL_LINE = None


def use_full_line_pattern() -> None:
    global FULL_LINE
    from tailstat.formats import access_pattern

    FULL_LINE = access_pattern("combined", frozenset(("status", "method", "path", "client", "bytes_sent")))


@dataclass
class Aggregate:
    lines: int = 0  # newline-terminated lines seen (a last line without a newline counts too)
    matched: int = 0
    bytes_sent: int = 0
    status: Counter = field(default_factory=Counter)
    method: Counter = field(default_factory=Counter)
    path: Counter = field(default_factory=Counter)
    client: Counter = field(default_factory=Counter)

    def add_chunk(self, chunk: bytes) -> None:
        """`chunk` holds whole lines only."""
        self.lines += chunk.count(b"\n")
        if FULL_LINE is not None:
            pattern, cols = FULL_LINE
            rows = pattern.findall(chunk.decode("utf-8", "replace"))
        else:
            rows = COMBINED_RE.findall(chunk)
        if not rows:
            return
        self.matched += len(rows)
        if FULL_LINE is not None:
            columns = list(zip(*rows))
            clients, methods, paths, statuses, sizes = (
                columns[cols[n]] for n in ("client", "method", "path", "status", "bytes_sent"))
        else:
            clients, methods, paths, statuses, sizes = zip(*rows)
        self.client.update(clients)
        self.method.update(methods)
        self.path.update(paths)
        self.status.update(statuses)
        try:
            self.bytes_sent += sum(map(int, sizes))
        except ValueError:  # a "-" (Apache style) somewhere in the chunk
            self.bytes_sent += sum(int(s) for s in sizes if s not in (b"-", "-"))

    def merge(self, other: Aggregate) -> None:
        self.lines += other.lines
        self.matched += other.matched
        self.bytes_sent += other.bytes_sent
        self.status.update(other.status)
        self.method.update(other.method)
        self.path.update(other.path)
        self.client.update(other.client)

    def summary(self) -> dict[str, object]:
        def text(counter: Counter) -> dict[str, int]:
            return {k if isinstance(k, str) else k.decode("latin-1"): v for k, v in counter.most_common()}

        return {
            "lines": self.lines,
            "matched": self.matched,
            "unmatched": self.lines - self.matched,
            "bytes_sent": self.bytes_sent,
            "distinct_status": len(self.status),
            "distinct_method": len(self.method),
            "distinct_path": len(self.path),
            "distinct_client": len(self.client),
            "status": text(self.status),
            "method": text(self.method),
        }


def scan_range(path: str, start: int = 0, end: int | None = None) -> Aggregate:
    """Aggregate the lines in bytes [start, end) of `path`; start must be 0 or just after a newline."""
    agg = Aggregate()
    carry = b""
    with open(path, "rb", buffering=0) as f:
        f.seek(start)
        remaining = end - start if end is not None else None
        while remaining is None or remaining > 0:
            block = f.read(CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining))
            if not block:
                break
            if remaining is not None:
                remaining -= len(block)
            cut = block.rfind(b"\n")
            if cut < 0:
                carry += block
                continue
            agg.add_chunk(carry + block[: cut + 1])
            carry = block[cut + 1 :]
    if carry:
        agg.add_chunk(carry + b"\n")
    return agg


def split_ranges(path: str, parts: int) -> list[tuple[int, int]]:
    """`parts` byte ranges covering the file, each boundary just after a newline (ranges may be empty)."""
    size = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(size * k // parts, bounds[-1]))
            if f.tell() > 0:
                f.seek(f.tell() - 1)  # a boundary already at a line start must stay there
                f.readline()
            bounds.append(min(f.tell(), size))
    bounds.append(size)
    return list(pairwise(bounds))


def _scan_range_args(args: tuple[str, int, int]) -> Aggregate:
    return scan_range(*args)


def scan(path: str, processes: int = 1) -> Aggregate:
    if processes <= 1:
        return scan_range(path)
    ranges = split_ranges(path, processes)
    total = Aggregate()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for part in pool.imap(_scan_range_args, [(path, a, b) for a, b in ranges]):
            total.merge(part)
        pool.close()
        pool.join()  # reap the workers so RUSAGE_CHILDREN includes them
    return total


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bare parse kernel baseline")
    parser.add_argument("file")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--full-line", action="store_true", help="match whole lines with tailstat's pattern")
    args = parser.parse_args(argv)
    if args.full_line:
        use_full_line_pattern()

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    agg = scan(args.file, args.processes)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    result = {
        "lines": agg.lines,
        "seconds": round(seconds, 3),
        "cpu_s": round(cpu, 3),
        "processes": args.processes,
    }
    result |= agg.summary()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
