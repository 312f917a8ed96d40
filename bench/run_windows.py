"""Ingest cost of the windows (issue 12): `tailstat scan` and the daemon, this code against the code before the
windows (commit 4d9c34a, checked out with `git worktree add` into a temporary directory), side by side in one
run, alternating old and new, best of --repeat.

    python -m bench.run_windows [--lines 1000000] [--repeat 3] [--old-commit 4d9c34a] [--executor thread]
                                [--out bench/results/windows.md]

Rows:
- scan: `tailstat scan --json --format combined` of the generated log (scan keeps no windows: the cost is what
  the parse functions and the partials pay);
- daemon, busy log: `tailstat run` catching up on a backlog whose own timestamps are the last ~10 minutes at
  ~2,000 lines/s (most batches in one 10 s slot, as on a busy server): spawn to every line counted;
- daemon, slow log: the same with ~100 lines/s over the last ~3 hours (nearly every batch spans several slots
  and is split; older lines land in the coarser tiers).
The target: new / old >= 0.85 on every row. Best of --repeat each side; the last column is the median of
the ratios of each old run and the new run right after it (steadier when the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.anchors import count_lines
from bench.measure import report, run_measured

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DEADLINE = 900.0


def generate(path: Path, lines: int, per_second: int, start: float | None) -> None:
    argv = [sys.executable, str(BENCH / "gen_combined.py"), "--lines", str(lines), "--per-second", str(per_second)]
    if start is not None:
        argv += ["--start", str(start)]
    subprocess.run([*argv, str(path)], check=True, stdout=subprocess.DEVNULL)


def code_env(code: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
    env["PYTHONPATH"] = str(code / "daemon")
    return env | settings


def scan(code: Path, path: Path, executor: str) -> tuple[float, float]:
    env = code_env(code, TAILSTAT_EXECUTOR=executor)
    m = run_measured([sys.executable, "-m", "tailstat", "scan", "--json", "--format", "combined", str(path)],
                     env=env).check()
    lines = json.loads(m.stdout)["totals"]["parsed"]
    if lines != count_lines(path):
        raise RuntimeError(f"{code}: scan parsed {lines} lines")
    return m.wall_s, m.cpu_s


def catch_up(code: Path, path: Path, executor: str) -> tuple[float, float]:
    """Spawn to every line of `path` counted by `tailstat run` (read from the beginning), and the daemon's CPU
    seconds (its workers' included) from spawn to exit (start-up, catch-up, stop)."""
    lines = count_lines(path)
    with tempfile.TemporaryDirectory(prefix="bench-windows-", dir=path.parent) as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        os.link(path, logs / path.name)
        state = Path(tmp) / "state"
        env = code_env(code, TAILSTAT_PATHS=str(logs / "*.log"), TAILSTAT_STATE_DIR=str(state),
                       TAILSTAT_RUNTIME_DIR=str(state), TAILSTAT_READ_FROM="beginning", TAILSTAT_FORMAT="combined",
                       TAILSTAT_EXECUTOR=executor, TAILSTAT_HTTP_ADDR="off", TAILSTAT_SNAPSHOT_INTERVAL="0.1")
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tailstat", "run"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while True:
                time.sleep(0.01)
                try:
                    counted = json.loads((state / "stats.json").read_bytes())["totals"]["lines"]
                except (OSError, ValueError, KeyError):
                    counted = 0
                if counted >= lines:
                    wall = time.perf_counter() - started
                    break
                if time.perf_counter() - started > DEADLINE:
                    raise RuntimeError(f"{code}: the daemon counted {counted} of {lines} lines")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, _, usage = os.wait4(proc.pid, 0)
        return wall, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-commit", default="4d9c34a")
    parser.add_argument("--executor", choices=("thread", "process"), default="thread")
    parser.add_argument("--rows", default="scan,busy,slow")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    data = BENCH / "data"
    data.mkdir(parents=True, exist_ok=True)
    old = Path(tempfile.mkdtemp(prefix="tailstat-old-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.old_commit], check=True,
                   capture_output=True)
    rows = []
    try:
        now = time.time()
        busy, slow = data / "windows_busy.log", data / "windows_slow.log"
        scenarios = {
            "scan": ("scan (thread)" if args.executor == "thread" else "scan (process)",
                     lambda: generate(busy, args.lines, 2000, now - args.lines / 2000), busy, scan),
            "busy": (f"daemon ({args.executor}), busy log: ~2,000 lines/s of log time",
                     lambda: generate(busy, args.lines, 2000, now - args.lines / 2000), busy, catch_up),
            "slow": (f"daemon ({args.executor}), slow log: ~100 lines/s of log time",
                     lambda: generate(slow, args.lines, 100, now - args.lines / 100), slow, catch_up),
        }
        for key in args.rows.split(","):
            name, make, path, run = scenarios[key]
            make()  # timestamps relative to now: the daemon's windows see them
            times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
            for _ in range(args.repeat):
                for label, code in (("old", old), ("new", ROOT)):
                    times[label].append(run(code, path, args.executor))
            o, n = min(w for w, _ in times["old"]), min(w for w, _ in times["new"])
            oc, nc = min(c for _, c in times["old"]), min(c for _, c in times["new"])
            # each new run right after an old one: the median of their ratios resists a neighbour's load spikes
            pairs = list(zip(times["old"], times["new"]))
            wall_pairs = statistics.median(ow / nw for (ow, _), (nw, _) in pairs)
            cpu_pairs = statistics.median(ocpu / ncpu for (_, ocpu), (_, ncpu) in pairs)
            rows.append(f"| {name} | {args.lines / o:,.0f} | {args.lines / n:,.0f} | **{o / n:.2f}** | "
                        f"{oc:.2f} | {nc:.2f} | **{oc / nc:.2f}** | {wall_pairs:.2f} / {cpu_pairs:.2f} |")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False,
                       capture_output=True)
        shutil.rmtree(old, ignore_errors=True)
    load = os.getloadavg()
    text = (f"{args.lines:,} combined lines, best of {args.repeat}, {os.cpu_count()} CPUs, load "
            f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; old = {args.old_commit}\n\n"
            "| row | old lines/s | new lines/s | new / old (target >= 0.85) | old CPU s | new CPU s | "
            "old CPU / new CPU | median of pairs: wall / CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
            + "\n".join(rows))
    report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
