"""The README's check of the service's configuration file, run as printed (minus sudo) on the shipped
systemd/tailstat.env: it must print what the service will use (its state directory and API socket, which
systemd's StateDirectory=/RuntimeDirectory= decide), and name the example's directories that do not exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from helpers import clean_env

ROOT = Path(__file__).resolve().parent.parent


def test_readme_config_check_prints_the_service_values(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"`sudo (sh -c '[^`]*tailstat config')`", readme)
    assert command is not None, "the README's config check"
    env_file = tmp_path / "tailstat"
    env_file.write_text((ROOT / "systemd" / "tailstat.env").read_text())
    env = clean_env(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    out = subprocess.run(command.group(1).replace("/etc/default/tailstat", str(env_file)), shell=True, env=env,
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    rows = dict(line.split("=", 1) for line in out.stdout.decode().splitlines() if not line.startswith("#"))
    assert (rows["TAILSTAT_HTTP_ADDR"], rows["TAILSTAT_STATE_DIR"], rows["TAILSTAT_RUNTIME_DIR"]) == (
        "unix:/run/tailstat/tailstat.sock", "/var/lib/tailstat", "/run/tailstat")
    notes = [ln for ln in out.stderr.decode().splitlines() if "does not exist" in ln]
    expected = [("/var/log/nginx", "/var/log/nginx/access.log", "nginx"),
                ("/var/log/nginx", "/var/log/nginx/*.access.log", "nginx"),
                ("/var/log/myapp", "/var/log/myapp/*.jsonl", "app")]
    assert notes == [f"tailstat: note: directory {d} does not exist (glob {g}, source {s}): nothing is read "
                     "from it until it exists" for d, g, s in expected if not os.path.isdir(d)]
