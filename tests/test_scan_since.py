"""`tailstat scan --since/--until`: only lines whose own time is in the range count (thread and process mode
alike); the rates are over the logs' own time span."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import clean_env


def line(t: float, path: str, status: int = 200) -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return f'10.0.0.1 - - [{stamp}] "GET {path} HTTP/1.1" {status} 5 "-" "ua"\n'


def scan(*args: str, executor: str = "thread") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tailstat", "scan", *args], capture_output=True, timeout=120,
                          env=clean_env(TAILSTAT_EXECUTOR=executor, TAILSTAT_WORKERS="2",
                                        TAILSTAT_BATCH_BYTES="4KiB"), check=False)


T10 = 1_760_090_400  # 2025-10-10T10:00:00Z


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_since_until_counts_only_the_lines_in_range(tmp_path: Path, executor: str) -> None:
    log = tmp_path / "access.log"
    # 10:00..10:29, one line per 10 s per minute; the incident window 10:10 <= t < 10:20 holds 60 of them
    rows = [line(T10 + i * 10, f"/p{i // 6 % 3}", 500 if 60 <= i < 120 else 200) for i in range(180)]
    log.write_text("".join(rows[:100]) + "garbage\n" + "".join(rows[100:]))
    done = scan("--json", "--format", "combined", "--since", "2025-10-10T10:10:00Z", "--until",
                "2025-10-10T12:20:00+02:00", str(log), executor=executor)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["totals"]["lines"] == doc["totals"]["parsed"] == 60 and doc["totals"]["parse_errors"] == 0
    assert doc["fields"]["status"]["top"] == [["500", 60]]
    assert doc["range"] == {"since": T10 + 600, "until": T10 + 1200, "outside_lines": 121}
    assert doc["span"] == {"first": T10 + 600, "last": T10 + 1190, "seconds": 590}
    assert doc["rates"] == {"log_span": {"lines": 60 / 590, "parse_errors": 0.0,
                                         "bytes": doc["totals"]["bytes"] / 590}}
    assert [m["minute"] for m in doc["minutes"]] == [(T10 + 600) // 60 + k for k in range(10)]
    assert doc["files"][0]["lines"] == 60


def test_relative_since_and_the_table(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    now = time.time()
    log.write_text(line(now - 3 * 3600, "/old") + line(now - 3600, "/recent") + line(now - 60, "/now"))
    done = scan("--format", "combined", "--since", "2h", str(log))
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert text.startswith("lines 2  parsed 2  parse errors 0")
    assert "/recent" in text and "/now" in text and "/old" not in text
    assert text.rstrip().endswith("(3,540 s); 1 lines outside --since/--until not counted")


def test_rates_of_a_plain_scan_are_over_the_log_span(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(line(T10, "/a") + line(T10 + 100, "/b") + line(T10 + 400, "/c"))
    doc = json.loads(scan("--json", "--format", "combined", str(log)).stdout)
    assert doc["span"] == {"first": T10, "last": T10 + 400, "seconds": 400} and "range" not in doc
    assert doc["rates"]["log_span"]["lines"] == 3 / 400
    one = tmp_path / "one.log"
    one.write_text(line(T10, "/a"))
    assert json.loads(scan("--json", "--format", "combined", str(one)).stdout)["rates"] == {}  # no span


def test_a_bad_time_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(line(T10, "/a"))
    done = scan("--until", "10 o'clock", str(log))
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().strip() == (
        "tailstat: scan --until: \"10 o'clock\" is not a time; accepted: ISO 8601 (2025-10-10T10:00, "
        "2025-10-10 10:00:00+02:00; local time without an offset) or a time ago such as 90s, 20m, 2h, 1d")


def test_a_reversed_range_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(line(T10, "/a"))
    done = scan("--since", "5m", "--until", "10m", str(log))  # 5 minutes ago is after 10 minutes ago
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().strip() == (
        "tailstat: scan: --since 5m is not before --until 10m: no line can be in that range")
