"""`tailstat top` at 80x24 (tmux) with more dimensions than fit: the view keeps its key line and measures and
says how many dimensions it left out, instead of running off the bottom of the screen."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_http_support import Daemon, base_env, until

FIELDS = [f"f{i}" for i in range(12)]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_top_with_many_dimensions_fits_80x24(tmp_path: Path) -> None:
    d = Daemon(tmp_path, TAILSTAT_FORMAT="json", TAILSTAT_GROUP_BY=",".join(FIELDS), TAILSTAT_MEASURES="ms")
    d.append(b"".join(json.dumps({**{f: f"{f}-v{i % 3}" for f in FIELDS}, "ms": i}).encode() + b"\n"
                      for i in range(30)))
    with d:
        doc = until(d.stats, lambda doc: doc["totals"]["lines"] == 30, what="30 lines")
        dims = len(doc["fields"])
        assert dims >= len(FIELDS)
        env = base_env(tmp_path, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{d.port}", TERM="xterm-256color")
        script = tmp_path / "top.sh"
        script.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()) +
                          f"{shlex.quote(sys.executable)} -m tailstat top --window all\nsleep 30\n")
        tmux = ["tmux", "-S", str(tmp_path / "tmux.sock")]
        subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "top", f"sh {script}"],
                       check=True)
        try:
            def screen() -> str:
                return subprocess.run([*tmux, "capture-pane", "-p", "-t", "top"], capture_output=True,
                                      check=True).stdout.decode()

            shown = until(screen, lambda s: "q quit" in s, what="the top screen with its key line")
            lines = shown.rstrip("\n").splitlines()
            assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
            assert lines[-1].strip() == "window: 1 1m  2 5m  3 15m  4 1h  5 24h  6 [all]   q quit"
            heads = [ln for ln in lines if "distinct)" in ln]
            shown_dims = sum(ln.count("distinct)") for ln in heads)
            assert 0 < shown_dims < dims, shown
            assert (f"\u2026 {dims - shown_dims} more dimensions (a taller terminal, or --field NAME)"
                    in [ln.strip() for ln in lines])
            assert any(ln.split()[:2] == ["ms", "30"] for ln in lines)  # the measure row is still there
        finally:
            subprocess.run([*tmux, "kill-server"], check=False)
