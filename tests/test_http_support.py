"""Helpers for the live-stats tests (HTTP API, metrics, CLI, top): a daemon subprocess and real HTTP.

No tests here; the test modules import it (tests/ is on sys.path under pytest's default import mode).
"""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

import helpers
from helpers import clean_env

STATUSES = ("200", "200", "200", "404", "404", "500")
METHODS = ("GET", "GET", "POST", "PUT")
WAIT = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def access_lines(n: int, start: int = 0, paths: int = 13, prefix: str = "") -> bytes:
    """n combined-format lines; line i has status STATUSES[i % 6], method METHODS[i % 4], path
    /{prefix}p{i % paths}, client 10.0.0.{i % 7}, bytes_sent 100 + i % 50."""
    out = []
    for i in range(start, start + n):
        out.append(f'10.0.0.{i % 7} - - [10/Oct/2024:13:55:{i % 60:02d} +0000] "{METHODS[i % 4]} '
                   f'/{prefix}p{i % paths} HTTP/1.1" {STATUSES[i % 6]} {100 + i % 50} "-" "test-agent/1.0"\n')
    return "".join(out).encode()


def expected(n: int, start: int = 0, paths: int = 13) -> dict[str, Counter]:
    rng = range(start, start + n)
    return {
        "status": Counter(STATUSES[i % 6] for i in rng),
        "method": Counter(METHODS[i % 4] for i in rng),
        "path": Counter(f"/p{i % paths}" for i in rng),
        "client": Counter(f"10.0.0.{i % 7}" for i in rng),
    }


def wait_for(cond: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = cond()
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def until(produce: Callable[[], Any], ok: Callable[[Any], bool], what: str, timeout: float = WAIT) -> Any:
    """The first value of produce() that satisfies ok()."""
    def attempt() -> Any:
        value = produce()
        return value if ok(value) else None

    return wait_for(attempt, timeout, what)


def base_env(tmp: Path, **settings: str) -> dict[str, str]:
    """The environment of the daemon below (and of CLI commands run against it)."""
    defaults = {"TAILSTAT_PATHS": str(tmp / "logs" / "*.log"), "TAILSTAT_STATE_DIR": str(tmp / "state"),
                "TAILSTAT_READ_FROM": "beginning", "TAILSTAT_FORMAT": "combined", "TAILSTAT_LOG_FORMAT": "json",
                "TAILSTAT_WORKERS": "2", "PYTHONUNBUFFERED": "1"}
    return clean_env(**{**defaults, **settings})


class Daemon(helpers.Daemon):
    """helpers.Daemon over tmp/logs/*.log (combined format), talking HTTP on a free loopback port (or as
    configured): stats() and wait_lines() go through GET /stats."""

    waits_for_snapshot = False  # ready is enough: the stats come over HTTP

    def __init__(self, tmp: Path, *, host: str = "127.0.0.1", token: str = "", **settings: str) -> None:
        (tmp / "logs").mkdir(parents=True, exist_ok=True)
        self.log_path = tmp / "logs" / "access.log"
        self.port = free_port()
        self.host = host
        self.token = token
        if "TAILSTAT_HTTP_ADDR" not in settings and "RUNTIME_DIRECTORY" not in settings:
            settings["TAILSTAT_HTTP_ADDR"] = f"{host}:{self.port}"
        if token:
            settings["TAILSTAT_HTTP_TOKEN"] = token
        super().__init__(tmp, str(tmp / "logs" / "*.log"))
        self.env = base_env(tmp, **settings)  # this harness's defaults, not the snapshot tests'

    def stop(self) -> int:  # type: ignore[override] - always SIGTERM here
        return super().stop(signal.SIGTERM, WAIT)

    def append(self, data: bytes) -> None:
        with open(self.log_path, "ab") as fh:
            fh.write(data)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return self.log_events(name)

    def noise(self) -> list[bytes]:
        """stderr lines that are not structured log events (tracebacks, asyncio or aiohttp warnings)."""
        out = []
        for raw in self.stderr_path.read_bytes().splitlines():
            try:
                orjson.loads(raw)
            except orjson.JSONDecodeError:
                out.append(raw)
        return out

    # ------------------------------------------------------------------------------------------- HTTP
    def request(self, path: str, *, method: str = "GET", token: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            hdrs = dict(headers or {})
            token = self.token if token is None else token
            if token:
                hdrs["Authorization"] = f"Bearer {token}"
            conn.request(method, path, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def get_json(self, path: str) -> dict[str, Any]:
        status, _, body = self.request(path)
        assert status == 200, (status, body)
        return orjson.loads(body)

    def stats(self, query: str = "") -> dict[str, Any]:
        return self.get_json("/stats" + (f"?{query}" if query else ""))

    def wait_lines(self, n: int) -> dict[str, Any]:
        return until(self.stats, lambda doc: doc["totals"]["lines"] == n, what=f"{n} lines counted")


def cli(env: dict[str, str], *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tailstat", *args], env=env, capture_output=True, check=False,
                          timeout=timeout, stdin=subprocess.DEVNULL)
