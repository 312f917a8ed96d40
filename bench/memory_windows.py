"""Bounded memory of the windows (issue 12): the daemon's RSS with every slot of the ring filled, at default
settings, from traffic with 1,000,000 distinct paths and 1,000,000 distinct clients.

    python -m bench.memory_windows [--lines 3000000] [--distinct 1000000] [--old-commit 4d9c34a]
                                   [--out bench/results/memory_windows.md]

The log (bench/gen_combined.py, seeded) spans the last 24 hours in its own timestamps, so a daemon reading it
from the beginning fills all three tiers of the ring (every 10 s slot of the last 16 min, every minute of the
last hour, every 15 min of the day), each slot with thousands of distinct values per dimension. The daemon
(`tailstat run`, thread mode, default settings but TAILSTAT_READ_FROM=beginning) catches up; then its RSS is
sampled over a few seconds (psutil) and, after SIGTERM and its final checkpoint, its peak RSS (os.wait4).
The same for the code before the windows (--old-commit, a temporary `git worktree`), side by side: the
difference is what the ring costs. Target: the daemon's RSS under 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.anchors import count_lines
from bench.measure import report

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TARGET_MB = 100
DEADLINE = 1800.0


def generate(path: Path, lines: int, distinct: int, now: float) -> dict:
    out = subprocess.run([sys.executable, str(BENCH / "gen_combined.py"), "--lines", str(lines), "--distinct-paths",
                          str(distinct), "--distinct-clients", str(distinct), "--start", str(now - 86400 + 60),
                          "--per-second", str(max(1, lines // 86400)), str(path)], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def run_daemon(code: Path, path: Path) -> dict:
    lines = count_lines(path)
    with tempfile.TemporaryDirectory(prefix="bench-memwin-", dir=path.parent) as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        os.link(path, logs / path.name)
        state = Path(tmp) / "state"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
        env |= {"PYTHONPATH": str(code / "daemon"), "TAILSTAT_PATHS": str(logs / "*.log"),
                "TAILSTAT_STATE_DIR": str(state), "TAILSTAT_RUNTIME_DIR": str(state),
                "TAILSTAT_READ_FROM": "beginning", "TAILSTAT_FORMAT": "combined", "TAILSTAT_HTTP_ADDR": "off"}
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tailstat", "run"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        doc: dict = {}
        try:
            while True:
                time.sleep(0.2)
                try:
                    doc = json.loads((state / "stats.json").read_bytes())
                except (OSError, ValueError):
                    doc = {}
                if doc.get("totals", {}).get("lines", 0) >= lines:
                    break
                if proc.poll() is not None or time.perf_counter() - started > DEADLINE:
                    raise RuntimeError(f"{code}: counted {doc.get('totals', {}).get('lines')} of {lines} lines")
            seconds = time.perf_counter() - started
            samples = []
            for _ in range(10):  # steady state: snapshots, checkpoints (every 5 s) and all
                samples.append(psutil.Process(proc.pid).memory_info().rss)
                time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, status, usage = os.wait4(proc.pid, 0)
        state_bytes = (state / "state.json").stat().st_size
    return {"seconds": seconds, "rss_mb": max(samples) / 2**20, "peak_mb": usage.ru_maxrss / 1024,
            "slots": doc.get("health", {}).get("window_slots"), "state_mb": state_bytes / 2**20,
            "exit": os.waitstatus_to_exitcode(status)}


def window_accuracy(path: Path, summary: dict) -> list[tuple[str, str]]:
    return [("distinct paths / clients in the log (exact)",
             f"{summary.get('distinct_paths', 0):,} / {summary.get('distinct_clients', 0):,}")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3_000_000)
    parser.add_argument("--distinct", type=int, default=1_000_000)
    parser.add_argument("--old-commit", default="4d9c34a")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    data = BENCH / "data"
    data.mkdir(parents=True, exist_ok=True)
    path = data / f"memory_windows_{args.lines}.log"
    summary = generate(path, args.lines, args.distinct, time.time())
    old = Path(tempfile.mkdtemp(prefix="tailstat-old-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.old_commit], check=True,
                   capture_output=True)
    try:
        new_run = run_daemon(ROOT, path)
        old_run = run_daemon(old, path)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False,
                       capture_output=True)
        shutil.rmtree(old, ignore_errors=True)
        path.unlink(missing_ok=True)
    verdict = "met" if new_run["rss_mb"] * 2**20 < TARGET_MB * 1e6 else "NOT met"
    rows = [
        ("lines (own timestamps over the last 24 h)", f"{args.lines:,}"),
        *window_accuracy(path, summary),
        ("window slots filled", f"{new_run['slots']}"),
        ("catch-up seconds: old / new", f"{old_run['seconds']:.1f} / {new_run['seconds']:.1f}"),
        ("**daemon RSS after catch-up (max of 10 samples over 5 s)**",
         (f"old {old_run['rss_mb']:.0f} MiB, **new {new_run['rss_mb']:.0f} MiB** (target < {TARGET_MB} MB: "
          f"{verdict}); the ring: {new_run['rss_mb'] - old_run['rss_mb']:+.0f} MiB")),
        ("peak RSS (os.wait4, through the final checkpoint)",
         f"old {old_run['peak_mb']:.0f} MiB, new {new_run['peak_mb']:.0f} MiB"),
        ("state.json", f"old {old_run['state_mb']:.1f} MiB, new {new_run['state_mb']:.1f} MiB"),
        ("exit status", f"old {old_run['exit']}, new {new_run['exit']}"),
    ]
    report("| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
