"""Shared test helpers: the daemon as a real subprocess, and waiting for conditions (never for timings)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

REPO = Path(__file__).resolve().parent.parent


def wait_until(cond: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}")
        time.sleep(interval)


def read_events(path: Path, event: str | None = None) -> list[dict[str, Any]]:
    """The daemon's structured (JSON) log lines from a stderr capture, optionally only one event."""
    out = []
    for line in path.read_bytes().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and (event is None or rec.get("event") == event):
            out.append(rec)
    return out


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that would configure the daemon behind a test's back (TAILSTAT_*, and
    what systemd sets for a service), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(
        ("TAILSTAT_", "NOTIFY_SOCKET", "WATCHDOG_", "RUNTIME_DIRECTORY", "STATE_DIRECTORY"))}
    env.update(extra)
    return env


class Daemon:
    """`python -m tailstat run` with a given environment; state and snapshot in `state_dir`.

    This class reads the stats from the snapshot file (stats.json); test_http_support.Daemon, a subclass, talks
    to the daemon's HTTP API instead."""

    waits_for_snapshot = True  # start() returns once the first stats.json exists

    def __init__(self, tmp: Path, paths: str, preexec: Callable[[], None] | None = None, **env: str) -> None:
        self.tmp = tmp
        self.state_dir = tmp / "state"
        self.stderr_path = tmp / f"daemon-{time.monotonic_ns()}.log"
        defaults = {"TAILSTAT_PATHS": paths, "TAILSTAT_STATE_DIR": str(self.state_dir),
                    "TAILSTAT_LOG_FORMAT": "json", "TAILSTAT_SNAPSHOT_INTERVAL": "0.1", "TAILSTAT_HTTP_ADDR": "off",
                    "TAILSTAT_READ_FROM": "beginning"}
        self.env = clean_env(**{**defaults, **env})
        self.preexec = preexec
        self.proc: subprocess.Popen | None = None

    def start(self, wait_ready: bool = True) -> Self:
        snapshot = self.state_dir / "stats.json"
        if snapshot.exists():
            snapshot.unlink()
        self._err = open(self.stderr_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "tailstat", "run"], env=self.env, cwd=self.tmp,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._err,
                                     preexec_fn=self.preexec)  # noqa: PLW1509 - tests only, before threads
        if wait_ready:
            wait_until(lambda: self.log_events("ready") or self.proc.poll() is not None, 30, what="ready")
            assert self.proc.poll() is None, f"the daemon exited with {self.proc.returncode}:\n{self.stderr()}"
            if self.waits_for_snapshot:
                wait_until(snapshot.exists, 10, what="first snapshot")
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        for _ in range(50):
            try:
                return json.loads((self.state_dir / "stats.json").read_bytes())
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.02)
        raise AssertionError("no readable stats.json")

    def wait_lines(self, n: int, timeout: float = 30.0) -> dict[str, Any]:
        wait_until(lambda: self.stats()["totals"]["lines"] >= n, timeout, what=f"{n} lines")
        return self.stats()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `sig` and return the exit status; a daemon still running after `timeout` is killed (-9)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._err.close()
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self._err.close()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_events(self, event: str | None = None) -> list[dict[str, Any]]:
        return read_events(self.stderr_path, event)

    def state(self) -> dict[str, Any]:
        return json.loads((self.state_dir / "state.json").read_bytes())


@contextmanager
def paused(d: Daemon) -> Iterator[None]:
    """The daemon stopped (SIGSTOP) for the block, so that what it does falls between two of its passes;
    SIGCONT after it, whatever happens."""
    d.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        d.proc.send_signal(signal.SIGCONT)


LOGROTATE = "/usr/sbin/logrotate"
# JSON lines {"w":1,"n":N}, counted by w with n as a measure: sum/min/max tell exactly which lines were counted
COUNTED_ENV = {"TAILSTAT_FORMAT": "json", "TAILSTAT_GROUP_BY": "w", "TAILSTAT_MEASURES": "n",
               "TAILSTAT_CHECKPOINT_INTERVAL": "0.2", "TAILSTAT_RESCAN_INTERVAL": "0.5"}


def numbered_lines(start: int, count: int) -> bytes:
    return b"".join(b'{"w":1,"n":%d}\n' % n for n in range(start, start + count))


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def app_log(tmp: Path, count: int = 5, olddir: bool = False) -> tuple[Path, Path]:
    """(tmp/"logs", tmp/"logs"/"app.log"): the directory made (with logs/old too if `olddir`), app.log holding
    numbered_lines(1, count) -- or not there at all if `count` is 0."""
    logs = tmp / "logs"
    (logs / "old" if olddir else logs).mkdir(parents=True)
    log = logs / "app.log"
    if count:
        append(log, numbered_lines(1, count))
    return logs, log


def logrotate(tmp: Path, log: Path | str, *directives: str) -> None:
    """The real `logrotate -f` on `log` (a path or a glob) with these directives, one a line: the
    configuration written to tmp/"lr.conf" (again at each call), logrotate's state kept in tmp/"lr.state".
    It must succeed."""
    conf = tmp / "lr.conf"
    conf.write_text(f"{log} {{\n" + "".join(f"  {directive}\n" for directive in directives) + "}\n")
    done = subprocess.run([LOGROTATE, "-s", str(tmp / "lr.state"), "-f", str(conf)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def assert_numbered_lines_once(doc: dict[str, Any], n: int) -> None:
    """The stats document counted numbered_lines(1, n) each exactly once, and dropped nothing."""
    m = doc["measures"]["n"]
    assert doc["totals"]["lines"] == n
    assert (m["count"], m["sum"], m["min"], m["max"]) == (n, n * (n + 1) // 2, 1, n)
    assert doc["dropped"] == {}
