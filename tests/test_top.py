"""`tailstat top` in a real terminal (tmux, 80x24): shows the daemon's counts live and quits on `q`;
plain snapshots when stdout is not a terminal."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_http_support import Daemon, access_lines, base_env, cli, until, wait_for

N = 600


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    d = Daemon(tmp_path_factory.mktemp("top"))
    d.append(access_lines(N) + b"not a log line\n")
    with d:
        d.wait_lines(N + 1)
        yield d


def rows(screen: str) -> list[list[str]]:
    return [line.split() for line in screen.splitlines()]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_top_in_a_real_terminal(daemon: Daemon, tmp_path: Path) -> None:
    env = base_env(daemon.tmp, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{daemon.port}", TERM="xterm-256color")
    exit_file = tmp_path / "exit"
    script = tmp_path / "top.sh"
    script.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()) +
                      f"{shlex.quote(sys.executable)} -m tailstat top\necho $? > {exit_file}\nsleep 30\n")
    tmux = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "top", f"sh {script}"], check=True)
    try:
        def screen() -> str:
            return subprocess.run([*tmux, "capture-pane", "-p", "-t", "top"], capture_output=True,
                                  check=True).stdout.decode()

        opened = until(screen, lambda s: "q quit" in s, what="the top screen")
        assert "window: 1 1m  2 [5m]  3 15m  4 1h  5 24h  6 all   q quit" in opened  # it opens on 5m
        assert "lines/s per 10 s step, 5m: " in opened  # the sparkline of the window's steps
        subprocess.run([*tmux, "send-keys", "-t", "top", "6"], check=True)  # the cumulative view
        first = until(screen, lambda s: "6 [all]" in s, what="the cumulative view")
        assert f"lines {N + 1:,}" in first and "errors 1" in first
        assert ["200", "300", "50.0%", "GET", "300", "50.0%"] in rows(first)  # status | method side by side
        assert ["404", "200", "33.3%", "POST", "150", "25.0%"] in rows(first)
        [file_row] = [r for r in rows(first) if r and r[0].endswith("/logs/access.log")]
        assert file_row[1:] == [str(N + 1), "0.0", "0", "B", "1", "0"]  # lines, lines/s, lag, errors, rotations
        assert any(r[:2] == ["bytes_sent", str(N)] for r in rows(first))
        lines = first.splitlines()
        assert len(lines) <= 24 and max(len(line) for line in lines) <= 80

        daemon.append(access_lines(60, start=N))  # live: the next refreshes show the new counts
        later = until(screen, lambda s: f"lines {N + 61:,}" in s, what="refreshed counts")
        assert ["200", "330", "50.0%", "GET", "330", "50.0%"] in rows(later)

        subprocess.run([*tmux, "send-keys", "-t", "top", "q"], check=True)
        assert wait_for(lambda: exit_file.read_text().strip(), what="top to exit") == "0"
        assert "q quit" not in screen()  # the alternate screen is gone, the terminal restored
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)


def test_top_without_a_terminal_prints_plain_snapshots(daemon: Daemon) -> None:
    env = base_env(daemon.tmp, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{daemon.port}")
    done = cli(env, "top", "--iterations", "2", "--interval", "0.1", "--field", "status", "--window", "all")
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert "\x1b" not in text and "q quit" not in text
    assert text.count(f"lines {N + 1:,}") + text.count(f"lines {N + 61:,}") == 2
    assert text.count("status (3 distinct)") == 2 and "method" not in text


def test_top_opens_on_the_last_5m(daemon: Daemon) -> None:
    """The 600 access lines are from 2024, older than the ring: only the unparseable line (no time of its own,
    so counted when read) is in the window."""
    env = base_env(daemon.tmp, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{daemon.port}")
    done = cli(env, "top", "--iterations", "1", "--field", "status")
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert "lines 1 " in text and "errors 1 " in text and "status (0 distinct)" not in text
    assert "lines/s per 10 s step, 5m: " in text
