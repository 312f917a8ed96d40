"""TAILSTAT_EXECUTOR=process: the same stats as thread mode, workers replaced when they die, clean SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from helpers import Daemon, clean_env, wait_until
from test_scan import generate, reference


def scan(path: Path, executor: str, workers: str, capacity: str = "10000") -> dict:
    out = subprocess.run(check=False, args=
        [sys.executable, "-m", "tailstat", "scan", "--json", "--format", "combined", "--top", "100000", str(path)],
        capture_output=True, timeout=300,
        env=clean_env(TAILSTAT_EXECUTOR=executor, TAILSTAT_WORKERS=workers, TAILSTAT_BATCH_BYTES="64KiB",
                      TAILSTAT_TOPK_CAPACITY=capacity),
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    for key in ("generated_at", "uptime", "rates", "error_samples"):  # samples are a sample, not a count
        doc.pop(key)
    return doc


def test_process_mode_gives_exactly_the_thread_mode_stats(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    generate(log, 60000, seed=5)
    thread = scan(log, "thread", "2")
    process = scan(log, "process", "2")
    assert thread["totals"]["lines"] == 60000
    assert process == thread


def daemon_children(pid: int) -> list[psutil.Process]:
    """The pool's worker processes (not multiprocessing's resource tracker), still running."""
    out = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
            if "spawn_main" in cmd and child.status() != psutil.STATUS_ZOMBIE:
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


LINE = '10.1.1.{c} - - [10/Oct/2025:13:55:36 +0000] "GET /x{p} HTTP/1.1" 200 {b} "-" "ua"\n'


def lines(n: int, start: int = 0) -> bytes:
    return "".join(LINE.format(c=i % 9, p=i % 5, b=i % 1000) for i in range(start, start + n)).encode()


def test_dead_worker_is_replaced_and_nothing_is_lost(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "a.log"
    log.write_bytes(lines(1000))
    d = Daemon(tmp_path, str(logs / "*.log"), TAILSTAT_FORMAT="combined", TAILSTAT_EXECUTOR="process",
               TAILSTAT_WORKERS="2").start()
    try:
        d.wait_lines(1000, timeout=60)
        workers = wait_until(lambda: daemon_children(d.proc.pid), 30, what="worker processes")
        victim = workers[0]
        victim.kill()
        total = 1000
        for k in range(20):  # keep batches flowing while the broken pool is noticed and replaced
            with open(log, "ab") as fh:
                fh.write(lines(500, start=total))
            total += 500
            time.sleep(0.05)
        doc = d.wait_lines(total, timeout=60)
        assert doc["totals"]["lines"] == total
        assert doc["totals"]["parsed"] == total
        assert doc["errors"] == {}
        assert doc["health"]["failed_batches"] == 0
        assert len(d.log_events("worker_pool_replaced")) >= 1
        assert victim.pid not in [p.pid for p in daemon_children(d.proc.pid)]
    finally:
        code = d.stop(signal.SIGTERM)
    assert code == 0
    assert d.log_events("stopped")


def test_sigterm_joins_process_workers(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes(lines(3000))
    d = Daemon(tmp_path, str(logs / "*.log"), TAILSTAT_FORMAT="combined", TAILSTAT_EXECUTOR="process",
               TAILSTAT_WORKERS="2").start()
    d.wait_lines(3000, timeout=60)
    workers = daemon_children(d.proc.pid)
    assert len(workers) >= 1  # the pool starts workers on demand
    assert d.stop(signal.SIGTERM) == 0
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    assert d.state()["totals"]["lines"] == 3000


def test_batch_failing_twice_is_counted_as_failed_never_a_hang(monkeypatch) -> None:
    """Workers that die on start (a real process exit, not a mock): the batch is retried once on a fresh pool,
    then counted as failed lines, its offset committed, and the merger moves on."""
    import asyncio
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from tailstat import pipeline
    from tailstat.aggregate import Store
    from tailstat.formats import build_spec
    from tailstat.tail import Batch

    def dying_pool(kind: str, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=os._exit, initargs=(3,))

    monkeypatch.setattr(pipeline, "make_executor", dying_pool)
    store = Store()
    store.upsert_file("f1", path="/x.log")
    data = lines(40)

    async def run() -> None:
        pool = pipeline.ParsePool("process", 1, store)
        queue: asyncio.Queue = asyncio.Queue()
        await queue.put([Batch("f1", 0, len(data), data, build_spec("combined", (), (), None))])
        await queue.put(None)
        await asyncio.wait_for(asyncio.gather(pool.submit_from(queue), pool.merge_results()), 60)
        assert pool.failed_batches == 1
        pool.executor.shutdown(wait=True, cancel_futures=True)

    asyncio.run(run())
    doc = store.snapshot()
    assert doc["totals"]["lines"] == 40
    assert doc["totals"]["parse_errors"] == 40
    assert doc["errors"] == {"parse_failed": 40}
    assert doc["files"][0]["offset"] == len(data)


def daemon_stats(tmp: Path, log: Path, executor: str, lines: int, **settings: str) -> dict:
    tmp.mkdir()
    d = Daemon(tmp, str(log.parent / "*.log"), TAILSTAT_FORMAT="combined", TAILSTAT_EXECUTOR=executor,
               TAILSTAT_WORKERS="2", TAILSTAT_BATCH_BYTES="64KiB", **settings).start()
    try:
        wait_until(lambda: d.stats()["totals"]["lines"] >= lines and d.stats()["files"][0]["lag_bytes"] == 0, 120,
                   what=f"{lines} lines")
    finally:
        assert d.stop() == 0, d.stderr()
    doc = d.stats()
    return {k: doc[k] for k in ("totals", "errors", "fields", "measures", "minutes", "dropped")}


def test_the_process_mode_daemon_gives_exactly_the_thread_mode_daemon_stats(tmp_path: Path) -> None:
    """Workers get groups of batches and send back compacted partials; the result must not change."""
    log = tmp_path / "logs" / "access.log"
    log.parent.mkdir()
    generate(log, 60000, seed=9)
    thread = daemon_stats(tmp_path / "thread", log, "thread", 60000)
    process = daemon_stats(tmp_path / "process", log, "process", 60000)
    assert thread["totals"]["lines"] == 60000
    assert thread["totals"]["parse_errors"] > 0
    assert process == thread


def test_process_mode_sketches_stay_within_their_error_bounds(tmp_path: Path) -> None:
    """Past TAILSTAT_TOPK_CAPACITY distinct values workers send sketches: counts become lower bounds within the
    reported error (exact for the low-cardinality dimensions), distinct counts estimates."""
    log = tmp_path / "logs" / "access.log"
    log.parent.mkdir()
    truth = reference(generate(log, 60000, seed=9))["fields"]["client"]  # parsed by splitting, not by tailstat
    exact = daemon_stats(tmp_path / "exact", log, "thread", 60000)
    sketched = daemon_stats(tmp_path / "sketched", log, "process", 60000, TAILSTAT_TOPK_CAPACITY="20")
    assert sketched["totals"] == exact["totals"]
    assert sketched["fields"]["status"] == exact["fields"]["status"]
    assert sketched["fields"]["method"] == exact["fields"]["method"]
    client = sketched["fields"]["client"]
    assert len(truth) == exact["fields"]["client"]["distinct"] > 20
    assert client["top_is_exact"] is False and client["distinct_is_estimate"] is True
    assert 0 < client["top_error"] <= client["total"] / 21
    assert client["top"]
    for value, count in client["top"]:
        assert count <= truth[value] <= count + client["top_error"], value
    assert abs(client["distinct"] - len(truth)) <= 0.03 * len(truth)
