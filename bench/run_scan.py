"""`tailstat scan` against its baselines, all in one run (machines are noisy: only same-run ratios count).

    python -m bench.run_scan [--lines 1000000] [--repeat 3] [--tools ...] [--out bench/results/scan.md]

Rows: the bare parse kernel (prefix regex, 1 and 2 processes), the kernel with tailstat's own whole-line
pattern, `tailstat scan` in thread mode (1 and default workers) and process mode, mtail (a program computing
what tailstat's defaults compute, and one with only the kernel's counters) and goaccess. Every tool is checked
to have parsed every line. Prints a markdown table and the issue's target ratios, in lines/s and in CPU seconds
per line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.anchors import TOOLS, AnchorResult, _expect, _result, best_of, count_lines
from bench.measure import markdown_table, report, run_measured

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"


def ensure_log(lines: int, seed: int = 1) -> Path:
    path = DATA / f"combined_{lines}_s{seed}.log"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(BENCH / "gen_combined.py"), "--lines", str(lines), "--seed", str(seed),
                        str(path)], check=True, stdout=subprocess.DEVNULL)
    return path


def run_tailstat_scan(path: str, lines: int, executor: str, workers: int) -> AnchorResult:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
    env |= {"TAILSTAT_EXECUTOR": executor, "TAILSTAT_WORKERS": str(workers)}
    argv = [sys.executable, "-m", "tailstat", "scan", "--json", "--format", "combined", str(path)]
    m = run_measured(argv, env=env).check()
    doc = json.loads(m.stdout)
    _expect("tailstat", "totals.parsed", doc["totals"]["parsed"], lines)
    return _result(m, lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the fastest counts")
    parser.add_argument("--file", help="use this combined log instead of a generated one")
    parser.add_argument("--tools",
                        default="kernel,kernel_full,kernel2,thread1,thread,process,mtail,mtail_kernel,goaccess")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)

    path = Path(args.file) if args.file else ensure_log(args.lines)
    lines = count_lines(path)
    size = path.stat().st_size
    cpus = os.cpu_count() or 1
    scans = {
        "thread1": lambda p, n: run_tailstat_scan(p, n, "thread", 1),
        "thread": lambda p, n: run_tailstat_scan(p, n, "thread", cpus),
        "process": lambda p, n: run_tailstat_scan(p, n, "process", cpus),
    }
    names = {"thread1": "tailstat scan (thread, 1 worker)", "thread": f"tailstat scan (thread, {cpus} workers)",
             "process": f"tailstat scan (process, {cpus} workers)", "kernel": "kernel (prefix regex)",
             "kernel2": "kernel (prefix regex, 2 processes)", "kernel_full": "kernel (tailstat's full-line regex)",
             "mtail": "mtail 3.0 --one_shot (tailstat's aggregates)",
             "mtail_kernel": "mtail 3.0 --one_shot (kernel's counters only)", "goaccess": "goaccess 1.7"}
    TOOLS.update(scans)
    results: dict[str, AnchorResult] = {}
    for tool in args.tools.split(","):
        results[tool] = best_of(tool, str(path), lines, args.repeat)
    rows = [results[t].row(names[t], size) for t in results]
    table = markdown_table(rows, names["kernel_full"] if "kernel_full" in results else rows[0].name)

    def ratio(a: str, b: str) -> str:
        if a in results and b in results:
            return f"{results[a].lines_per_s / results[b].lines_per_s:.2f}"
        return "n/a"

    def cpu_ratio(a: str, b: str) -> str:
        """How many times less CPU per line `a` spends than `b`."""
        if a in results and b in results:
            return f"{results[b].cpu_s / results[a].cpu_s:.2f}"
        return "n/a"

    targets = [
        ("scan (thread) / mtail", ratio("thread", "mtail"), ">= 5"),
        ("scan (thread) / goaccess", ratio("thread", "goaccess"), ">= 8"),
        ("scan (thread) / mtail, kernel's counters only", ratio("thread", "mtail_kernel"), "(reference)"),
        ("CPU per line: mtail / scan (thread)", cpu_ratio("thread", "mtail"), "(reference)"),
        ("CPU per line: goaccess / scan (thread)", cpu_ratio("thread", "goaccess"), "(reference)"),
        ("scan (process) / scan (thread)", ratio("process", "thread"), ">= 1.6"),
        ("scan (thread, 1 worker) / kernel (full-line regex)", ratio("thread1", "kernel_full"), ">= 0.85"),
        ("scan (thread, 1 worker) / kernel (prefix regex)", ratio("thread1", "kernel"), "(reference)"),
    ]
    text = (f"{lines:,} combined lines, {size / 2**20:.0f} MiB, {cpus} CPUs, best of {args.repeat}\n\n{table}\n\n"
            "| ratio | measured | target |\n|---|---:|---|\n"
            + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in targets))
    report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
