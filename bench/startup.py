"""Start-up with many files: `tailstat run` from spawn to ready, first start and restart, this checkout against
another one, alternating (issue 11: the restart with 10,000 files must not be slower than the old tailer's).

    python -m bench.startup --against DIR [--files 10000] [--repeats 6]

Builds FILES files of 10 combined lines once (in a temporary directory), then, per repeat and per checkout (the
order alternates): a first start (empty state directory) and a restart from the checkpoint that start left, each
SIGTERMed once ready. Reports the medians of spawn -> `ready` (wall, as the bench polls the log), `started` ->
`ready` (the daemon's own log timestamps) and the daemon's CPU seconds (user+sys, all threads) when `ready` was
seen; CPU is the steadiest of the three on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import orjson
import psutil

from bench.run_daemon import MANY_LINES, MANY_MAX_OPEN, clean_env, combined_lines

ROOT = Path(__file__).resolve().parent.parent


def start_once(daemon_dir: Path, work: Path, state: Path, log_path: Path) -> tuple[float, float, float]:
    """(spawn -> ready s, started -> ready s from the log, CPU s at ready) of one start, then SIGTERM."""
    env = clean_env() | {
        "PYTHONPATH": str(daemon_dir),
        "TAILSTAT_PATHS": str(work / "logs" / "*.log"), "TAILSTAT_FORMAT": "combined",
        "TAILSTAT_STATE_DIR": str(state), "TAILSTAT_READ_FROM": "beginning", "TAILSTAT_LOG_FORMAT": "json",
        "TAILSTAT_HTTP_ADDR": f"unix:{state}/api.sock", "TAILSTAT_MAX_OPEN_FILES": str(MANY_MAX_OPEN),
    }
    with open(log_path, "wb") as log:
        spawned = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tailstat", "run"], env=env, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        ps = psutil.Process(proc.pid)
        try:
            while b'"event":"ready"' not in log_path.read_bytes():
                if proc.poll() is not None:
                    raise RuntimeError(f"daemon exited: {log_path.read_text(errors='replace')[-1500:]}")
                if time.perf_counter() - spawned > 300:
                    raise TimeoutError("no ready within 300 s")
                time.sleep(0.005)
            wall = time.perf_counter() - spawned
            t = ps.cpu_times()
            cpu = t.user + t.system
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
    stamps = {}
    for line in log_path.read_bytes().splitlines():
        if line.startswith(b"{"):
            event = orjson.loads(line)
            if event.get("event") in ("started", "ready") and event["event"] not in stamps:
                stamps[event["event"]] = datetime.fromisoformat(event["timestamp"]).timestamp()
    return wall, stamps["ready"] - stamps["started"], cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, required=True, metavar="DIR",
                        help="the other checkout (e.g. `git archive 4d9c34a | tar -x -C /tmp/old`)")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args(argv)
    trees = {"old": args.against / "daemon", "new": ROOT / "daemon"}
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    print(f"load average at start: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tailstat-startup-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        blob, starts = combined_lines(args.files + MANY_LINES, 3)
        for i in range(args.files):
            (work / "logs" / f"app-{i:05d}.log").write_bytes(blob[starts[i]:starts[i + MANY_LINES]])
        for r in range(args.repeats):
            for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
                state = work / f"state-{name}"
                shutil.rmtree(state, ignore_errors=True)
                state.mkdir()
                for kind in ("first", "restart"):
                    m = start_once(trees[name], work, state, work / f"{name}-{kind}.log")
                    results.setdefault((name, kind), []).append(m)
                    print(f"{name} {kind}: spawn->ready {m[0]:.2f} s, started->ready {m[1]:.2f} s, "
                          f"CPU at ready {m[2]:.2f} s", flush=True)
    print(f"\nmedians of {args.repeats} ({args.files:,} files; load average at end: "
          f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())})")
    print("| start | checkout | spawn -> ready, s | started -> ready, s | CPU s at ready |")
    print("|---|---|---:|---:|---:|")
    for kind in ("first", "restart"):
        for name in ("old", "new"):
            runs = results[(name, kind)]
            print(f"| {kind} | {name} | " + " | ".join(f"{statistics.median(m[i] for m in runs):.2f}"
                                                    for i in range(3)) + " |")
        old, new = results[("old", kind)], results[("new", kind)]
        print(f"| {kind} | new / old | " + " | ".join(
            f"{statistics.median(m[i] for m in new) / statistics.median(m[i] for m in old):.2f}"
            for i in range(3)) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
