"""Many-core scaling of `tailstat scan --executor process`: throughput with 1, 2, 4 … N workers against one
worker, in the same run (issue 7's target: at least 6x one worker on 16 cores, 2,000,000 combined lines).

    python -m bench.run_cores [--lines 2000000] [--workers 1,2,4,8,16] [--repeat 2] [--daemon] [--out FILE]

--daemon adds the same for the daemon catching up on that file as a backlog (`tailstat run`, process mode,
TAILSTAT_READ_FROM=beginning; thread mode as a reference row): spawn to every line counted, and the main
process's own CPU per 1M lines. That is the serial part (reading, cutting, merging compacted partials): it
bounds how far the daemon scales however many cores there are.

Workers read their own byte ranges of the file (the main process only hands out offsets) and return bounded
partials (dimension Counters above TAILSTAT_TOPK_CAPACITY become sketches in the worker), so the serial work in
the main process does not grow with the data. Each row's counts are checked against the 1-worker row: low-
cardinality dimensions must be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

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


CATCH_UP_DEADLINE = 600.0  # seconds: a daemon that never counts every line fails the bench, not hangs it


def catch_up(path: Path, executor: str, workers: int) -> tuple[Row, float]:
    """The daemon started on a directory holding `path` (hard-linked): spawn to every line counted. Returns the
    row (CPU: the daemon and its reaped workers) and the main process's own CPU seconds."""
    lines = count_lines(path)
    with tempfile.TemporaryDirectory(prefix="bench-cores-", dir=path.parent) as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        os.link(path, logs / path.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
        env |= {"TAILSTAT_PATHS": str(logs / "*.log"), "TAILSTAT_STATE_DIR": str(Path(tmp) / "state"),
                "TAILSTAT_RUNTIME_DIR": str(Path(tmp) / "state"),
                "TAILSTAT_READ_FROM": "beginning", "TAILSTAT_FORMAT": "combined", "TAILSTAT_EXECUTOR": executor,
                "TAILSTAT_WORKERS": str(workers), "TAILSTAT_HTTP_ADDR": "off", "TAILSTAT_SNAPSHOT_INTERVAL": "0.1"}
        snapshot = Path(tmp) / "state" / "stats.json"
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tailstat", "run"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while True:
                time.sleep(0.01)
                try:
                    counted = json.loads(snapshot.read_bytes())["totals"]["lines"]
                except (OSError, ValueError, KeyError):
                    counted = 0
                if counted >= lines:
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited with {proc.returncode}")
                if time.perf_counter() - started > CATCH_UP_DEADLINE:
                    raise RuntimeError(f"the daemon counted {counted} of {lines} lines in {CATCH_UP_DEADLINE:g} s")
            wall = time.perf_counter() - started
            own = psutil.Process(proc.pid).cpu_times()
            main_cpu = own.user + own.system
            proc.send_signal(signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            _, status, usage = os.wait4(proc.pid, 0)
        if counted != lines or os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"daemon: {counted} of {lines} lines, exit status {status}")
    name = f"daemon, {executor}, {workers} worker{'s' if workers > 1 else ''}"
    return Row(name, lines, wall, usage.ru_utime + usage.ru_stime, path.stat().st_size, usage.ru_maxrss / 1024), \
        main_cpu


def daemon_table(path: Path, counts: list[int], repeat: int) -> str:
    """Catch-up rows, and the main process's CPU per line less its start-up (measured on a one-line file)."""
    one_line = path.with_name(path.stem + ".one-line.log")
    with open(path, "rb") as src, open(one_line, "wb") as dst:
        dst.write(src.readline())
    runs = [("thread", max(counts))] + [("process", w) for w in counts]
    serial, rows = [], []
    try:
        for executor, w in runs:
            row, main = min((catch_up(path, executor, w) for _ in range(repeat)), key=lambda r: r[0].seconds)
            start_up = min(catch_up(one_line, executor, w)[1] for _ in range(repeat))
            per_line = max(main - start_up, 1e-9) / row.lines
            rows.append(row)
            serial.append(f"| {row.name} | {start_up:.2f} | {per_line * 1e6:.2f} | {1 / per_line:,.0f} |")
    finally:
        one_line.unlink()
    base = next(row.name for row in rows if row.name.startswith("daemon, process"))
    return (f"{markdown_table(rows, base)}\n\n| daemon | main process start-up CPU s | main process CPU s per 1M "
            f"lines, start-up excluded | lines/s the main process alone could take |\n|---|---:|---:|---:|\n"
            + "\n".join(serial))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--workers", default=None, help="comma list (default: 1, 2, 4 … up to the CPU count)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per row; the fastest counts")
    parser.add_argument("--daemon", action="store_true", help="also the daemon catching up on the file (see above)")
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
    if args.daemon:
        text += "\n\nThe daemon catching up on the same file as a backlog:\n\n" + daemon_table(path, counts, args.repeat)
    report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
