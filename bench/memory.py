"""Bounded memory: peak RSS of `tailstat scan` over a combined log with very many distinct paths and clients.

    python -m bench.memory [--lines 10000000] [--distinct-paths 1000000] [--distinct-clients 1000000]
                           [--executor thread|process] [--workers N] [--out bench/results/memory.md]

Issue 4's target: 10,000,000 lines with 1,000,000 distinct paths and 1,000,000 distinct clients stay under
200 MB peak RSS. The log is generated once (bench/gen_combined.py, seeded) into bench/data/ and reused. The
scan runs as a child reaped with os.wait4, so the peak RSS is that process's (its pool workers' too in process
mode: the largest one). Beside the memory, the table shows how close the bounded summaries stay to the exact
answers the generator reports: the distinct-count estimates (HyperLogLog) and the top-K error bound.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.measure import MIB, report, run_measured

BENCH = Path(__file__).resolve().parent
TARGET_MB = 200


def ensure_log(lines: int, paths: int, clients: int, seed: int = 1) -> tuple[Path, dict]:
    """The generated log and the generator's summary (exact distinct counts), both cached in bench/data/."""
    data = BENCH / "data"
    path = data / f"memory_{lines}_p{paths}_c{clients}_s{seed}.log"
    summary_path = path.with_suffix(".json")
    if not (path.exists() and summary_path.exists()):
        data.mkdir(parents=True, exist_ok=True)
        out = subprocess.run([sys.executable, str(BENCH / "gen_combined.py"), "--lines", str(lines), "--seed",
                              str(seed), "--distinct-paths", str(paths), "--distinct-clients", str(clients),
                              str(path)], check=True, capture_output=True, text=True)
        summary_path.write_text(out.stdout)
    return path, json.loads(summary_path.read_text() or "{}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--distinct-paths", type=int, default=1_000_000)
    parser.add_argument("--distinct-clients", type=int, default=1_000_000)
    parser.add_argument("--executor", choices=("thread", "process"), default="thread")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before the scan is killed")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)

    path, summary = ensure_log(args.lines, args.distinct_paths, args.distinct_clients)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
    env |= {"TAILSTAT_EXECUTOR": args.executor, "TAILSTAT_WORKERS": str(args.workers)}
    m = run_measured([sys.executable, "-m", "tailstat", "scan", "--json", "--format", "combined", "--top", "10",
                      str(path)], env=env, timeout_s=args.timeout).check()
    doc = json.loads(m.stdout)
    if doc["totals"]["parsed"] != args.lines:
        raise SystemExit(f"tailstat parsed {doc['totals']['parsed']:,} of {args.lines:,} lines")
    size = path.stat().st_size
    verdict = "met" if m.peak_rss_mb * MIB < TARGET_MB * 1e6 else "NOT met"
    rows = [
        ("lines", f"{args.lines:,}"),
        ("file", f"{size / MIB:,.0f} MiB"),
        ("executor", f"{args.executor}, {args.workers} workers"),
        ("wall seconds", f"{m.wall_s:.1f}"),
        ("lines/s", f"{args.lines / m.wall_s:,.0f}"),
        ("CPU seconds", f"{m.cpu_s:.1f}"),
        ("**peak RSS**", f"**{m.peak_rss_mb:.0f} MiB** (target < {TARGET_MB} MB: {verdict})"),
    ]
    for field, exact_key in (("path", "distinct_paths"), ("client", "distinct_clients")):
        f = doc["fields"][field]
        exact = summary.get(exact_key)
        err = f" (exact {exact:,}: {100 * (f['distinct'] - exact) / exact:+.2f} %)" if exact else ""
        estimated = " estimated" if f["distinct_is_estimate"] else ""
        rows.append((f"distinct {field}", f"{f['distinct']:,}{estimated}{err}"))
        rows.append((f"top {field} error bound", f"{f['top_error']:,} (counts are lower bounds within it)"))
    text = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
