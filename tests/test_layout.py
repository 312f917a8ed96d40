"""80 columns by default, the full width when there is more ($COLUMNS): the file table of `scan` and `stats`,
measure lines and `stats --follow` lines, with exact widths; long paths cut in the middle with an ellipsis.
Also: the first --follow line after a restart reads as the restored total."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO
from tailstat.layout import cut_middle
from test_http_support import Daemon, access_lines, base_env, cli

DEEP = "very-long-directory-name-for-a-log-tree/and-another-level-below-it/nginx"


def long_logs(tmp: Path) -> Path:
    logs = tmp / DEEP
    logs.mkdir(parents=True)
    (logs / "access.log").write_bytes(access_lines(120))
    (logs / "b.log").write_bytes(access_lines(3))
    return logs


def scan(*args: str, columns: int | None = None) -> list[str]:
    env = {"PATH": "/usr/bin:/bin", **({"COLUMNS": str(columns)} if columns else {})}
    done = subprocess.run([sys.executable, "-m", "tailstat", "scan", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    return done.stdout.splitlines()


def file_rows(lines: list[str]) -> list[str]:
    start = next(i for i, ln in enumerate(lines) if ln.startswith("file "))
    end = lines.index("", start)
    return lines[start:end]


def test_cut_middle() -> None:
    assert cut_middle("/var/log/nginx/access.log", 30) == "/var/log/nginx/access.log"
    assert cut_middle("/var/log/some/deep/tree/nginx/access.log", 20) == "/var/log\u2026/access.log"
    assert cut_middle("/var/log/some/deep/tree/nginx/access.log", 30) == "/var/log/som\u2026/nginx/access.log"
    assert len(cut_middle("x" * 500, 77)) == 77


@pytest.mark.parametrize("columns", [None, 100])
def test_scan_file_table_fits_and_cuts_paths_in_the_middle(tmp_path: Path, columns: int | None) -> None:
    logs = long_logs(tmp_path)
    width = columns or 80
    lines = scan("--format", "combined", str(logs / "access.log"), str(logs / "b.log"), columns=columns)
    assert max(len(ln) for ln in lines) <= width
    header, row_a, row_b = file_rows(lines)
    assert len(header) == len(row_a) == len(row_b) == width  # the path column takes what is left
    path = str(logs / "access.log")
    cut = row_a.split(" ")[0]
    assert "\u2026" in cut and path.startswith(cut.split("\u2026")[0]) and path.endswith(cut.split("\u2026")[1])
    assert cut.endswith("/nginx/access.log")
    assert row_a.split()[1:] == ["combined", "120", f"{len(access_lines(120)):,}", "0"]


def test_scan_uses_a_wide_terminal(tmp_path: Path) -> None:
    logs = long_logs(tmp_path)
    path = str(logs / "access.log")
    lines = scan("--format", "combined", path, str(logs / "b.log"), columns=300)
    header, row_a, _ = file_rows(lines)
    fixed = len(" combined 120 17,371 0")  # format, lines, bytes and lag columns
    assert row_a.split() == [path, "combined", "120", f"{len(access_lines(120)):,}", "0"]
    assert len(row_a) == len(path) + len(" combined") + len(" lines") + len(" 17,371") + len(" lag")
    assert len(header) == len(row_a) < 300 and fixed < len(row_a)


def test_measure_lines_fit_and_widen() -> None:
    timed = str(REPO / "sample_logs" / "nginx_timed.log")
    narrow = [ln for ln in scan(timed) if ": count " in ln]
    assert [ln.split(":")[0] for ln in narrow] == ["bytes_sent", "request_time", "upstream_time"]
    assert all(len(ln) <= 80 for ln in narrow) and all(" p99 " in ln and " max " in ln for ln in narrow)
    wide = [ln for ln in scan(timed, columns=200) if ": count " in ln]
    assert all(" sum " in ln and " min " in ln and " p99.9 " in ln for ln in wide)
    assert max(len(ln) for ln in wide) > 80


def follow_lines(env: dict[str, str], n: int) -> list[str]:
    # window all: the lines show deltas (the default, the last 1m, shows that window's own counts)
    proc = subprocess.Popen([sys.executable, "-m", "tailstat", "stats", "--follow", "--interval", "0.2",
                             "--window", "all"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    got = [proc.stdout.readline().rstrip("\n") for _ in range(n)]
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)
    return got


def test_stats_table_and_follow_fit_and_the_first_line_after_a_restart_is_the_total(tmp_path: Path) -> None:
    d = Daemon(tmp_path, TAILSTAT_GROUP_BY="user_agent,referer,protocol")
    d.append(access_lines(65))
    with d:
        d.wait_lines(65)
    assert d.proc is not None and d.proc.returncode == 0
    d = Daemon(tmp_path, TAILSTAT_GROUP_BY="user_agent,referer,protocol")
    with d:
        env = base_env(tmp_path, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{d.port}")
        table = cli(env, "stats").stdout.decode().splitlines()
        assert max(len(ln) for ln in table) <= 80
        first, second = follow_lines(env, 2)
        assert re.fullmatch(r"\d\d:\d\d:\d\d  lines 65 total \(0\.0/s 1m\)  errors 0 total  0 B/s  lag 0 B  .*",
                            first), first
        # the top values that fit in 80 columns (status, 16 characters; the next, method, would make it 81)
        assert re.fullmatch(r"\d\d:\d\d:\d\d  lines \+0 \(0\.0/s\)  errors \+0 \(0 total\)  0 B/s  lag 0 B  "
                            r"status=200 51%", second), second
        assert len(first) <= 80 and len(second) == 79
        [wide] = follow_lines({**env, "COLUMNS": "250"}, 1)
        assert len(wide) > 80 and "user_agent=test-agent/1.0 100%" in wide and "protocol=HTTP/1.1 100%" in wide
