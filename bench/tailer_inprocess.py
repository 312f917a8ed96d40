"""The tailer with 10,000 files, without a daemon around it (issue 11): this checkout's tail package against
another checkout's (the old tailer: `git archive 4d9c34a | tar -x -C /tmp/old-restart`), each in a subprocess of
its own, run in turn and repeated so that a shared machine's load hits both alike.

    python -m bench.tailer_inprocess --against DIR [--files 10000] [--rounds 3] [--rescans 15]

Each run: a Tailer and a Store on the same 10,000 files of 10 lines (made once, in a temporary directory), the
first start read to the end (restore, then passes), then `--rescans` rescans of the quiet files (the safety
net that runs every TAILSTAT_RESCAN_INTERVAL: the idle daemon's main cost), then one line appended to each file
and the passes over the 10,000 paths the watcher would report (every line read checked). Rows: the median
rescan, the passes, and the
memory held with every file tracked (tracemalloc: all that the Tailer and its Store hold after the rescans,
the imports not counted -- streams, heads, indexes, the store's file records), old / new. The daemon rows of bench.run_daemon `many` add
everything else (the store's windows, the service), which is not the tailer's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = b'10.0.0.3 - - [10/Oct/2025:13:55:36 +0000] "GET /x HTTP/1.1" 200 1 "-" "tailstat-bench"\n'

CHILD = r"""
import gc, json, os, statistics, sys, time, tracemalloc
rescans, traced, LINE = int(sys.argv[1]), sys.argv[2] == "memory", sys.argv[3].encode() + b"\n"
if traced:
    tracemalloc.start(1)
import logging, structlog
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # (the same for both)
from tailstat.config import load_config
from tailstat.aggregate import Store
from tailstat.tail import Tailer
cfg = load_config()
gc.collect()
base = tracemalloc.get_traced_memory()[0] if traced else 0  # (the imports and the config: not counted)
store = Store(cfg.topk_capacity, cfg.event_minutes)
t = Tailer(cfg, store, first_start=True)
left = t.restore([])
while left:
    left = t.cycle(left, [], 1 << 30)
first_peak = tracemalloc.get_traced_memory()[1] - base if traced else 0  # (the first start: restore, passes)
times = []
for _ in range(rescans):
    t0 = time.perf_counter()
    t.rescan([])
    times.append(time.perf_counter() - t0)
out = {"tracked": len(t.by_key), "rescan_ms": statistics.median(times) * 1e3}
if not traced:  # one line appended to every file, then the pass over the 10,000 changed paths the watcher reports
    paths = sorted(t.by_path)
    for p in paths:
        with open(p, "ab") as fh:
            fh.write(LINE)
    batches = []
    t0 = time.perf_counter()
    left = t.cycle(paths, batches, 1 << 30)
    while left:
        left = t.cycle(left, batches, 1 << 30)
    out["append_ms"] = (time.perf_counter() - t0) * 1e3
    out["appended"] = sum(b.data.count(b"\n") for b in batches)
if traced:  # (after the rescans: what a running daemon holds, not what a pass let go)
    gc.collect()
    out["held_mib"] = (tracemalloc.get_traced_memory()[0] - base) / 2**20
    out["first_peak_mib"] = first_peak / 2**20
print(json.dumps(out))
"""


def run_one(tree: Path, logs: Path, state: Path, rescans: int, mode: str) -> dict:
    """One child: `mode` "time" (rescans timed, nothing traced) or "memory" (tracemalloc from the start)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
    env.update({"PYTHONPATH": str(tree / "daemon"), "TAILSTAT_PATHS": str(logs / "*.log"),
                "TAILSTAT_STATE_DIR": str(state), "TAILSTAT_READ_FROM": "beginning", "TAILSTAT_LOG_LEVEL": "warning"})
    done = subprocess.run([sys.executable, "-c", CHILD, str(rescans), mode, LINE.decode().rstrip("\n")], env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, required=True, metavar="DIR", help="the other checkout (old)")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rescans", type=int, default=15)
    args = parser.parse_args(argv)
    trees = {"old": args.against.resolve(), "new": ROOT}
    with tempfile.TemporaryDirectory(prefix="tailstat-bench-") as tmp:
        results: dict[str, list[dict]] = {"old": [], "new": []}
        for r in range(args.rounds):
            for name, tree in trees.items():
                logs = Path(tmp) / f"logs-{name}-{r}"  # (fresh files each run: the run appends to them)
                logs.mkdir()
                for i in range(args.files):
                    (logs / f"app-{i:05d}.log").write_bytes(LINE * 10)
                res = run_one(tree, logs, Path(tmp) / f"state-{name}-{r}", args.rescans, "time")
                mem = run_one(tree, logs, Path(tmp) / f"state-{name}-{r}m", 2, "memory")
                res["held_mib"], res["first_peak_mib"] = mem["held_mib"], mem["first_peak_mib"]
                if (res["tracked"], res["appended"]) != (args.files, args.files):
                    raise SystemExit(f"{name}: {res['tracked']} files tracked, {res['appended']} lines appended read; "
                                     f"want {args.files} each")
                results[name].append(res)
                print(f"round {r + 1} {name}: rescan {res['rescan_ms']:.1f} ms, one line appended to each: pass "
                      f"{res['append_ms']:.0f} ms, held {res['held_mib']:.1f} MiB", flush=True)
    print(f"\n{args.files:,} files, {args.rounds} rounds of {args.rescans} rescans (medians), old = {trees['old']}")
    print("| metric | old | new | new / old |\n|---|---:|---:|---:|")
    for key, label in (("rescan_ms", "rescan of the quiet files, ms"),
                       ("append_ms", "one line appended to each file: the pass over the changed paths, ms"),
                       ("held_mib", "held by the tailer and its store's file records, MiB"),
                       ("first_peak_mib", "peak of the first start (restore and passes over the new files), MiB")):
        old = statistics.median(x[key] for x in results["old"])
        new = statistics.median(x[key] for x in results["new"])
        print(f"| {label} | {old:.1f} | {new:.1f} | {new / old:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
