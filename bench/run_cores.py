"""Many-core scaling of `tailstat scan --executor process`: throughput with 1, 2, 4 … N workers against one
worker, in the same run (issue 7's target: at least 6x one worker on 16 cores, 2,000,000 combined lines).

    python -m bench.run_cores [--lines 2000000] [--workers 1,2,4,8,16] [--repeat 2] [--out FILE]

Workers read their own byte ranges of the file (the main process only hands out offsets) and return bounded
partials (dimension Counters above TAILSTAT_TOPK_CAPACITY become sketches in the worker), so the serial work in
the main process does not grow with the data. Each row's counts are checked against the 1-worker row: low-
cardinality dimensions must be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bench.anchors import count_lines
from bench.measure import Row, markdown_table, report, run_measured
from bench.run_scan import ensure_log


def scan(path: Path, workers: int) -> tuple[Row, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
    env |= {"TAILSTAT_EXECUTOR": "process", "TAILSTAT_WORKERS": str(workers)}
    argv = [sys.executable, "-m", "tailstat", "scan", "--json", "--format", "combined", "--top", "20", str(path)]
    m = run_measured(argv, env=env).check()
    doc = json.loads(m.stdout)
    row = Row(f"process, {workers} worker{'s' if workers > 1 else ''}", doc["totals"]["lines"], m.wall_s, m.cpu_s,
              path.stat().st_size, m.peak_rss_mb)
    return row, doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--workers", default=None, help="comma list (default: 1, 2, 4 … up to the CPU count)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per row; the fastest counts")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    cpus = os.cpu_count() or 1
    if args.workers:
        counts = [int(w) for w in args.workers.split(",")]
    else:
        counts = sorted({1, cpus} | {2 ** k for k in range(1, 8) if 2 ** k < cpus})
    path = ensure_log(args.lines)
    lines = count_lines(path)
    rows, base_doc = [], None
    for workers in counts:
        row, doc = min((scan(path, workers) for _ in range(args.repeat)), key=lambda rd: rd[0].seconds)
        if doc["totals"]["parsed"] != lines:
            raise RuntimeError(f"{workers} workers parsed {doc['totals']['parsed']} of {lines} lines")
        if base_doc is None:
            base_doc = doc
        for name in ("status", "method"):  # low cardinality: exact, identical whatever the worker count
            if doc["fields"][name]["top"] != base_doc["fields"][name]["top"]:
                raise RuntimeError(f"{workers} workers: {name} counts differ from 1 worker")
        rows.append(row)
    table = markdown_table(rows, rows[0].name)
    text = f"{lines:,} combined lines, {path.stat().st_size / 2**20:.0f} MiB, {cpus} CPUs, best of {args.repeat}\n\n{table}"
    report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
