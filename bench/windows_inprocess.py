"""The windows' ingest cost without a daemon around it (issue 12): this code's parse_batch + Store.merge (with its
ring, a snapshot every 15 batches as a 0.1 s snapshot interval gives while catching up) against the code before
the windows (commit 4d9c34a, no ring), both loaded into one process and fed the same 256 KiB batches in turn,
so that a shared machine's load hits both alike. CPU seconds of the parse, merge and snapshot calls only.

    python -m bench.windows_inprocess [--lines 1000000] [--rounds 3] [--old-commit 4d9c34a] [--out FILE]

Rows: the busy and the slow log of bench.run_windows (~2,000 and ~100 lines/s of their own time, ending now).
The ratio old / new CPU is the median over the rounds; run_windows' daemon rows add start-up, reading and
checkpoints, the same for both codes.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import report
from bench.run_windows import BENCH, generate

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_EVERY = 15
BATCH = 256 << 10


def load_code(where: Path, windows: bool) -> tuple[Any, Any, Any]:
    """(parse_batch, spec, make_store) of the tailstat package under `where`, imported afresh: the modules of one
    code keep references to each other, so two codes live side by side once each is imported whole."""
    for name in [k for k in sys.modules if k == "tailstat" or k.startswith("tailstat.")]:
        del sys.modules[name]
    sys.path.insert(0, str(where))
    try:
        config = importlib.import_module("tailstat.config")
        aggregate = importlib.import_module("tailstat.aggregate")
        try:
            parse_batch = importlib.import_module("tailstat.parse.batch").parse_batch
        except ImportError:  # the code before the parse package
            parse_batch = importlib.import_module("tailstat.formats").parse_batch
        for lazy in ("tailstat.series", "tailstat.sketches", "tailstat.partial"):  # imported inside functions
            try:
                importlib.import_module(lazy)
            except ImportError:
                pass
        cfg = config.load_config({"TAILSTAT_PATHS": "/nonexistent/*.log", "TAILSTAT_FORMAT": "combined"},
                                 require_paths=False)
        if windows:
            window = importlib.import_module("tailstat.window")
            spec = window.with_window_slots(cfg).sources[0].spec

            def make() -> Any:
                return aggregate.Store(cfg.topk_capacity, cfg.event_minutes,
                                       window.Ring(cfg.window_slot, cfg.window_topk, cfg.topk_capacity))
        else:
            spec = cfg.sources[0].spec

            def make() -> Any:
                return aggregate.Store(cfg.topk_capacity, cfg.event_minutes)
    finally:
        sys.path.remove(str(where))
    return parse_batch, spec, make


def batches_of(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, i = [], 0
    while i < len(data):
        j = data.rfind(b"\n", i, i + BATCH) + 1 or len(data)
        out.append(data[i:j])
        i = j
    return out


def run(codes: dict[str, tuple[Any, Any, Any]], batches: list[bytes]) -> dict[str, float]:
    """One pass over the batches, each batch through every code in turn (rotating who goes first)."""
    stores = {label: make() for label, (_, _, make) in codes.items()}
    offsets = dict.fromkeys(codes, 0)
    cpu = dict.fromkeys(codes, 0.0)
    for store in stores.values():
        store.upsert_file("f", path="/logs/x.log")
    labels = list(codes)
    gc.collect()
    for k, data in enumerate(batches):
        for j in range(len(labels)):
            label = labels[(j + k) % len(labels)]
            parse_batch, spec, _ = codes[label]
            started = time.process_time()
            partial = parse_batch(spec, data)
            offsets[label] += len(data)
            stores[label].merge(partial, commits=[("f", offsets[label], partial.lines, partial.bytes,
                                                   partial.lines - partial.parsed)])
            if k % SNAPSHOT_EVERY == SNAPSHOT_EVERY - 1:
                stores[label].snapshot()
            cpu[label] += time.process_time() - started
    for label, store in stores.items():
        started = time.process_time()
        store.export_state()
        cpu[label] += time.process_time() - started
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-commit", default="4d9c34a")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    data = BENCH / "data"
    data.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tailstat-old-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old_commit, "daemon"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        codes = {"old": load_code(Path(tmp) / "daemon", windows=False),
                 "new": load_code(ROOT / "daemon", windows=True)}
        now = time.time()
        for name, per_second in (("busy log: ~2,000 lines/s of log time", 2000),
                                 ("slow log: ~100 lines/s of log time", 100)):
            path = data / f"windows_{per_second}.log"
            generate(path, args.lines, per_second, now - args.lines / per_second)
            batches = batches_of(path)
            rounds = [run(codes, batches) for _ in range(args.rounds)]
            old = min(r["old"] for r in rounds)
            new = min(r["new"] for r in rounds)
            ratio = statistics.median(r["old"] / r["new"] for r in rounds)
            rows.append(f"| {name} | {old:.2f} | {new:.2f} | **{ratio:.2f}** |")
    text = (f"{args.lines:,} combined lines, parse + merge + snapshots in one process, {args.rounds} rounds; "
            f"old = {args.old_commit}\n\n| log | old CPU s (best) | new CPU s (best) | old / new CPU (median) |\n"
            "|---|---:|---:|---:|\n" + "\n".join(rows))
    report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
