"""Windows count event time: lines whose own timestamps are older than the window (a backlog of old logs)
count in `all` only. A window's document carries `all_lines`, and `stats --window`, `stats --follow` and `top`
say why the window shows fewer lines than were read. A real daemon, real HTTP, the CLI as a subprocess."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from tailstat.top import Rates, view
from test_http_support import Daemon, access_lines, base_env, cli, until

NONE_10 = ("none of the 10 lines read is timed in the last 5m (their own timestamps are older): --window all "
           "counts them")


def fresh_line() -> bytes:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    return f'10.0.0.1 - - [{stamp}] "GET /now HTTP/1.1" 200 5 "-" "curl"\n'.encode()


def tty_top(doc: dict) -> str:
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(view(doc, Rates(doc, None), "http://x", width=80, height=24))
    return console.export_text()


def test_old_timestamps_are_explained(tmp_path: Path) -> None:
    d = Daemon(tmp_path)
    d.append(access_lines(10))  # dated 2024
    with d:
        d.wait_lines(10)
        doc = d.stats("window=5m")
        assert (doc["totals"]["lines"], doc["all_lines"], sum(f["lines"] for f in doc["files"])) == (0, 10, 10)
        env = base_env(tmp_path, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{d.port}", COLUMNS="200")
        out = cli(env, "stats", "--window", "5m").stdout.decode().splitlines()
        assert out[1] == NONE_10
        assert "lines read" not in cli(env, "stats").stdout.decode()  # window all: nothing to explain
        top = cli(env, "top", "--iterations", "1").stdout.decode().splitlines()  # not a tty: no keys
        assert top[2] == "none of 10 lines read is in the last 5m (older timestamps): --window all"
        assert "none of 10 lines read is in the last 5m (older timestamps): press 6 for all" in tty_top(doc)
        assert "lines read" not in tty_top(d.stats())
        follow = subprocess.Popen([sys.executable, "-m", "tailstat", "stats", "--follow", "--window", "5m"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            assert follow.stdout is not None
            first, second = follow.stdout.readline().decode(), follow.stdout.readline().decode()
        finally:
            follow.kill()
            follow.wait()
        assert first.rstrip("\n") == NONE_10
        assert " last 5m: lines 0 (0.0/s)" in second

        d.append(fresh_line())  # one line of now: 10 of the 11 read are timed before the window
        doc = until(lambda: d.stats("window=5m"), lambda doc: doc["totals"]["lines"] == 1, what="fresh line")
        assert doc["all_lines"] == 11
        out = cli(env, "stats", "--window", "5m").stdout.decode().splitlines()
        assert out[1] == ("10 of the 11 lines read in the last 5m are timed before it (their own timestamps are "
                          "older): --window all counts them")
        assert "10 of 11 lines read in 5m have older timestamps: press 6 for all" in tty_top(doc)
        env80 = {**env, "COLUMNS": "80"}
        out = cli(env80, "stats", "--window", "5m").stdout.decode().splitlines()
        assert out[1:3] == ["10 of the 11 lines read in the last 5m are timed before it (their own timestamps",
                            "  are older): --window all counts them"]
