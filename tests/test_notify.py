"""The sd_notify protocol, against a real AF_UNIX datagram socket standing in for systemd.

The daemon runs as a subprocess; the socket records every datagram with the sender's PID (SCM_CREDENTIALS, as
systemd checks it for NotifyAccess=main).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from tailstat.notify import Notifier

STARTUP_TIMEOUT = 30.0  # a loaded 2-core CI machine imports slowly


@dataclass
class Message:
    at: float  # time.monotonic() on arrival
    pid: int | None  # the sender, from SCM_CREDENTIALS
    fields: list[str]


class FakeSystemd:
    """A datagram socket bound where $NOTIFY_SOCKET points; keeps every message it receives."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        self.messages: list[Message] = []

    def receive(self, timeout: float) -> Message | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except TimeoutError:
            return None
        pid = None
        for level, kind, cdata in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", cdata[:12])[0]
        msg = Message(time.monotonic(), pid, data.decode().split("\n"))
        self.messages.append(msg)
        return msg

    def wait_for(self, field_prefix: str, timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.receive(left)
            if msg and any(f.startswith(field_prefix) for f in msg.fields):
                return msg
        got = [m.fields for m in self.messages]
        raise AssertionError(f"no {field_prefix!r} within {timeout} s; got {got}")

    def collect(self, seconds: float) -> list[Message]:
        """Everything that arrives in the next `seconds`."""
        start = len(self.messages)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.receive(left)
        return self.messages[start:]

    def with_field(self, field: str) -> list[Message]:
        return [m for m in self.messages if field in m.fields]

    def close(self) -> None:
        self.sock.close()


def combined_lines(n: int, start: int = 0) -> bytes:
    return b"".join(
        f'203.0.113.{i % 250} - - [10/Oct/2023:13:55:{i % 60:02d} +0000] "GET /item/{i} HTTP/1.1" '
        f'200 {100 + i} "-" "curl/8.0"\n'.encode() for i in range(start, start + n))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Daemon:
    """`tailstat run` as a subprocess, configured only through its environment, as systemd would."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.logs = tmp / "logs"
        self.state = tmp / "state"
        self.runtime = tmp / "run"
        self.stderr_path = tmp / "stderr.log"
        self.logs.mkdir()
        self.log_file = self.logs / "access.log"
        self.log_file.touch()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, notify_socket: str | None, *, argv_prefix: tuple[str, ...] = (), **extra: str) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TAILSTAT_", "NOTIFY_SOCKET", "WATCHDOG_", "LISTEN_"))}
        env.update(
            TAILSTAT_PATHS=f"{self.logs}/*.log", TAILSTAT_FORMAT="combined", TAILSTAT_WORKERS="1",
            TAILSTAT_STATE_DIR=str(self.state), TAILSTAT_RUNTIME_DIR=str(self.runtime),
            TAILSTAT_HTTP_ADDR="off", TAILSTAT_LOG_FORMAT="json",
            # no safety-net rescan during a test: only the armed inotify watch can pick up appended lines
            TAILSTAT_RESCAN_INTERVAL="3600",
        )
        if notify_socket is not None:
            env["NOTIFY_SOCKET"] = notify_socket
        env.update(extra)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([*argv_prefix, sys.executable, "-m", "tailstat", "run"], env=env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def append(self, data: bytes) -> None:
        with open(self.log_file, "ab") as fh:
            fh.write(data)

    def stats(self) -> dict | None:
        try:
            return orjson.loads((self.runtime / "stats.json").read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    def lines_counted(self) -> int:
        doc = self.stats()
        return doc["totals"]["lines"] if doc else -1

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log_events(self) -> list[dict]:
        lines = self.stderr_path.read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.startswith(b"{")]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    yield d
    d.kill()


@pytest.fixture(params=["path", "abstract"])
def fake_systemd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeSystemd]:
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
    else:
        address = f"@tailstat-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    fake = FakeSystemd(address)
    yield fake
    fake.close()


# --------------------------------------------------------------------------------------- daemon as subprocess
def test_ready_after_state_and_watchers_then_stopping_and_exit_0(daemon: Daemon, fake_systemd: FakeSystemd):
    daemon.start(fake_systemd.address)

    ready = fake_systemd.wait_for("READY=1", STARTUP_TIMEOUT)
    # READY=1 means: the checkpoint is on disk, the stats snapshot exists, and the watchers are armed
    assert (daemon.state / "state.json").is_file()
    assert (daemon.runtime / "stats.json").is_file()
    assert ready.pid == daemon.pid  # from the main process itself: NotifyAccess=main accepts it
    assert ready.fields[0] == "READY=1" and re.fullmatch(r"STATUS=watching \d+ files", ready.fields[1])
    assert len(ready.fields) == 2, ready.fields
    daemon.append(combined_lines(3))  # right after READY=1; periodic rescan is off, so only inotify sees it
    wait_until(lambda: daemon.lines_counted() == 3, 20, "3 lines appended after READY=1 to be counted")

    stop_sent = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    stopping = fake_systemd.wait_for("STOPPING=1", 20)
    assert daemon.proc.wait(30) == 0
    assert stopping.pid == daemon.pid and stopping.at >= stop_sent
    assert stopping.fields == ["STOPPING=1", "STATUS=stopping"]
    fake_systemd.collect(0.2)  # anything still in flight
    assert len(fake_systemd.with_field("READY=1")) == 1
    assert fake_systemd.with_field("WATCHDOG=1") == []  # WATCHDOG_USEC unset: no pings
    events = [e["event"] for e in daemon.log_events()]
    assert events.index("ready") < events.index("stopping") < events.index("stopped")
    assert not [e for e in daemon.log_events() if e["level"] in ("warning", "error")]


def test_watchdog_pings_at_half_the_timeout(daemon: Daemon, tmp_path: Path):
    fake = FakeSystemd(str(tmp_path / "notify.sock"))
    try:
        # systemd sets WATCHDOG_PID to the main PID; `exec` keeps the shell's PID, so $$ is the daemon's PID
        daemon.start(fake.address, argv_prefix=("sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh"),
                     WATCHDOG_USEC="500000")
        fake.wait_for("READY=1", STARTUP_TIMEOUT)
        window = 3.0
        pings = [m for m in fake.collect(window) if "WATCHDOG=1" in m.fields]
        # one every 0.25 s -> 12 in 3 s; a loaded machine delays pings (fewer), never bunches them (more)
        assert 6 <= len(pings) <= 14, [round(m.at - pings[0].at, 3) for m in pings]
        assert {m.pid for m in pings} == {daemon.pid}
        gaps = [b.at - a.at for a, b in itertools.pairwise(pings)]
        assert min(gaps) > 0.1, gaps  # a steady cadence, not a burst

        status = fake.wait_for("STATUS=files=", 15)  # the periodic one-line summary (every 5 s)
        assert re.match(r"STATUS=files=\d+ lines=0 lines/s=0 errors=0\b", status.fields[0]), status.fields
        assert daemon.terminate() == 0
    finally:
        fake.close()


def test_no_watchdog_pings_for_another_pid(daemon: Daemon, tmp_path: Path):
    fake = FakeSystemd(str(tmp_path / "notify.sock"))
    try:
        # WATCHDOG_PID names another process (e.g. inherited from a parent service): not ours to ping
        daemon.start(fake.address, WATCHDOG_USEC="200000", WATCHDOG_PID="1")
        fake.wait_for("READY=1", STARTUP_TIMEOUT)
        assert [m for m in fake.collect(1.0) if "WATCHDOG=1" in m.fields] == []
        assert daemon.terminate() == 0
    finally:
        fake.close()


def test_without_notify_socket_nothing_is_sent_and_nothing_fails(daemon: Daemon):
    daemon.start(None, WATCHDOG_USEC="200000")
    wait_until(lambda: daemon.lines_counted() == 0, STARTUP_TIMEOUT, "the daemon's first stats snapshot")
    wait_until(lambda: "ready" in [e["event"] for e in daemon.log_events()], STARTUP_TIMEOUT, "ready")
    daemon.append(combined_lines(2))
    wait_until(lambda: daemon.lines_counted() == 2, 20, "2 appended lines to be counted")
    assert daemon.terminate() == 0
    events = daemon.log_events()
    assert [e["event"] for e in events if e["level"] in ("warning", "error")] == []
    assert [e["lines"] for e in events if e["event"] == "stopped"] == [2]


def test_a_vanished_notify_socket_is_logged_once_and_ignored(daemon: Daemon, tmp_path: Path):
    daemon.start(str(tmp_path / "no-such.sock"), WATCHDOG_USEC="200000")
    wait_until(lambda: "ready" in [e["event"] for e in daemon.log_events()], STARTUP_TIMEOUT, "ready")
    time.sleep(0.5)  # a couple of failed watchdog pings
    daemon.append(combined_lines(4))
    wait_until(lambda: daemon.lines_counted() == 4, 20, "4 appended lines to be counted")
    assert daemon.terminate() == 0
    failures = [e for e in daemon.log_events() if e["event"] == "notify_failed"]
    assert len(failures) == 1 and failures[0]["level"] == "warning"


# ------------------------------------------------------------------------------------------ Notifier itself
@pytest.mark.parametrize("value, expected", [
    ("/run/systemd/notify", "/run/systemd/notify"),
    ("@abstract/name", b"\0abstract/name"),
    ("", None),
    ("relative/path", None),  # sd_notify(3) accepts only absolute paths and '@' names
])
def test_notify_socket_addresses(value: str, expected: str | bytes | None):
    n = Notifier({"NOTIFY_SOCKET": value} if value else {})
    try:
        assert n.address == expected
        assert n.enabled is (expected is not None)
        if expected is None:
            assert n.ready("x") is False and n.watchdog() is False and n.stopping() is False
    finally:
        n.close()


@pytest.mark.parametrize("env, interval", [
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}, 1.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}, None),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({}, None),
])
def test_watchdog_interval_is_half_of_watchdog_usec(env: dict[str, str], interval: float | None):
    assert Notifier(env).watchdog_interval == interval


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_messages_in_process(tmp_path: Path, kind: str):
    address = str(tmp_path / "n.sock") if kind == "path" else f"@tailstat-unit-{uuid.uuid4().hex[:8]}"
    fake = FakeSystemd(address)
    n = Notifier({"NOTIFY_SOCKET": address})
    try:
        assert n.ready("watching 2 files") and n.status("files=2") and n.watchdog() and n.stopping()
        got = [fake.receive(1.0) for _ in range(4)]
        assert [m.fields for m in got if m] == [
            ["READY=1", "STATUS=watching 2 files"], ["STATUS=files=2"], ["WATCHDOG=1"],
            ["STOPPING=1", "STATUS=stopping"]]
        assert {m.pid for m in got if m} == {os.getpid()}
    finally:
        n.close()
        fake.close()


def test_send_failure_returns_false_and_never_raises(tmp_path: Path):
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    try:
        assert n.enabled
        assert n.watchdog() is False and n.watchdog() is False
        assert n._warned  # logged once, then quiet
    finally:
        n.close()
    assert n.send("READY=1") is False  # after close(): a no-op
