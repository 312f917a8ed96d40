"""`tailstat scan --json` against an independent reference computation."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def generate(path: Path, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        if rng.random() < 0.01:
            lines.append(rng.choice(["garbage", "", "127.0.0.1 - - [broken", '{"json": true}']))
            continue
        client = f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 60)}"
        user = rng.choice(["-", "-", "alice"])
        ts = f"{rng.randint(1, 28):02d}/{rng.choice(MONTHS)}/2025:{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:07 +0000"
        method = rng.choice(["GET", "GET", "POST", "HEAD"])
        path_ = rng.choice(["/", "/a", "/b/c", "/search?q=x+y", "/ünï"])
        status = rng.choice(["200", "200", "404", "500", "301"])
        size = rng.choice(["-", str(rng.randint(0, 5000))])
        ua = rng.choice(["curl/8", 'Mozilla "quoted" ua', "-"]).replace('"', '\\"')
        lines.append(f'{client} - {user} [{ts}] "{method} {path_} HTTP/1.1" {status} {size} "-" "{ua}"')
    data = "\n".join(lines) + "\n"
    path.write_bytes(data.replace("\n", "\r\n", 3).encode())  # a few CRLF lines too
    return lines


def reference(lines: list[str]) -> dict:
    """Parse by splitting, not by the daemon's regex."""
    fields = {k: Counter() for k in ("status", "method", "path", "client")}
    sizes = []
    parsed = 0
    for line in lines:
        try:
            head, rest = line.split(' "', 1)
            client, _ident, _user, _ts = head.split(" ", 3)
            request, rest = rest.split('" ', 1)
            method, path_, _proto = request.rsplit(" ", 2) if request.count(" ") >= 2 else (None, None, None)
            status, size, _ = rest.split(" ", 2)
            if not _ts.startswith("[") or method is None or not status.isdigit():
                raise ValueError
        except ValueError:
            continue
        parsed += 1
        method, path_ = request.split(" ", 1)[0], request[len(method) + 1: request.rfind(" ")].split("?")[0]
        for name, value in (("status", status), ("method", method), ("path", path_), ("client", client)):
            fields[name][value] += 1
        sizes.append(0 if size == "-" else int(size))
    return {"lines": len(lines), "parsed": parsed, "fields": fields, "sizes": sizes}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_scan_json_matches_reference(tmp_path: Path, workers: str) -> None:
    log = tmp_path / "access.log"
    lines = generate(log, 20000, seed=11)
    ref = reference(lines)
    result = subprocess.run(check=False, args=
        [sys.executable, "-m", "tailstat", "scan", "--json", "--format", "combined", "--top", "1000", str(log)],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "TAILSTAT_WORKERS": workers, "TAILSTAT_BATCH_BYTES": "64KiB"},
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == 1
    assert doc["totals"]["lines"] == ref["lines"] == 20000
    assert doc["totals"]["parsed"] == ref["parsed"]
    assert doc["totals"]["parse_errors"] == ref["lines"] - ref["parsed"]
    assert doc["totals"]["bytes"] == log.stat().st_size
    for name, counter in ref["fields"].items():
        assert dict(map(tuple, doc["fields"][name]["top"])) == dict(counter), name
        assert doc["fields"][name]["distinct"] == len(counter)
    m = doc["measures"]["bytes_sent"]
    assert (m["count"], m["sum"], m["min"], m["max"]) == (len(ref["sizes"]), sum(ref["sizes"]), min(ref["sizes"]),
                                                          max(ref["sizes"]))
    assert doc["files"][0]["path"] == str(log)
    assert doc["files"][0]["lines"] == 20000


def test_scan_table_and_missing_file(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text('1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" "c"\n')
    ok = subprocess.run(check=False, args=[sys.executable, "-m", "tailstat", "scan", str(log)], capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0
    assert ok.stdout.splitlines()[0] == "lines 1  parsed 1  parse errors 0  bytes 73"
    assert "       1  100.0%  /x" in ok.stdout
    missing = subprocess.run(check=False, args=[sys.executable, "-m", "tailstat", "scan", str(tmp_path / "nope.log")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"tailstat: {tmp_path / 'nope.log'}: no such file (skipped)"
    assert missing.stdout == ""  # nothing was read: no (empty) stats


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_scan_cuts_long_lines_and_counts_the_file_bytes_exactly(tmp_path: Path, executor: str) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(b"level=info n=%d pad=%s\n" % (i, b"x" * (100 * i)) for i in range(30))
                    + b"level=warn last=1")  # no final newline
    result = subprocess.run(check=False, args=[sys.executable, "-m", "tailstat", "scan", "--json", "--format",
                                               "logfmt", str(log)], capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "TAILSTAT_MAX_LINE_BYTES": "512",
                                 "TAILSTAT_EXECUTOR": executor, "TAILSTAT_BATCH_BYTES": "4KiB"})
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    cut = sum(max(0, len(b"level=info n=%d pad=" % i) + 100 * i - 512) for i in range(30))
    assert doc["dropped"] == {"line_too_long": {"lines": 0, "bytes": cut}}
    assert (doc["totals"]["lines"], doc["totals"]["parsed"]) == (31, 31)
    assert doc["totals"]["bytes"] + cut == log.stat().st_size


def test_scan_says_why_it_cannot_read_an_argument(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "a.zip").write_bytes(b"PK\x03\x04rest")
    cases = {
        str(tmp_path / "dir"): "is a directory; give the log files in it (e.g. DIR/*.log) (skipped)",
        str(tmp_path / "a.zip"): "is a zip archive; extract it first (skipped)",
    }
    for arg, message in cases.items():
        out = subprocess.run([sys.executable, "-m", "tailstat", "scan", arg], capture_output=True, text=True,
                             timeout=60, check=False)
        assert (out.returncode, out.stderr.strip()) == (1, f"tailstat: {arg}: {message}")
    bad = subprocess.run([sys.executable, "-m", "tailstat", "scan", "--workers", "0", str(tmp_path / "x.log")],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith("argument --workers: '0' is not valid; accepted: an integer 1..256")
