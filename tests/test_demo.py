"""scripts/demo.sh with TAILSTAT_HTTP_ADDR overridden: the hints it prints name that address, and typed in
another terminal (run here from the repository root) they reach the demo's daemon."""

from __future__ import annotations

import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from helpers import REPO, clean_env
from test_http_support import free_port


def start_demo(env: dict[str, str]) -> tuple[subprocess.Popen, list[str]]:
    """scripts/demo.sh started, and what it printed up to its last hint line."""
    proc = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out: list[str] = []
    for line in proc.stdout:
        out.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C stops the daemon."):
            break
    return proc, out


def test_demo_hints_use_the_overridden_address(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(TAILSTAT_HTTP_ADDR=f"127.0.0.1:{port}", TMPDIR=str(tmp_path))
    proc, out = start_demo(env)
    try:
        hints = [ln.strip() for ln in out if ln.startswith("  ") and "  # " in ln]
        assert hints == [
            f"TAILSTAT_HTTP_ADDR=127.0.0.1:{port} .venv/bin/tailstat top              # live view; q quits",
            f"TAILSTAT_HTTP_ADDR=127.0.0.1:{port} .venv/bin/tailstat stats --follow   # one line per second",
            f"curl -s http://127.0.0.1:{port}/metrics      # Prometheus",
            f"http://127.0.0.1:{port}/      # the web page, in a browser"], out
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert (page.status, page.headers.get_content_type()) == (200, "text/html")
        typed = hints[0].split("#")[0].strip() + " --iterations 1"
        done = subprocess.run(["sh", "-c", typed], cwd=REPO, env=clean_env(COLUMNS="200"), capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert f"http://127.0.0.1:{port}" in done.stdout.splitlines()[0]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_demo_hints_name_the_default_address_too(tmp_path: Path) -> None:
    """Without the address, a hint typed in another terminal would reach an installed service's socket
    (/run/tailstat/tailstat.sock, tried first) instead of the demo."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 9514)) == 0:
            pytest.skip("127.0.0.1:9514 is in use on this machine (the demo's default address)")
    proc, out = start_demo(clean_env(TMPDIR=str(tmp_path)))
    try:
        hints = [ln.strip() for ln in out if ln.startswith("  ") and "tailstat" in ln and "  # " in ln]
        assert hints == [
            "TAILSTAT_HTTP_ADDR=127.0.0.1:9514 .venv/bin/tailstat top              # live view; q quits",
            "TAILSTAT_HTTP_ADDR=127.0.0.1:9514 .venv/bin/tailstat stats --follow   # one line per second"], out
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
