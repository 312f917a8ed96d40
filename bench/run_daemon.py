"""The daemon under load (issue 7, targets 3-6): tailing throughput, latency, many files, memory.

    python -m bench.run_daemon [--quick] [--only busy,max,spread,latency,many,scan] [--seconds S]
                               [--executor thread|process] [--workers N] [--py-spy] [--out FILE]

Each scenario runs in a fresh temporary directory against a fresh `tailstat run` subprocess (default settings
except the ones named in its row), talks to it over its HTTP API on a unix socket in that directory (no port
clashes with other runs on the machine), and checks an exact outcome: the daemon counted every line the
writer wrote, no more, and the files' own line counts agree.

- busy:    one file, a writer process appends pre-generated combined lines at 150,000 lines/s, paced in 10 ms
           ticks; every 50 ms: lines written vs totals.lines. Lag in seconds = lag lines / rate.
- max:     the same at higher rates (5 s each), up to the first rate the daemon does not keep up with.
- spread:  1,000 files, 100 lines/s each, one writer round-robins over them every 50 ms tick.
- latency: 10,000 lines/s in 1 ms ticks; each line carries its write time (`GET /t/<ns>`); a prober polls
           GET /stats every 5 ms; line i is visible at the first poll (time the answer arrived) whose
           totals.lines > i. Poll spacing and the HTTP round trip are part of the measured latency.
- many:    10,000 files of 10 lines, TAILSTAT_MAX_OPEN_FILES=1024 (the default): spawn-to-ready, descriptors,
           idle CPU over a quiet 30 s window, one line appended to every file, SIGTERM, restart from the checkpoint:
           spawn-to-ready and unchanged totals. Peak RSS (ru_maxrss of the reaped daemon) of both runs.
- scan:    `tailstat scan` of a ~2 GB generated combined log (bench/data/, made once): peak RSS (skipped with
           --quick).

CPU seconds are the daemon's user+sys (its pool processes included) over the measured phase, read with psutil;
peak RSS comes from `os.wait4`. The writer and the prober run on the same 2 cores as the daemon: their cost
is part of every number, as it would be on a real host. Rerun on a quiet machine: the load average is printed.
"""

from __future__ import annotations

import argparse
import http.client
import math
import multiprocessing
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import orjson
import psutil

from bench.anchors import count_lines
from bench.measure import MIB, Row, markdown_table, run_measured
from tailstat.client import UnixHTTPConnection

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "bench" / "data"
SPAWN = multiprocessing.get_context("spawn")  # the bench has threads; never fork them

BUSY_RATE = 150_000
SPREAD_FILES, SPREAD_RATE = 1_000, 100
LATENCY_RATE = 10_000
MANY_FILES, MANY_LINES, MANY_MAX_OPEN = 10_000, 10, 1024
SCAN_LINES = 9_000_000  # ~2.06 GB of combined lines
TARGET_LAG_S = 1.0
TARGET_P99_MS = 250.0
TARGET_IDLE_PCT = 2.0
TARGET_RESTART_S = 5.0
TARGET_RSS_MB = 150.0
STAMP_LINE = b'10.0.0.1 - - [10/Oct/2025:13:55:36 +0000] "GET /t/%d HTTP/1.1" 200 512 "-" "tailstat-bench"\n'


class CheckFailed(Exception):
    """A correctness check failed: the numbers of that scenario mean nothing."""


# ------------------------------------------------------------------------------------------- results
@dataclass
class Result:
    scenario: str
    metric: str
    value: str
    target: str = ""
    verdict: str = ""  # ok | MISS (a target) | FAIL (correctness) | "" (information)


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # throughput rows for measure.markdown_table
    notes: list[str] = field(default_factory=list)
    failures: int = 0
    label: str = ""  # "old " while --against runs the other checkout

    def add(self, scenario: str, metric: str, value: str, target: str = "", ok: bool | None = None) -> None:
        scenario = self.label + scenario
        verdict = "" if ok is None else ("ok" if ok else "MISS")
        self.results.append(Result(scenario, metric, value, target, verdict))
        print(f"  {scenario}: {metric} = {value}" + (f"  [{target}: {verdict}]" if target else ""), flush=True)

    def check(self, scenario: str, what: str, got: object, want: object) -> None:
        """An exact-outcome check. Passed checks of a scenario share one "exact checks" row; a failed one gets
        its own FAIL row and raises (the scenario stops there: its other numbers mean nothing)."""
        ok = got == want
        scenario = self.label + scenario
        shown = f"{got:,}" if isinstance(got, int) else str(got)
        print(f"  {scenario}: check {what}: {shown} (want {want}) {'ok' if ok else 'FAIL'}", flush=True)
        if not ok:
            self.results.append(Result(scenario, f"check: {what}", shown,
                                       f"= {want:,}" if isinstance(want, int) else f"= {want}", "FAIL"))
            raise CheckFailed(f"{scenario}: {what} is {got}, expected {want}")
        row = next((r for r in self.results if r.scenario == scenario and r.metric == "exact checks"), None)
        if row is None:
            row = Result(scenario, "exact checks", "", "all equal", "ok")
            self.results.append(row)
        row.value += ("; " if row.value else "") + f"{what}: {shown}"

    def fail(self, scenario: str, error: str) -> None:
        scenario = self.label + scenario
        self.failures += 1
        self.results.append(Result(scenario, "error", error.replace("|", "/").replace("\n", " ")[:300], "", "FAIL"))
        print(f"  {scenario}: FAIL {error}", flush=True)

    def table(self) -> str:
        out = ["| scenario | metric | value | target | result |", "|---|---|---:|---|---|"]
        out += [f"| {r.scenario} | {r.metric} | {r.value} | {r.target} | {r.verdict} |" for r in self.results]
        return "\n".join(out)


# ------------------------------------------------------------------------------------------- helpers
def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = "") -> float:
    """Poll until predicate() is true; return the seconds waited. Raise TimeoutError past `timeout`."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{what or 'condition'} not reached within {timeout:g} s")
        time.sleep(interval)
    return time.perf_counter() - started


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}


def combined_lines(count: int, seed: int) -> tuple[bytes, array]:
    """`count` generated combined lines as one blob, and the offsets of line starts (count + 1 of them)."""
    from bench.gen_combined import CHUNK_LINES, Generator

    gen = Generator(seed, None, None, False)
    parts: list[bytes] = []
    ends = array("q", [0])
    left = count
    while left:
        n = min(CHUNK_LINES, left)
        text = gen.chunk(n)
        base = ends[-1]
        ends.extend(base + end for end in accumulate(len(line) + 1 for line in text.split("\n")[:-1]))
        parts.append(text.encode("ascii"))
        left -= n
    return b"".join(parts), ends


def write_all(fd: int, data: memoryview | bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def tree_cpu(proc: psutil.Process) -> float:
    """user+sys seconds of a process, its reaped children and its live descendants (pool workers)."""
    try:
        t = proc.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in proc.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return float("nan")


def machine_header(args: argparse.Namespace, command: str) -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=False,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "daemon"], check=False,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        rev += " (daemon/ has uncommitted changes)" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        rev = "unknown"
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    cpu = f"{psutil.cpu_count(logical=False)} cores / {psutil.cpu_count()} logical CPUs"
    ram = f"{psutil.virtual_memory().total / (1 << 30):.1f} GiB RAM"
    executor = args.executor or "thread (default)"
    workers = args.workers or f"{os.cpu_count()} (default)"
    return [
        f"- command: `{command}`",
        f"- CPU: {model}, {cpu}; {ram}",
        f"- Python {platform.python_version()}, Linux {platform.release()}; git {rev}",
        f"- daemon: TAILSTAT_EXECUTOR={executor}, TAILSTAT_WORKERS={workers}",
        f"- load average at start (1/5/15 min): {load}",
    ]


# ---------------------------------------------------------------------------------------- the daemon
class Daemon:
    """One `tailstat run` subprocess in its own session; its stderr (JSON log lines) goes to a file."""

    def __init__(self, workdir: Path, globs: list[str], settings: dict[str, str]) -> None:
        self.workdir = workdir
        self.sock = workdir / "api.sock"
        self.env = clean_env() | {
            "TAILSTAT_PATHS": ",".join(globs),
            "TAILSTAT_FORMAT": "combined",
            "TAILSTAT_STATE_DIR": str(workdir / "state"),
            "TAILSTAT_READ_FROM": "beginning",
            "TAILSTAT_LOG_FORMAT": "json",
            "TAILSTAT_HTTP_ADDR": f"unix:{self.sock}",
        } | {f"TAILSTAT_{k}": str(v) for k, v in settings.items()}
        self.runs = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None
        self.conn: UnixHTTPConnection | None = None
        self.rusage: Any = None

    # lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.runs += 1
        self.log_path = self.workdir / f"daemon-{self.runs}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()/kill()
        self._log_pos = 0
        self._log_tail = b""
        self.events: dict[str, float] = {}
        self.spawned = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "tailstat", "run"], env=self.env, cwd=self.workdir,
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                     start_new_session=True)
        self.ps = psutil.Process(self.proc.pid)
        self.rusage = None

    def wait_event(self, name: str, timeout: float) -> float:
        """Seconds from spawn until the JSON log line with "event": name was seen (polled every 5 ms)."""
        deadline = self.spawned + timeout
        needle = f'"event":"{name}"'.encode()
        while name not in self.events:
            self._read_log(needle, name)
            if name in self.events:
                break
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited before {name!r}: {self.log_tail()}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no {name!r} event within {timeout:g} s: {self.log_tail()}")
            time.sleep(0.005)
        return self.events[name] - self.spawned

    def _read_log(self, needle: bytes, name: str) -> None:
        with open(self.log_path, "rb") as f:
            f.seek(self._log_pos)
            data = self._log_tail + f.read()
        cut = data.rfind(b"\n") + 1
        self._log_pos += cut - len(self._log_tail)
        self._log_tail = data[cut:]
        if needle in data[:cut]:
            self.events[name] = time.perf_counter()

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def log_events(self, name: str) -> list[dict[str, Any]]:
        needle = f'"event":"{name}"'.encode()
        with open(self.log_path, "rb") as f:
            return [orjson.loads(line) for line in f if needle in line]

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and reap with wait4 (keeps the daemon's rusage: CPU, peak RSS). Returns the exit status."""
        assert self.proc is not None
        self.close_http()
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.perf_counter() + timeout
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                self.kill()
                raise TimeoutError(f"daemon did not exit within {timeout:g} s of SIGTERM: {self.log_tail()}")
            time.sleep(0.02)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.rusage = usage
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        self.close_http()
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if getattr(self, "_log", None) is not None:
            self._log.close()

    @property
    def peak_rss_mb(self) -> float:
        return self.rusage.ru_maxrss * 1024 / MIB if self.rusage else float("nan")

    @property
    def exit_cpu_s(self) -> float:
        return self.rusage.ru_utime + self.rusage.ru_stime if self.rusage else float("nan")

    def cpu(self) -> float:
        assert self.ps is not None
        return tree_cpu(self.ps)

    def fds(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    # HTTP ------------------------------------------------------------------------------------------
    def get(self, path: str, timeout: float = 10.0) -> dict[str, Any]:
        """GET over one keep-alive connection; one reconnect on a dropped connection."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = UnixHTTPConnection(str(self.sock), timeout)
            try:
                self.conn.request("GET", path)
                response = self.conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                self.close_http()
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:200]!r}")
            return orjson.loads(body)
        raise AssertionError("unreachable")

    def stats(self) -> dict[str, Any]:
        # (top=0: no dimension entries; a field list must name real fields since c4ba000, so none is given)
        return self.get("/stats?top=0")

    def lines(self) -> int:
        return self.stats()["totals"]["lines"]

    def close_http(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@contextmanager
def daemon_in(workdir: Path, globs: list[str], settings: dict[str, str]) -> Iterator[Daemon]:
    d = Daemon(workdir, globs, settings)
    try:
        yield d
    finally:
        d.kill()


@contextmanager
def py_spy(enabled: bool, pid: int, seconds: float, name: str) -> Iterator[None]:
    """Optionally record the daemon with py-spy while the body runs: collapsed stacks of the thread holding the
    GIL (--gil: where the Python CPU goes; idle threads waiting in C are not samples), 100 Hz, non-blocking.
    Written to bench/results/pyspy-<name>.txt and summarized on stdout."""
    if not enabled:
        yield
        return
    spy = Path(sys.executable).with_name("py-spy")
    out = RESULTS / f"pyspy-{name}.txt"
    argv = [str(spy), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", "100",
            "--nonblocking", "--gil", "--threads", "--format", "raw", "--output", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        try:
            proc.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if out.exists():
            print(f"  py-spy: {out.relative_to(ROOT)}", flush=True)
            print("\n".join("    " + line for line in summarize_collapsed(out)), flush=True)


def summarize_collapsed(path: Path, top: int = 12) -> list[str]:
    """Share of samples per thread, tailstat functions by inclusive samples, and leaf functions (self time)."""
    per_thread: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        thread = next((f for f in frames if f.startswith("thread ")), frames[0])
        per_thread[thread] = per_thread.get(thread, 0) + count
        for func in {re.sub(r":\d+\)$", ")", f) for f in frames if "tailstat/" in f}:
            inclusive[func] = inclusive.get(func, 0) + count
        leaf = re.sub(r":\d+\)$", ")", frames[-1])
        leaves[leaf] = leaves.get(leaf, 0) + count

    def lines(counts: dict[str, int], n: int) -> list[str]:
        return [f"  {c / total:6.1%}  {name}" for name, c in sorted(counts.items(), key=lambda kv: -kv[1])[:n]]

    if not total:
        return ["(no samples)"]
    return [f"{total} samples of the GIL holder; by thread:", *lines(per_thread, 6),
            "tailstat functions, inclusive:", *lines(inclusive, top),
            "leaf functions (self):", *lines(leaves, top)]


# --------------------------------------------------------------------------------------- writers
# Each writer runs in its own (spawned) process: it prepares its data, sets `ready`, waits for `go`, writes,
# keeps `counter` (lines written so far, only ever after the write returned) and puts a summary on `result`.


def _pace(rate: float, seconds: float, tick: float, go_at: float) -> Iterator[tuple[int, float]]:
    """Yield (lines due so far, now) once per tick until rate*seconds lines are due; sleeps between ticks."""
    planned = int(rate * seconds)
    next_tick = go_at
    while True:
        now = time.perf_counter()
        due = min(planned, int((now - go_at) * rate))
        yield due, now
        if due >= planned or now - go_at > 3 * seconds + 10:  # bounded even if the writer starves
            return
        next_tick += tick
        delay = next_tick - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            next_tick = time.perf_counter()  # behind: do not try to make up ticks, just write what is due


def busy_writer(path: str, rate: float, seconds: float, seed: int, ready: Any, go: Any, counter: Any,
                result: Any) -> None:
    blob, starts = combined_lines(int(rate * seconds) + 1, seed)
    view = memoryview(blob)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    ready.set()
    if not go.wait(300):
        return
    go_at = time.perf_counter()
    written, last_write, max_gap = 0, go_at, 0.0
    for due, now in _pace(rate, seconds, 0.01, go_at):
        if due > written:
            write_all(fd, view[starts[written]:starts[due]])
            written = due
            counter.value = written
            max_gap, last_write = max(max_gap, now - last_write), now
    elapsed = time.perf_counter() - go_at
    os.close(fd)
    result.put({"written": written, "bytes": starts[written], "elapsed": elapsed, "max_gap": max_gap})


def spread_writer(paths: list[str], rate: float, seconds: float, seed: int, ready: Any, go: Any, counter: Any,
                  result: Any) -> None:
    """`rate` lines/s to each path, round-robin in 50 ms ticks; every file gets the same number of lines."""
    blob, starts = combined_lines(200_000, seed)
    view = memoryview(blob)
    pool = len(starts) - 1
    fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths]
    positions = [(i * 7_919) % (pool // 2) for i in range(len(fds))]
    ready.set()
    if not go.wait(300):
        return
    go_at = time.perf_counter()
    per_file, total, nbytes, max_round = 0, 0, 0, 0.0
    for due, now in _pace(rate, seconds, 0.05, go_at):
        k = due - per_file
        if k <= 0:
            continue
        for i, fd in enumerate(fds):
            s = positions[i] if positions[i] + k <= pool else 0
            write_all(fd, view[starts[s]:starts[s + k]])
            positions[i] = s + k
            total += k
            nbytes += starts[s + k] - starts[s]
            counter.value = total
        per_file = due
        max_round = max(max_round, time.perf_counter() - now)
    elapsed = time.perf_counter() - go_at
    for fd in fds:
        os.close(fd)
    result.put({"written": total, "bytes": nbytes, "per_file": per_file, "elapsed": elapsed,
                "max_round": max_round})


def stamp_writer(path: str, rate: float, seconds: float, ready: Any, go: Any, counter: Any, result: Any) -> None:
    """Lines carrying their write time (time.time_ns() taken just before the write), in 1 ms ticks."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    ready.set()
    if not go.wait(300):
        return
    go_at = time.perf_counter()
    written = 0
    for due, _ in _pace(rate, seconds, 0.001, go_at):
        if due > written:
            stamp = time.time_ns()
            write_all(fd, STAMP_LINE % stamp * (due - written))
            written = due
            counter.value = written
    elapsed = time.perf_counter() - go_at
    os.close(fd)
    result.put({"written": written, "elapsed": elapsed})


class Writer:
    """A writer process and its shared counter; `start` returns once its data is prepared."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        self.ready, self.go = SPAWN.Event(), SPAWN.Event()
        self.counter = SPAWN.Value("q", 0, lock=False)
        self.result_q = SPAWN.Queue()
        self.proc = SPAWN.Process(target=target, args=(*args, self.ready, self.go, self.counter, self.result_q),
                                  daemon=True)
        self.summary: dict[str, Any] | None = None

    def start(self, timeout: float = 120.0) -> None:
        self.proc.start()
        if not self.ready.wait(timeout):
            raise TimeoutError(f"writer not ready within {timeout:g} s")

    @property
    def written(self) -> int:
        return self.counter.value

    def finished(self) -> bool:
        if self.summary is None and not self.result_q.empty():
            self.summary = self.result_q.get_nowait()
        return self.summary is not None

    def join(self, timeout: float) -> dict[str, Any]:
        if self.summary is None:
            self.summary = self.result_q.get(timeout=timeout)
        self.proc.join(timeout)
        return self.summary

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


# ------------------------------------------------------------------------------------- scenarios
@dataclass
class LagTrace:
    """(seconds since go, lines written, lines counted) samples while a writer runs."""

    samples: list[tuple[float, int, int]] = field(default_factory=list)

    def max_lag(self) -> int:
        return max((w - c for _, w, c in self.samples), default=0)

    def final_lag(self) -> int:
        return self.samples[-1][1] - self.samples[-1][2] if self.samples else 0

    def growth(self) -> float:
        """Least-squares slope of lag over the second half of the run, lines/s: ~0 when the daemon keeps up,
        (write rate - daemon throughput) when it falls behind, however short the run."""
        if len(self.samples) < 4:
            return 0.0
        end = self.samples[-1][0]
        half = [(t, w - c) for t, w, c in self.samples if t >= end / 2]
        mt = sum(t for t, _ in half) / len(half)
        ml = sum(lag for _, lag in half) / len(half)
        var = sum((t - mt) ** 2 for t, _ in half)
        return sum((t - mt) * (lag - ml) for t, lag in half) / var if var else 0.0


def follow(d: Daemon, w: Writer, interval: float, limit: float) -> LagTrace:
    """Sample written vs counted every `interval` until the writer finishes (at most `limit` s).
    `written` is read after the daemon answered, so lag is an upper bound."""
    trace = LagTrace()
    go_at = time.perf_counter()
    w.go.set()
    next_at = go_at
    while not w.finished():
        if time.perf_counter() - go_at > limit:
            raise TimeoutError(f"writer still running after {limit:g} s")
        counted = d.lines()
        trace.samples.append((time.perf_counter() - go_at, w.written, counted))
        next_at += interval
        time.sleep(max(0.0, next_at - time.perf_counter()))
    return trace


def catch_up(d: Daemon, total: int, timeout: float) -> float:
    """Seconds until totals.lines reaches `total` (polled every 20 ms); then checks it does not go past it."""
    waited = wait_until(lambda: d.lines() >= total, timeout, 0.02, f"totals.lines == {total:,}")
    time.sleep(0.5)  # a double count would show up here
    return waited


def run_busy(report: Report, args: argparse.Namespace, rate: int, seconds: float, name: str) -> bool:
    """One busy file at `rate` lines/s. Returns whether the daemon kept up."""
    print(f"[{name}] one file, {rate:,} lines/s for {seconds:g} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="tailstat-bench-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        log = work / "logs" / "busy.log"
        log.touch()
        writer = Writer(busy_writer, str(log), rate, seconds, 1)
        try:
            writer.start()
            with daemon_in(work, [str(work / "logs" / "*.log")], args.settings) as d:
                d.start()
                d.wait_event("ready", 60)
                cpu0 = d.cpu()
                with py_spy(args.py_spy and name == "busy", d.proc.pid, seconds, name):
                    trace = follow(d, writer, 0.05, 3 * seconds + 30)
                summary = writer.join(30)
                total = summary["written"]
                catch_s = catch_up(d, total, 120)
                cpu = d.cpu() - cpu0
                doc = d.stats()
                report.check(name, "totals.lines == lines written", doc["totals"]["lines"], total)
                report.check(name, "parse errors", doc["totals"]["parse_errors"], 0)
                report.check(name, "file offset == file size", doc["files"][0]["offset"], log.stat().st_size)
                report.check(name, "newlines in the file == lines written", count_lines(log), total)
                report.check(name, "exit status after SIGTERM", d.stop(), 0)
        finally:
            writer.kill()
    achieved = total / summary["elapsed"]
    max_lag, growth = trace.max_lag(), trace.growth()
    keeps_up = max_lag / rate < TARGET_LAG_S and growth < 0.02 * rate and achieved >= 0.97 * rate
    report.add(name, "achieved write rate, lines/s (MiB/s)",
               f"{achieved:,.0f} ({summary['bytes'] / MIB / summary['elapsed']:.1f})", f">= {0.97 * rate:,.0f}",
               achieved >= 0.97 * rate)
    report_lag(report, name, trace, rate, catch_s, cpu, total, keeps_up)
    report.add(name, "writer max gap between writes, ms", f"{summary['max_gap'] * 1e3:.0f}")
    report.rows.append(Row(f"{name}: {rate:,} lines/s, 1 file", total, summary["elapsed"] + catch_s, cpu,
                           summary["bytes"], d.peak_rss_mb))
    return keeps_up


def report_lag(report: Report, name: str, trace: Any, rate: float, catch_s: float, cpu: float, lines: int,
               keeps_up: bool) -> None:
    """The rows every load scenario reports: lag (max, final, growth), catch-up, CPU per line, verdict."""
    max_lag, final_lag, growth = trace.max_lag(), trace.final_lag(), trace.growth()
    report.add(name, "max lag, lines (s)", f"{max_lag:,} ({max_lag / rate:.2f} s)", f"< {TARGET_LAG_S:g} s",
               max_lag / rate < TARGET_LAG_S)
    report.add(name, "lag at writer's end, lines (s)", f"{final_lag:,} ({final_lag / rate:.2f} s)")
    report.add(name, "lag growth over the 2nd half, lines/s (% of rate)", f"{growth:,.0f} ({growth / rate:.1%})",
               "< 2 %", growth < 0.02 * rate)
    report.add(name, "catch-up after writer stopped, s", f"{catch_s:.2f}")
    report.add(name, "daemon CPU s (per 1M lines)", f"{cpu:.2f} ({cpu / lines * 1e6:.2f})")
    report.add(name, "verdict", "keeps up" if keeps_up else "falls behind",
               f"lag < {TARGET_LAG_S:g} s, not growing", keeps_up)


def run_max(report: Report, args: argparse.Namespace) -> None:
    seconds = min(args.seconds, 5.0)
    for rate in (200_000, 250_000, 300_000, 400_000):
        if not run_busy(report, args, rate, seconds, f"max@{rate // 1000}k"):
            break


def run_spread(report: Report, args: argparse.Namespace) -> None:
    name, seconds = "spread", args.seconds
    print(f"[{name}] {SPREAD_FILES:,} files x {SPREAD_RATE} lines/s for {seconds:g} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="tailstat-bench-") as tmp:
        work = Path(tmp)
        logs = work / "logs"
        logs.mkdir()
        header = b'10.0.0.2 - - [10/Oct/2025:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "tailstat-bench"\n'
        paths = [str(logs / f"app-{i:04d}.log") for i in range(SPREAD_FILES)]
        for p in paths:  # one line each: the files exist (and are tracked) before the load starts
            Path(p).write_bytes(header)
        writer = Writer(spread_writer, paths, SPREAD_RATE, seconds, 2)
        try:
            writer.start()
            with daemon_in(work, [str(logs / "*.log")], args.settings) as d:
                d.start()
                ready_s = d.wait_event("ready", 60)
                wait_until(lambda: d.lines() >= SPREAD_FILES, 60, 0.05, "the header lines counted")
                cpu0 = d.cpu()
                with py_spy(args.py_spy, d.proc.pid, seconds, name):
                    trace = follow(d, writer, 0.1, 3 * seconds + 30)
                summary = writer.join(30)
                total = SPREAD_FILES + summary["written"]
                rate = summary["written"] / summary["elapsed"]
                catch_s = catch_up(d, total, 120)
                cpu = d.cpu() - cpu0
                doc = d.stats()
                per_file = {f["path"]: f["lines"] for f in doc["files"]}
                want = 1 + summary["per_file"]
                report.check(name, "totals.lines == lines written", doc["totals"]["lines"], total)
                report.check(name, "parse errors", doc["totals"]["parse_errors"], 0)
                report.check(name, "files tracked", len(per_file), SPREAD_FILES)
                report.check(name, f"files whose lines != {want}", sum(per_file.get(p) != want for p in paths), 0)
                report.add(name, "open files (health)", f"{doc['health']['open_files']}")
                report.check(name, "exit status after SIGTERM", d.stop(), 0)
        finally:
            writer.kill()
    max_lag, growth = trace.max_lag(), trace.growth()
    keeps_up = max_lag / rate < TARGET_LAG_S and growth < 0.02 * rate
    report.add(name, "spawn to ready, s", f"{ready_s:.2f}")
    report.add(name, "achieved write rate, lines/s (all files)", f"{rate:,.0f}",
               f">= {0.97 * SPREAD_FILES * SPREAD_RATE:,.0f}", rate >= 0.97 * SPREAD_FILES * SPREAD_RATE)
    report_lag(report, name, trace, rate, catch_s, cpu, summary["written"], keeps_up)
    report.add(name, "writer: slowest round over all files, ms", f"{summary['max_round'] * 1e3:.0f}")
    report.rows.append(Row(f"{name}: {SPREAD_FILES:,} files x {SPREAD_RATE} lines/s", summary["written"],
                           summary["elapsed"] + catch_s, cpu, summary["bytes"], d.peak_rss_mb))


def run_latency(report: Report, args: argparse.Namespace) -> None:
    name, seconds, rate = "latency", args.seconds, LATENCY_RATE
    print(f"[{name}] {rate:,} lines/s for {seconds:g} s, GET /stats every 5 ms", flush=True)
    with tempfile.TemporaryDirectory(prefix="tailstat-bench-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        log = work / "logs" / "stamped.log"
        log.touch()
        writer = Writer(stamp_writer, str(log), rate, seconds)
        polls: list[tuple[int, int]] = []  # (time.time_ns() when the answer arrived, totals.lines)
        try:
            writer.start()
            with daemon_in(work, [str(work / "logs" / "*.log")], args.settings) as d:
                d.start()
                d.wait_event("ready", 60)
                d.lines()  # connect before the clock starts
                writer.go.set()
                go_at = time.perf_counter()
                next_at = go_at
                with py_spy(args.py_spy, d.proc.pid, seconds, name):
                    while True:
                        counted = d.lines()
                        polls.append((time.time_ns(), counted))
                        if writer.finished() and polls[-1][1] >= writer.summary["written"]:
                            break
                        if time.perf_counter() - go_at > 3 * seconds + 30:
                            raise TimeoutError("latency run did not finish in time")
                        next_at += 0.005
                        time.sleep(max(0.0, next_at - time.perf_counter()))
                summary = writer.join(30)
                total = summary["written"]
                catch_up(d, total, 60)
                doc = d.stats()
                report.check(name, "totals.lines == lines written", doc["totals"]["lines"], total)
                report.check(name, "parse errors", doc["totals"]["parse_errors"], 0)
                report.check(name, "exit status after SIGTERM", d.stop(), 0)
            stamps = [int(s) for s in re.findall(rb"GET /t/(\d+) ", log.read_bytes())]
            report.check(name, "stamped lines in the file", len(stamps), total)
        finally:
            writer.kill()
    latencies: list[float] = []
    k = 0
    for i, stamp in enumerate(stamps):
        while polls[k][1] <= i:  # the last poll saw every line, so this stops
            k += 1
        latencies.append((polls[k][0] - stamp) / 1e6)
    latencies.sort()
    gaps = sorted((b[0] - a[0]) / 1e6 for a, b in pairwise(polls))
    report.add(name, "achieved write rate, lines/s", f"{total / summary['elapsed']:,.0f}")
    report.add(name, "polls (median spacing, ms)", f"{len(polls):,} ({percentile(gaps, 50):.1f})")
    report.add(name, "latency p50, ms", f"{percentile(latencies, 50):.0f}")
    p99 = percentile(latencies, 99)
    report.add(name, "latency p99, ms", f"{p99:.0f}", f"< {TARGET_P99_MS:g} ms", p99 < TARGET_P99_MS)
    report.add(name, "latency max, ms", f"{latencies[-1]:.0f}")


def run_many(report: Report, args: argparse.Namespace) -> None:
    name = "many"
    idle_s = args.idle_seconds
    print(f"[{name}] {MANY_FILES:,} files x {MANY_LINES} lines ({args.many_lines}), MAX_OPEN_FILES={MANY_MAX_OPEN}, "
          f"idle {idle_s:g} s",
          flush=True)
    settings = args.settings | {"MAX_OPEN_FILES": str(MANY_MAX_OPEN)}
    with tempfile.TemporaryDirectory(prefix="tailstat-bench-") as tmp:
        work = Path(tmp)
        logs = work / "logs"
        logs.mkdir()
        blob, starts = combined_lines(MANY_FILES + MANY_LINES, 3)
        paths = [logs / f"app-{i:05d}.log" for i in range(MANY_FILES)]
        same = blob[starts[0]:starts[1]] * MANY_LINES
        for i, p in enumerate(paths):
            p.write_bytes(same if args.many_lines == "same" else blob[starts[i]:starts[i + MANY_LINES]])
        total = MANY_FILES * MANY_LINES
        one_more = b'10.0.0.3 - - [10/Oct/2025:13:55:36 +0000] "GET /more HTTP/1.1" 200 1 "-" "tailstat-bench"\n'
        with daemon_in(work, [str(logs / "*.log")], settings) as d:
            # first start ------------------------------------------------------------------------------
            d.start()
            sampler = Sampler(d)
            sampler.start()
            with py_spy(args.py_spy, d.proc.pid, 20, "many-start"):
                ready_s = d.wait_event("ready", 900)
            started = d.log_events("started")[0]["timestamp"]
            ready_internal = _iso_seconds(d.log_events("ready")[0]["timestamp"]) - _iso_seconds(started)
            all_s = wait_until(lambda: d.lines() >= total, 600, 0.25, f"{total:,} lines counted")
            all_s += ready_s
            time.sleep(2.0)  # settle: the first checkpoint and snapshot after the initial read
            doc = d.stats()
            report.check(name, "totals.lines after first start", doc["totals"]["lines"], total)
            report.check(name, "files tracked", len(doc["files"]), MANY_FILES)
            fds_after_start = d.fds()
            open_files = doc["health"]["open_files"]
            d.close_http()  # nothing talks to the daemon during the idle window
            cpu0, t0 = d.cpu(), time.perf_counter()
            time.sleep(idle_s)
            idle_pct = (d.cpu() - cpu0) / (time.perf_counter() - t0) * 100
            with py_spy(args.py_spy, d.proc.pid, idle_s, "many-idle"):
                if args.py_spy:
                    time.sleep(idle_s)
            # one line appended to every file (each file touched once, descriptors churn through the LRU)
            cpu0 = d.cpu()
            t0 = time.perf_counter()
            for p in paths:
                with open(p, "ab") as f:
                    f.write(one_more)
            append_s = time.perf_counter() - t0
            total += MANY_FILES
            caught_s = wait_until(lambda: d.lines() >= total, 300, 0.1, f"{total:,} lines counted") + append_s
            time.sleep(0.5)
            append_cpu = d.cpu() - cpu0
            doc = d.stats()
            report.check(name, "totals.lines after one line per file", doc["totals"]["lines"], total)
            report.check(name, "files with lines != 11",
                         sum(f["lines"] != MANY_LINES + 1 for f in doc["files"]), 0)
            hwm_first = _vm_hwm_mb(d.proc.pid)
            report.check(name, "exit status after SIGTERM", d.stop(), 0)
            sampler.stop()
            rss_first, max_fds_first = d.peak_rss_mb, sampler.max_fds
            # restart from the checkpoint ------------------------------------------------------------
            d.start()
            sampler = Sampler(d)
            sampler.start()
            restart_s = d.wait_event("ready", 300)
            restart_internal = (_iso_seconds(d.log_events("ready")[0]["timestamp"])
                                - _iso_seconds(d.log_events("started")[0]["timestamp"]))
            at_ready = d.stats()["totals"]["lines"]
            time.sleep(2.0)  # anything read again would be counted by now
            doc = d.stats()
            report.check(name, "totals.lines at restart's ready", at_ready, total)
            report.check(name, "totals.lines 2 s after restart", doc["totals"]["lines"], total)
            report.check(name, "files tracked after restart", len(doc["files"]), MANY_FILES)
            fds_restart = d.fds()
            report.check(name, "exit status after SIGTERM (restart)", d.stop(), 0)
            sampler.stop()
    report.add(name, "spawn to ready, first start, s (started->ready in the log)",
               f"{ready_s:.2f} ({ready_internal:.2f})")
    report.add(name, "spawn to all 100,000 lines counted, s", f"{all_s:.2f}")
    report.add(name, "open descriptors after start (/proc/pid/fd); health.open_files",
               f"{fds_after_start}; {open_files}", f"bounded by {MANY_MAX_OPEN} + a few",
               fds_after_start <= MANY_MAX_OPEN + 64)
    report.add(name, "max descriptors seen (sampled every 50 ms, both runs)",
               f"{max(max_fds_first, sampler.max_fds)}")
    report.add(name, f"idle CPU over {idle_s:g} s, % of one core", f"{idle_pct:.2f}", f"< {TARGET_IDLE_PCT:g} %",
               idle_pct < TARGET_IDLE_PCT)
    report.add(name, "one line appended to each file: until all counted, s (daemon CPU s)",
               f"{caught_s:.2f} ({append_cpu:.2f})")
    report.add(name, "restart with 10,000 checkpointed files: spawn to ready, s (started->ready)",
               f"{restart_s:.2f} ({restart_internal:.2f})", f"< {TARGET_RESTART_S:g} s", restart_s < TARGET_RESTART_S)
    report.add(name, "descriptors after restart", f"{fds_restart}")
    report.add(name, "peak RSS tailing 10,000 files, MiB (first run; restart)",
               f"{rss_first:.0f}; {d.peak_rss_mb:.0f}", f"< {TARGET_RSS_MB:g}",
               max(rss_first, d.peak_rss_mb) < TARGET_RSS_MB)
    if not math.isnan(hwm_first):
        report.notes.append(f"many: VmHWM before SIGTERM of the first run was {hwm_first:.0f} MiB "
                            f"(ru_maxrss includes shutdown: {rss_first:.0f} MiB).")


class Sampler(threading.Thread):
    """Samples the daemon's descriptor count every 50 ms (bounded by the daemon's life or stop())."""

    def __init__(self, d: Daemon) -> None:
        super().__init__(daemon=True)
        self.pid = d.proc.pid
        self.max_fds = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.05):
            try:
                self.max_fds = max(self.max_fds, len(os.listdir(f"/proc/{self.pid}/fd")))
            except OSError:
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


def _iso_seconds(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def _vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_scan(report: Report, args: argparse.Namespace) -> None:
    name = "scan 2 GB"
    from bench.run_scan import ensure_log

    print(f"[{name}] tailstat scan of {SCAN_LINES:,} lines (generated once into bench/data/)", flush=True)
    path = ensure_log(SCAN_LINES)
    lines, size = count_lines(path), path.stat().st_size
    report.check(name, "lines in the file", lines, SCAN_LINES)
    argv = [sys.executable, "-m", "tailstat", "scan", "--json", "--top", "0", "--format", "combined", str(path)]
    env = clean_env() | {k: v for k, v in (("TAILSTAT_EXECUTOR", args.executor), ("TAILSTAT_WORKERS",
                                                                                   args.workers)) if v}
    m = run_measured(argv, env=env, timeout_s=600).check()
    doc = orjson.loads(m.stdout)
    report.check(name, "totals.parsed", doc["totals"]["parsed"], lines)
    report.add(name, "file size, MiB", f"{size / MIB:,.0f}")
    report.add(name, "wall s; lines/s; MiB/s", f"{m.wall_s:.1f}; {lines / m.wall_s:,.0f}; {size / MIB / m.wall_s:.1f}")
    report.add(name, "CPU s", f"{m.cpu_s:.1f}")
    report.add(name, "peak RSS, MiB (largest process)", f"{m.peak_rss_mb:.0f}", f"< {TARGET_RSS_MB:g}",
               m.peak_rss_mb < TARGET_RSS_MB)
    report.rows.append(Row.from_measurement(f"tailstat scan, {size / (1 << 30):.2f} GiB", m, lines, size))


SCENARIOS = {
    "busy": lambda r, a: run_busy(r, a, BUSY_RATE, a.seconds, "busy"),
    "max": run_max,
    "spread": run_spread,
    "latency": run_latency,
    "many": run_many,
    "scan": run_scan,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 s per load phase, 3 s idle window, no rate search, no 2 GB scan")
    parser.add_argument("--only", help=f"comma list of {', '.join(SCENARIOS)}")
    parser.add_argument("--seconds", type=float, help="length of each load phase (default 10; 3 with --quick)")
    parser.add_argument("--executor", choices=("thread", "process"), help="TAILSTAT_EXECUTOR for the daemon")
    parser.add_argument("--workers", help="TAILSTAT_WORKERS for the daemon")
    parser.add_argument("--py-spy", action="store_true",
                        help="record the daemon with py-spy during busy, latency and the idle window")
    parser.add_argument("--many-lines", choices=("varied", "same"), default="varied",
                        help="many: the files' lines -- varied (generated access-log lines: the aggregates grow with "
                             "their distinct values) or the same line everywhere (what the tailer holds per file)")
    parser.add_argument("--out", default=str(RESULTS / "daemon.md"), help="markdown report (default %(default)s)")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="also run each scenario, just before this checkout's, with the daemon of another "
                             "checkout (its daemon/ first on PYTHONPATH; rows and results marked 'old'), e.g. "
                             "`git archive 4d9c34a | tar -x -C /tmp/old`")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.idle_seconds = 3.0 if args.quick else 30.0  # three rescans (10 s apart) and snapshot rewrites: a window
    # of one scattered by about 1 % of a core between runs
    args.settings = {k: v for k, v in (("EXECUTOR", args.executor), ("WORKERS", args.workers)) if v}
    if args.only:
        chosen = args.only.split(",")
        unknown = set(chosen) - set(SCENARIOS)
        if unknown:
            parser.error(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    else:
        chosen = [s for s in SCENARIOS if not (args.quick and s in ("max", "scan"))]
    RESULTS.mkdir(parents=True, exist_ok=True)

    command = "python -m bench.run_daemon" + (" " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else "")
    header = machine_header(args, command)
    print("\n".join(header), flush=True)
    report = Report()
    started = time.perf_counter()
    plain_path = os.environ.get("PYTHONPATH")
    for scenario in chosen:
        for label in (["old ", ""] if args.against else [""]):
            if label:
                os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.against / "daemon"), plain_path]))
            elif plain_path is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = plain_path
            report.label = label
            first_row = len(report.rows)
            try:
                SCENARIOS[scenario](report, args)
            except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others' numbers
                report.fail(scenario, f"{type(exc).__name__}: {exc}")
            report.rows[first_row:] = [replace(r, name=label + r.name) for r in report.rows[first_row:]]
        report.label = ""
    header.append(f"- load average at end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}; "
                  f"total {time.perf_counter() - started:.0f} s")
    parts = ["# tailstat daemon benchmark", "", *header, "", report.table()]
    if report.rows:
        caption = ("Throughput. Tailing rows: lines over (writing + catch-up) seconds, daemon CPU over that phase, "
                   "peak RSS of the whole daemon run; scan row: the whole command. Ratios against the first row.")
        parts += ["", caption, "", markdown_table(report.rows, report.rows[0].name)]
    if report.notes:
        parts += ["", *[f"- {n}" for n in report.notes]]
    text = "\n".join(parts) + "\n"
    print("\n" + text)
    Path(args.out).write_text(text)
    print(f"written to {args.out}")
    failed = report.failures + sum(r.verdict == "FAIL" for r in report.results)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
