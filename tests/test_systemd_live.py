"""tailstat under the machine's real systemd 252, booted as PID 1 of private namespaces by
tests/tools/sysd_ns.py (one fresh systemd per test, about 0.4 s to boot and power off: each test gets its own
/etc, /var, network and journal).

The real systemd/tailstat.service is installed with a drop-in that changes only what a test must: ExecStart=
(the virtualenv lives in the share, which the service sees read-only at SHARE_INSIDE) and an ExecStopPost=
that writes the exit status to the journal; the watchdog test adds a 2 s WatchdogSec=. Everything else
(DynamicUser=, Group=, the sandbox, the system call filter, MemoryDenyWriteExecute=,
StateDirectory=/RuntimeDirectory=, EnvironmentFile=) runs as an admin installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import orjson
import pytest
from packaging.requirements import Requirement

from tools.sysd_ns import SHARE_INSIDE, SysdNs, unavailable

ROOT = Path(__file__).resolve().parents[1]
VENV_INSIDE = f"{SHARE_INSIDE}/venv"
LOG_DIR = "/var/log/tailstat-test"
LOG_FILE = f"{LOG_DIR}/access.log"
UNIT = "tailstat.service"
PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
# what the unit hides from the service: ProtectHome=yes, PrivateTmp=yes
HIDDEN = ("/root", "/home", "/run/user", "/tmp", "/var/tmp")

DROP_IN = f"""\
[Service]
# The virtualenv is in the test's share, visible read-only at {SHARE_INSIDE} inside.
ExecStart=
ExecStart={VENV_INSIDE}/bin/tailstat run
# A clean exit is not visible in `systemctl show` once the unit is unloaded: put it in the journal.
ExecStopPost=/bin/sh -c 'echo "stop-post: result=$SERVICE_RESULT code=$EXIT_CODE status=$EXIT_STATUS" >&2'
"""

ENV_FILE = f"""\
# /etc/default/tailstat for the test: one named source, and settings that differ from the defaults so that
# their effect proves the file was read.
TAILSTAT_SOURCES=web
TAILSTAT_SOURCE_WEB_PATHS={LOG_DIR}/*.log
TAILSTAT_SOURCE_WEB_FORMAT=combined
TAILSTAT_READ_FROM=beginning
TAILSTAT_WORKERS=2
TAILSTAT_CHECKPOINT_INTERVAL=1
# TAILSTAT_HTTP_ADDR unset: under systemd the API defaults to unix:$RUNTIME_DIRECTORY/tailstat.sock
"""


def _world_traversable(path: Path) -> bool:
    """Can an unprivileged user (the service's DynamicUser) reach and run `path`?"""
    path = path.resolve()
    if any(str(path) == h or str(path).startswith(h + "/") for h in HIDDEN):
        return False
    for parent in path.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IXOTH)


def service_python() -> Path | None:
    """A CPython X.Y (the tests' own version, so compiled wheels fit) that the sandboxed service can run."""
    candidates = [Path(sys.base_prefix) / "bin" / f"python{PY_VERSION}",
                  Path(f"/usr/bin/python{PY_VERSION}"), Path(f"/usr/local/bin/python{PY_VERSION}")]
    for exe in candidates:
        if exe.is_file() and _world_traversable(exe):
            return exe
    return None


def _skip_reason() -> str | None:
    reason = unavailable()
    if reason is not None:
        return f"no systemd in namespaces: {reason}"
    if service_python() is None:
        return (f"no python{PY_VERSION} outside {', '.join(HIDDEN)} for the sandboxed service to run "
                f"(install Debian's python{PY_VERSION})")
    return None


SKIP_REASON = _skip_reason()
pytestmark = [pytest.mark.systemd, pytest.mark.skipif(SKIP_REASON is not None, reason=str(SKIP_REASON))]


# ------------------------------------------------------------------------------------------------ the venv
def _runtime_distributions() -> list[metadata.Distribution]:
    """tailstat's installed runtime dependencies, transitively (markers evaluated for this interpreter)."""
    found: dict[str, metadata.Distribution] = {}
    todo = [r for r in (metadata.requires("tailstat") or [])]
    while todo:
        req = Requirement(todo.pop())
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if key in found:
            continue
        found[key] = dist = metadata.distribution(req.name)
        todo.extend(dist.requires or [])
    return list(found.values())


def build_venv(share: Path) -> None:
    """A virtualenv at share/venv that works at SHARE_INSIDE/venv: the service's python, tailstat's
    installed dependencies copied in (with their bytecode), tailstat from this checkout, a console script."""
    venv = share / "venv"
    subprocess.run([str(service_python()), "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{PY_VERSION}" / "site-packages"
    source_site = Path(sysconfig.get_paths()["purelib"])
    tops: set[str] = set()
    for dist in _runtime_distributions():
        for f in dist.files or []:
            if f.parts[0] != ".." and (source_site / f.parts[0]).exists():
                tops.add(f.parts[0])
    for top in sorted(tops):
        src = source_site / top
        if src.is_dir():
            shutil.copytree(src, site / top, symlinks=True)
        else:
            shutil.copy2(src, site / top)
    shutil.copytree(ROOT / "daemon" / "tailstat", site / "tailstat",
                    ignore=shutil.ignore_patterns("__pycache__"))
    script = venv / "bin" / "tailstat"
    # as pip writes it; the __main__ guard matters: process-pool workers re-import the main module
    script.write_text(f"#!{VENV_INSIDE}/bin/python\nimport sys\nfrom tailstat.cli import main\n"
                      "if __name__ == '__main__':\n    sys.exit(main())\n")
    script.chmod(0o755)
    # bytecode for tailstat itself, so the read-only venv does not recompile it at every start
    subprocess.run([str(service_python()), "-m", "compileall", "-q", str(site / "tailstat")], check=True)


@pytest.fixture(scope="module")
def share(tmp_path_factory: pytest.TempPathFactory) -> Path:
    share = tmp_path_factory.mktemp("sysd-share")
    share.chmod(0o755)  # bind-mounted at SHARE_INSIDE: its own mode is what the DynamicUser meets
    build_venv(share)
    units = share / "units"
    (units / f"{UNIT}.d").mkdir(parents=True)
    shutil.copy(ROOT / "systemd" / UNIT, units / UNIT)
    (units / f"{UNIT}.d" / "test.conf").write_text(DROP_IN)
    (share / "etc" / "default").mkdir(parents=True)
    (share / "etc" / "default" / "tailstat").write_text(ENV_FILE)
    return share


# ---------------------------------------------------------------------------------------------- systemd
class Systemd(SysdNs):
    """A booted systemd (tests/tools/sysd_ns.py) with what the tests ask of it."""

    def show(self, *props: str) -> dict[str, str]:
        out = self.sh(f"systemctl show {UNIT} " + " ".join(f"-p {p}" for p in props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self) -> list[str]:
        return self.sh(f"journalctl --sync; journalctl -u {UNIT} -o cat --no-pager").splitlines()

    def journal_events(self) -> list[dict]:
        return [orjson.loads(line) for line in self.journal() if line.startswith("{")]

    def stats(self, http_addr: str = "off") -> dict | None:
        """`tailstat stats --json` as an admin would run it: from the snapshot in the service's directories
        (http_addr off), or from the daemon's HTTP API."""
        out = self.sh(f"env -i TAILSTAT_STATE_DIR=/var/lib/tailstat TAILSTAT_RUNTIME_DIR=/run/tailstat "
                      f"TAILSTAT_HTTP_ADDR={http_addr} {VENV_INSIDE}/bin/tailstat stats --json", check=False)
        return orjson.loads(out) if out.startswith("{") else None

    def lines_counted(self) -> int:
        doc = self.stats()
        return doc["totals"]["lines"] if doc else -1

    def append(self, data: bytes) -> None:
        self.sh(f"cat >> {LOG_FILE}", input=data)


@pytest.fixture
def systemd(share: Path, tmp_path: Path) -> Iterator[Systemd]:
    sd = Systemd(tmp_path / "sysd", share, f"tailstat-test-{os.getpid()}")
    try:
        sd.start()
        # a log directory only root and group adm can read, as on Debian: the service reads it as Group=adm
        sd.sh(f"install -d -m 0750 -o root -g adm {LOG_DIR} && "
              f"install -m 0640 -o root -g adm /dev/null {LOG_FILE}")
        yield sd
    finally:
        sd.stop()


def combined_lines(n: int, start: int = 0) -> bytes:
    return b"".join(
        f'198.51.100.{i % 250} - - [10/Oct/2023:13:55:{i % 60:02d} +0000] "GET /page/{i} HTTP/1.1" '
        f'200 {500 + i} "-" "curl/8.0"\n'.encode() for i in range(start, start + n))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# ------------------------------------------------------------------------------------------------- tests
def test_lifecycle_under_systemd(systemd: Systemd):
    systemd.append(combined_lines(3))  # before the first start: counted because READ_FROM=beginning

    # `systemctl start` of a Type=notify unit returns only after READY=1: by then the first checkpoint is on
    # disk and the unit is active (checked in the same shell, right after start returns)
    out = systemd.sh(f"systemctl start {UNIT} && test -f /var/lib/tailstat/state.json && echo state-ok; "
                     f"systemctl show {UNIT} -p ActiveState -p SubState -p StatusText -p MainPID")
    assert out.splitlines()[0] == "state-ok", out
    props = dict(line.split("=", 1) for line in out.splitlines()[1:])
    assert (props["ActiveState"], props["SubState"]) == ("active", "running"), out
    assert re.fullmatch(r"watching \d+ files", props["StatusText"]), props  # READY=1's STATUS=
    pid = props["MainPID"]

    # a dynamic unprivileged identity in group adm (gid 4); StateDirectory=/RuntimeDirectory= handed over
    status = systemd.sh(f"cat /proc/{pid}/status")
    uid = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE).group(1)
    assert uid != "0" and re.search(r"^Gid:\s+(.*)$", status, re.MULTILINE).group(1).split() == ["4"] * 4
    # the sandbox is on and CPython lives with it: no capabilities, no new privileges, a seccomp filter
    # (SystemCallFilter=, MemoryDenyWriteExecute=, RestrictAddressFamilies=, ... are all seccomp)
    for line in ("NoNewPrivs:\t1", "Seccomp:\t2", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000"):
        assert line in status.splitlines(), status
    environ = systemd.sh(f"tr '\\0' '\\n' < /proc/{pid}/environ").splitlines()
    assert "STATE_DIRECTORY=/var/lib/tailstat" in environ and "RUNTIME_DIRECTORY=/run/tailstat" in environ
    owners = systemd.sh("stat -c %u /var/lib/tailstat/state.json /run/tailstat/stats.json").split()
    assert owners == [uid, uid]
    assert systemd.sh("readlink /var/lib/tailstat").strip() == "private/tailstat"  # DynamicUser= layout

    # the EnvironmentFile configured it: source "web", combined, and the backlog read from the beginning
    wait_until(lambda: systemd.lines_counted() == 3, 20, "the 3 backlog lines in `tailstat stats`")
    doc = systemd.stats()
    assert [(f["path"], f["format"]) for f in doc["files"]] == [(LOG_FILE, "combined")]
    assert doc["totals"]["parsed"] == 3 and doc["totals"]["parse_errors"] == 0

    systemd.append(combined_lines(5, start=3))
    wait_until(lambda: systemd.lines_counted() == 8, 20, "8 lines in `tailstat stats`")
    # the HTTP API answers on its unix socket in the sandbox (RestrictAddressFamilies=, ProtectSystem=strict)
    via_http = systemd.stats(http_addr="unix:/run/tailstat/tailstat.sock")
    assert via_http is not None and via_http["totals"]["lines"] == 8

    # clean stop: exit 0, the final checkpoint written with every line
    systemd.sh(f"systemctl stop {UNIT}")
    assert systemd.sh(f"systemctl is-active {UNIT}", check=False).strip() == "inactive"
    journal = systemd.journal()
    assert "stop-post: result=success code=exited status=0" in journal, journal
    stopped = [e for e in systemd.journal_events() if e["event"] == "stopped"]
    assert len(stopped) == 1 and stopped[0]["lines"] == 8 and stopped[0]["checkpoint_ok"] is True
    state = orjson.loads(systemd.sh("cat /var/lib/tailstat/state.json"))
    assert state, "final checkpoint"

    # lines written while it is down are read once at the next start; nothing counted twice
    systemd.append(combined_lines(2, start=8))
    systemd.sh(f"systemctl start {UNIT}")
    wait_until(lambda: systemd.lines_counted() == 10, 20, "10 lines after the restart")
    time.sleep(1.5)  # a second snapshot: still 10, not 18 or 13
    assert systemd.lines_counted() == 10

    # the journal carries tailstat's structured JSON lines
    events = systemd.journal_events()
    names = [e["event"] for e in events]
    assert names.count("started") == 2 and names.count("ready") == 2 and names.count("stopped") == 1
    assert all({"event", "level", "timestamp"} <= e.keys() for e in events)
    assert [e["resumed"] for e in events if e["event"] == "started"] == [False, True]
    assert [e for e in events if e["level"] in ("warning", "error")] == []
    # nothing the sandbox refused, no notification from a process other than the main one
    assert not [line for line in systemd.journal() if "Operation not permitted" in line or
                "reception only permitted for main PID" in line]
    systemd.sh(f"systemctl stop {UNIT}")


def test_watchdog_restarts_a_stopped_process(systemd: Systemd):
    # short, so that the stopped process is caught within seconds (only here: a 2 s watchdog on a loaded
    # machine is not what the lifecycle test is about)
    systemd.sh(f"mkdir -p /run/systemd/system/{UNIT}.d && "
               f"printf '[Service]\\nWatchdogSec=2s\\n' > /run/systemd/system/{UNIT}.d/watchdog.conf && "
               f"systemctl daemon-reload && systemctl start {UNIT}")
    assert systemd.show("WatchdogUSec")["WatchdogUSec"] == "2s"
    before = systemd.show("MainPID", "NRestarts")
    systemd.sh(f"kill -STOP {before['MainPID']}")  # a wedged process: no more WATCHDOG=1

    def restarted() -> bool:
        now = systemd.show("MainPID", "ActiveState", "SubState")
        return (now["ActiveState"], now["SubState"]) == ("active", "running") and \
            now["MainPID"] not in ("0", before["MainPID"])

    wait_until(restarted, 30, "a new main process after the watchdog timeout")
    assert int(systemd.show("NRestarts")["NRestarts"]) >= int(before["NRestarts"]) + 1
    journal = systemd.journal()
    assert any("Watchdog timeout" in line for line in journal), journal
    assert any(line.startswith("stop-post: result=watchdog ") for line in journal), journal
    systemd.sh(f"systemctl stop {UNIT}")


def test_configuration_error_fails_once_without_restart_loop(systemd: Systemd):
    # a typo in the EnvironmentFile: tailstat exits 2 naming it, and systemd does not retry it
    # (RestartPreventExitStatus=2)
    systemd.sh("echo TAILSTAT_WORKER=4 >> /etc/default/tailstat")
    out = systemd.sh(f"systemctl start {UNIT}; echo rc=$?", check=False)
    assert out.strip().splitlines()[-1] != "rc=0", out
    time.sleep(3)  # longer than RestartSec=2s: a restart would have happened by now
    props = systemd.show("ActiveState", "Result", "ExecMainStatus", "NRestarts")
    assert props == {"ActiveState": "failed", "Result": "exit-code", "ExecMainStatus": "2", "NRestarts": "0"}
    assert any("TAILSTAT_WORKER" in line and "not a known setting" in line for line in systemd.journal())


# ------------------------------------------------------------------------------ clients finding the service
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534"]  # user nobody, group nogroup


def test_plain_client_finds_the_service_socket(systemd: Systemd):
    """Issue 15: with the service running, `tailstat stats` with no TAILSTAT_HTTP_ADDR on the same host finds
    /run/tailstat/tailstat.sock (nothing answers on 127.0.0.1:9514 in the namespaces); the socket belongs to
    group adm, whose members may use it; anyone else is told to be in group adm."""
    systemd.append(combined_lines(4))
    systemd.sh(f"systemctl start {UNIT}")
    wait_until(lambda: systemd.lines_counted() == 4, 20, "the 4 lines in the snapshot")
    assert systemd.sh("stat -c '%G %a %F' /run/tailstat /run/tailstat/tailstat.sock").splitlines() == \
        ["adm 755 directory", "adm 660 socket"]
    tailstat = [f"{VENV_INSIDE}/bin/tailstat", "stats", "--json"]

    for who, prefix in (("root", []), ("a member of group adm", [*NOBODY, "--groups=4"])):
        res = systemd.run([*prefix, *tailstat], check=False)
        assert res.returncode == 0, (who, res.stderr.decode())
        doc = orjson.loads(res.stdout)
        assert doc["totals"]["lines"] == 4 and [f["path"] for f in doc["files"]] == [LOG_FILE], who

    # top (not on a terminal: plain frames) and stats --follow find it the same way
    # window all: the lines' own (old) timestamps put them outside the default windows
    top = systemd.run([f"{VENV_INSIDE}/bin/tailstat", "top", "--iterations", "1", "--window", "all"], check=False)
    assert top.returncode == 0, top.stderr.decode()
    assert top.stdout.decode().count(LOG_FILE) == 1 and "lines 4 " in top.stdout.decode(), top.stdout.decode()
    follow = systemd.run(["timeout", "-s", "INT", "2.5", f"{VENV_INSIDE}/bin/tailstat", "stats", "--follow",
                          "--json", "--window", "all"], check=False)
    lines = [orjson.loads(line) for line in follow.stdout.splitlines()]
    assert lines and all(doc["totals"]["lines"] == 4 for doc in lines), follow.stderr.decode()

    # not in group adm: exit 1, one line on stderr that names the socket and the group to be in
    res = systemd.run([*NOBODY, "--clear-groups", *tailstat], check=False)
    err = res.stderr.decode()
    assert (res.returncode, res.stdout) == (1, b""), err
    assert len(err.splitlines()) == 1 and err.startswith("tailstat: "), err
    assert "permission denied on unix:/run/tailstat/tailstat.sock" in err, err
    assert "group adm" in err, err
    systemd.sh(f"systemctl stop {UNIT}")
