"""scripts/demo.sh with TAILSTAT_HTTP_ADDR overridden: the hints it prints name that address, and typed in
another terminal (run here from the repository root) they reach the demo's daemon."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from helpers import REPO, clean_env
from test_http_support import free_port


def test_demo_hints_use_the_overridden_address(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(TAILSTAT_HTTP_ADDR=f"127.0.0.1:{port}", TMPDIR=str(tmp_path))
    proc = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out: list[str] = []
    try:
        for line in proc.stdout:
            out.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C stops the daemon."):
                break
        hints = [ln.strip() for ln in out if ln.startswith("  ") and "  # " in ln]
        assert hints == [
            f"TAILSTAT_HTTP_ADDR=127.0.0.1:{port} .venv/bin/tailstat top              # live view; q quits",
            f"TAILSTAT_HTTP_ADDR=127.0.0.1:{port} .venv/bin/tailstat stats --follow   # one line per second",
            f"curl -s http://127.0.0.1:{port}/metrics      # Prometheus"], out
        typed = hints[0].split("#")[0].strip() + " --iterations 1"
        done = subprocess.run(["sh", "-c", typed], cwd=REPO, env=clean_env(COLUMNS="200"), capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert f"http://127.0.0.1:{port}" in done.stdout.splitlines()[0]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
