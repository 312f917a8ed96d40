"""Finding the local daemon without TAILSTAT_HTTP_ADDR: the service's socket first (TAILSTAT_SERVICE_SOCKET
stands in for /run/tailstat/tailstat.sock), then 127.0.0.1:9514; permission denied names the socket's group.
A real daemon on a real unix socket, the real CLI as a subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tailstat.config import load_config
from tailstat.discover import candidates
from test_http_support import Daemon, access_lines, base_env, cli, until

HINT = ("start it with `tailstat run`, or set TAILSTAT_HTTP_ADDR (host:port, unix:/path) to the daemon's "
        "address")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _stale_socket(path: Path) -> None:
    """A socket file nobody listens on (a service that died without removing it)."""
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()


def _env(tmp: Path, sock: Path, **extra: str) -> dict[str, str]:
    env = base_env(tmp, TAILSTAT_SERVICE_SOCKET=str(sock), **extra)
    env.pop("TAILSTAT_HTTP_ADDR", None)
    return env


def test_candidates_order() -> None:
    env = {"TAILSTAT_SERVICE_SOCKET": "/run/x/t.sock"}
    assert candidates(load_config(env, require_paths=False), exists=lambda p: True) == [
        "unix:/run/x/t.sock", "127.0.0.1:9514"]
    assert candidates(load_config(env, require_paths=False), exists=lambda p: False) == ["127.0.0.1:9514"]
    given = load_config({**env, "TAILSTAT_HTTP_ADDR": "127.0.0.1:9999"}, require_paths=False)
    assert candidates(given, exists=lambda p: True) == ["127.0.0.1:9999"]
    systemd = load_config({**env, "RUNTIME_DIRECTORY": "/run/y"}, require_paths=False)
    assert candidates(systemd, exists=lambda p: True) == ["unix:/run/y/tailstat.sock"]


def test_service_socket_must_be_absolute(tmp_path: Path) -> None:
    done = cli(base_env(tmp_path, TAILSTAT_SERVICE_SOCKET="run/t.sock"), "stats")
    assert done.returncode == 2
    assert done.stderr.decode().strip() == ("tailstat: configuration error: TAILSTAT_SERVICE_SOCKET='run/t.sock' "
                                            "is not an absolute path; accepted: an absolute socket path")


def test_stats_top_and_follow_find_the_service_socket(tmp_path: Path) -> None:
    sock = tmp_path / "run" / "tailstat.sock"
    sock.parent.mkdir()
    d = Daemon(tmp_path, TAILSTAT_HTTP_ADDR=f"unix:{sock}")
    d.append(access_lines(37))
    env = _env(tmp_path, sock)
    with d:
        doc = until(lambda: orjson.loads(cli(env, "stats", "--json").stdout),
                    lambda doc: doc["totals"]["lines"] == 37, what="37 lines through the service socket")
        assert doc["daemon"]["pid"] == d.proc.pid  # type: ignore[union-attr]
        # window all: the lines' own (old) timestamps put them outside the default windows
        top = cli({**env, "COLUMNS": "300"}, "top", "--iterations", "1", "--window", "all")
        assert top.returncode == 0, top.stderr
        assert f"unix:{sock}" in top.stdout.decode().splitlines()[0]
        proc = subprocess.Popen([sys.executable, "-m", "tailstat", "stats", "--follow", "--json", "--interval",
                                 "0.2", "--window", "all"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        first = orjson.loads(proc.stdout.readline())
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert first["totals"]["lines"] == 37 and proc.returncode == 130 and err == b""


def test_stale_service_socket_falls_back_to_loopback(tmp_path: Path) -> None:
    if not _port_free(9514):
        pytest.skip("127.0.0.1:9514 is in use on this machine (the fallback address under test)")
    sock = tmp_path / "tailstat.sock"
    _stale_socket(sock)
    d = Daemon(tmp_path, TAILSTAT_HTTP_ADDR="127.0.0.1:9514")
    d.append(access_lines(12))
    with d:
        doc = until(lambda: orjson.loads(cli(_env(tmp_path, sock), "stats", "--json").stdout),
                    lambda doc: doc["totals"]["lines"] == 12, what="12 lines over the loopback fallback")
        assert doc["daemon"]["http"] == "127.0.0.1:9514"


def test_nothing_answering_names_both_addresses(tmp_path: Path) -> None:
    if not _port_free(9514):
        pytest.skip("127.0.0.1:9514 is in use on this machine (the fallback address under test)")
    sock = tmp_path / "tailstat.sock"
    _stale_socket(sock)
    done = cli(_env(tmp_path, sock), "stats")
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().strip() == (
        f"tailstat: nothing answering at unix:{sock} (Connection refused); no tailstat daemon answering at "
        f"http://127.0.0.1:9514 (Connection refused); {HINT}")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv (to run the client without CAP_DAC_OVERRIDE)")
def test_permission_denied_says_which_group(tmp_path: Path) -> None:
    sock = tmp_path / "run" / "tailstat.sock"
    sock.parent.mkdir()
    d = Daemon(tmp_path, TAILSTAT_HTTP_ADDR=f"unix:{sock}")
    with d:
        os.chown(sock, 65534, 65534)  # the service's own user and group; mode stays 0660
        env = base_env(tmp_path, TAILSTAT_HTTP_ADDR=f"unix:{sock}")
        # root without the capability that bypasses file permissions: an ordinary user to the socket
        done = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                               "tailstat", "stats"], env=env, capture_output=True, timeout=30, check=False)
    import grp
    import pwd
    group, owner = grp.getgrgid(65534).gr_name, pwd.getpwuid(65534).pw_name
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().strip() == (
        f"tailstat: permission denied on unix:{sock}; the socket {sock} has owner {owner}, group {group}, mode "
        f"0660: run tailstat as a member of group {group} or as root (sudo), or set TAILSTAT_HTTP_ADDR to an "
        "address you may use")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv (to run the client without CAP_DAC_OVERRIDE)")
def test_discovery_permission_denied_then_nothing_on_loopback(tmp_path: Path) -> None:
    if not _port_free(9514):
        pytest.skip("127.0.0.1:9514 is in use on this machine (the fallback address under test)")
    sock = tmp_path / "run" / "tailstat.sock"
    sock.parent.mkdir()
    d = Daemon(tmp_path, TAILSTAT_HTTP_ADDR=f"unix:{sock}")
    with d:
        os.chown(sock, 65534, 65534)
        done = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                               "tailstat", "stats"], env=_env(tmp_path, sock), capture_output=True, timeout=30,
                              check=False)
    import grp
    import pwd
    group, owner = grp.getgrgid(65534).gr_name, pwd.getpwuid(65534).pw_name
    assert (done.returncode, done.stdout) == (1, b"")
    assert done.stderr.decode().strip() == (
        f"tailstat: permission denied on unix:{sock}; the socket {sock} has owner {owner}, group {group}, mode "
        f"0660: run tailstat as a member of group {group} or as root (sudo), or set TAILSTAT_HTTP_ADDR to an "
        f"address you may use; no tailstat daemon answering at http://127.0.0.1:9514 (Connection refused); {HINT}")
