"""Windows end to end: a real daemon, real HTTP, the CLI, kill -9 and restart, process mode.

The daemon runs with TAILSTAT_WINDOW_SLOT=3 (seconds per slot instead of 10), so every window is 0.3 times as
long: "1m" is 18 s and "5m" 90 s. The lines are JSON without a time field, so they count at ingestion time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from test_http_support import Daemon, base_env, cli, until, wait_for

SLOT = "3"
WAIT = 60.0


def phase(n: int, paths: list[str], status: str, ms_base: int, ms_span: int) -> bytes:
    return "".join(json.dumps({"path": paths[i % len(paths)], "status": status, "ms": ms_base + i % ms_span}) + "\n"
                   for i in range(n)).encode()


def expect(n: int, paths: list[str], status: str, ms_base: int, ms_span: int) -> dict[str, Any]:
    ms = [ms_base + i % ms_span for i in range(n)]
    return {"path": Counter(paths[i % len(paths)] for i in range(n)), "status": Counter({status: n}),
            "ms": {"count": n, "sum": sum(ms), "min": min(ms), "max": max(ms)}}


def combine(*expected: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"path": Counter(), "status": Counter(), "ms": {"count": 0, "sum": 0}}
    for e in expected:
        out["path"].update(e["path"])
        out["status"].update(e["status"])
        out["ms"]["count"] += e["ms"]["count"]
        out["ms"]["sum"] += e["ms"]["sum"]
    out["ms"]["min"] = min(e["ms"]["min"] for e in expected)
    out["ms"]["max"] = max(e["ms"]["max"] for e in expected)
    return out


def check(doc: dict[str, Any], want: dict[str, Any], window: str) -> None:
    n = want["ms"]["count"]
    assert doc["window"] == window
    assert doc["totals"]["lines"] == n and doc["totals"]["parsed"] == n and doc["totals"]["parse_errors"] == 0
    assert sum(f["lines"] for f in doc["files"]) == n
    path = doc["fields"]["path"]
    assert dict(path["top"]) == dict(want["path"]) and path["distinct"] == len(want["path"])
    assert path["top_is_exact"] and path["total"] == n and not path["distinct_is_estimate"]
    assert dict(doc["fields"]["status"]["top"]) == dict(want["status"])
    ms = doc["measures"]["ms"]
    assert {k: ms[k] for k in ("count", "sum", "min", "max")} == want["ms"]


def settings(**extra: str) -> dict[str, str]:
    return {"TAILSTAT_FORMAT": "json", "TAILSTAT_GROUP_BY": "path,status", "TAILSTAT_MEASURES": "ms",
            "TAILSTAT_WINDOW_SLOT": SLOT, "TAILSTAT_CHECKPOINT_INTERVAL": "0.2", **extra}


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    return {"totals": doc["totals"], "fields": doc["fields"], "measures": doc["measures"],
            "files": [(f["path"], f["lines"], f["bytes"]) for f in doc["files"]], "errors": doc["errors"]}


def test_two_phases_a_window_apart_then_kill_9(tmp_path: Path) -> None:
    first_paths, second_paths = [f"/a{i}" for i in range(5)], [f"/b{i}" for i in range(3)]
    one = (200, first_paths, "200", 100, 50)
    two = (120, second_paths, "500", 1000, 20)
    d = Daemon(tmp_path, **settings())
    d.append(b"")
    with d:
        d.append(phase(*one))
        d.wait_lines(200)
        # phase 1 leaves the 1m window (18 s here) after at most one more slot; then phase 2
        until(lambda: d.stats("window=1m"), lambda doc: doc["totals"]["lines"] == 0, "phase 1 out of 1m", WAIT)
        d.append(phase(*two))
        d.wait_lines(320)
        last_minute = d.stats("window=1m&top=100")
        five = d.stats("window=5m&top=100")
        check(last_minute, expect(*two), "1m")
        check(five, combine(expect(*one), expect(*two)), "5m")
        check(d.stats("top=100"), combine(expect(*one), expect(*two)), "all")

        done = cli(d.env, "stats", "--window", "1m", "--json", "--top", "100")
        assert done.returncode == 0, done.stderr
        assert comparable(json.loads(done.stdout)) == comparable(last_minute)
        text = cli(d.env, "stats", "--window", "1m", "--field", "path").stdout.decode()
        assert "last 1m (since " in text and "lines 120  parsed 120" in text

        wait_for(lambda: d.state()["ring"]["tiers"][0] and d.state()["files"][next(iter(d.state()["files"]))][
            "offset"] == d.log_path.stat().st_size, what="a checkpoint of everything")
        d.kill()  # kill -9: no final checkpoint
    with Daemon(tmp_path, **settings()) as d:
        assert comparable(d.stats("window=1m&top=100")) == comparable(last_minute)
        assert comparable(d.stats("window=5m&top=100")) == comparable(five)  # phase 1 came from the checkpoint
        assert d.stats()["totals"]["lines"] == 320  # nothing counted twice


def test_kill_9_before_the_checkpoint_rereads_into_the_window(tmp_path: Path) -> None:
    """Lines read after the last checkpoint are read again after kill -9: counted once, in the window."""
    d = Daemon(tmp_path, **settings(TAILSTAT_CHECKPOINT_INTERVAL="3600"))
    d.append(phase(50, ["/a"], "200", 1, 1))
    with d:
        d.wait_lines(50)
        d.kill()
    with Daemon(tmp_path, **settings(TAILSTAT_CHECKPOINT_INTERVAL="3600")) as d:
        d.wait_lines(50)
        doc = d.stats("window=1m")
        assert doc["totals"]["lines"] == 50 and doc["fields"]["path"]["top"] == [["/a", 50]]


def test_bad_window_is_a_400_listing_the_accepted(tmp_path: Path) -> None:
    with Daemon(tmp_path, **settings()) as d:
        for path in ("/stats?window=2m", "/stats/stream?window=week", "/stats/series?window=7d"):
            status, _, body = d.request(path)
            assert status == 400, path
            doc = json.loads(body)
            assert doc["accepted"] == ["1m", "5m", "15m", "1h", "24h", "all"]
            assert "is not valid; accepted: 1m, 5m, 15m, 1h, 24h, all" in doc["error"]
        status, _, body = d.request("/stats/series?window=1m&step=5m")
        assert status == 400 and json.loads(body) == {
            "error": "step='5m' is longer than window='1m'; accepted: 10s, 1m", "accepted": ["10s", "1m"]}
        status, _, body = d.request("/stats/series?window=5m&step=2m")
        assert status == 400 and json.loads(body) == {
            "error": "step='2m' is not valid; accepted: 10s, 1m, 5m", "accepted": ["10s", "1m", "5m"]}
        status, _, body = d.request("/stats?window=5m&mergeable=1")
        assert status == 400
        done = cli(d.env, "stats", "--window", "2m")
        assert done.returncode == 2 and b"invalid choice: '2m'" in done.stderr


def test_series_counts_each_step(tmp_path: Path) -> None:
    d = Daemon(tmp_path, **settings())
    d.append(phase(60, ["/x", "/y", "/x"], "200", 10, 5))
    with d:
        d.wait_lines(60)
        series = d.get_json("/stats/series?window=1m&fields=path,status")
        assert series["window"] == "1m" and series["step"] == 3.0  # 10 s steps, scaled like the slots
        n = len(series["t"])
        assert n in (6, 7) and all(b - a == 3.0 for a, b in zip(series["t"], series["t"][1:]))
        assert len(series["lines"]) == len(series["bytes"]) == len(series["parse_errors"]) == n
        assert sum(series["lines"]) == 60 and sum(series["parse_errors"]) == 0
        path = series["fields"]["path"]
        assert path["values"] == ["/x", "/y"]
        assert sum(path["counts"]["/x"]) == 40 and sum(path["counts"]["/y"]) == 20 and sum(path["other"]) == 0
        assert [sum(c) for c in zip(*path["counts"].values())] == series["lines"]
        ms = series["measures"]["ms"]
        assert sum(ms["count"]) == 60 and len(ms["p50"]) == n
        assert all((p is None) == (c == 0) for p, c in zip(ms["p50"], ms["count"]))
        assert series["fields"]["status"]["values"] == ["200"]
        # stats --follow shows the last 1m by default
        for args, check_line in ((["--json"], lambda ln: json.loads(ln)["window"] == "1m"
                                  and json.loads(ln)["totals"]["lines"] == 60),
                                 ([], lambda ln: " last 1m: lines 60 (" in ln.decode())):
            proc = subprocess.Popen([sys.executable, "-m", "tailstat", "stats", "--follow", *args], env=d.env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)
            assert check_line(line), line


@pytest.mark.parametrize(("paths", "capacity"), [(40, "10000"), (15, "10")])
def test_process_mode_windows_equal_thread_mode(tmp_path: Path, paths: int, capacity: str) -> None:
    """Also when the workers compact their partials (15 paths > TAILSTAT_TOPK_CAPACITY=10: each batch's paths
    reach the store as a sketch): the windows and the all-time stats come out the same."""
    data = phase(3000, [f"/p{i}" for i in range(paths)], "200", 1, 997) + b"not json\n"
    docs = []
    for mode in ("thread", "process"):
        d = Daemon(tmp_path / mode, **settings(TAILSTAT_EXECUTOR=mode, TAILSTAT_WORKERS="2",
                                              TAILSTAT_BATCH_BYTES="16KiB", TAILSTAT_TOPK_CAPACITY=capacity))
        d.append(data)
        with d:
            d.wait_lines(3001)
            doc = {w: comparable(d.stats(f"window={w}&top=100")) for w in ("5m", "all")}
        for w in doc.values():
            w["files"] = [(Path(p).name, n, b) for p, n, b in w["files"]]
        docs.append(doc)
    assert docs[0]["5m"]["totals"]["lines"] == 3001 and docs[0]["5m"]["totals"]["parse_errors"] == 1
    assert len(docs[0]["5m"]["fields"]["path"]["top"]) == paths
    assert docs[0] == docs[1]


def stamped(n: int, t: float, path: str, ms: int) -> bytes:
    return "".join(json.dumps({"ts": t + i * 0.001, "path": path, "status": "200", "ms": ms}) + "\n"
                   for i in range(n)).encode()


def test_real_clock_lines_count_in_the_windows_of_their_own_time(tmp_path: Path) -> None:
    """The real 10 s slots, and the lines' own timestamps: a backlog lands in the minutes it was written."""
    now = time.time()
    d = Daemon(tmp_path, TAILSTAT_FORMAT="json", TAILSTAT_GROUP_BY="path", TAILSTAT_MEASURES="ms")
    d.append(stamped(7, now - 25 * 3600, "/day-old", 1) + stamped(11, now - 150, "/minutes-ago", 2)
             + stamped(13, now - 5, "/now", 3) + stamped(5, now + 7200, "/future", 4))
    with d:
        d.wait_lines(36)
        one, five, day = (d.stats(f"window={w}") for w in ("1m", "5m", "24h"))
        everything = d.stats()
    assert dict(one["fields"]["path"]["top"]) == {"/now": 13, "/future": 5}  # future times count now
    assert dict(five["fields"]["path"]["top"]) == {"/now": 13, "/future": 5, "/minutes-ago": 11}
    assert dict(day["fields"]["path"]["top"]) == dict(five["fields"]["path"]["top"])  # 25 h old: only in all
    assert dict(everything["fields"]["path"]["top"]) == {"/now": 13, "/future": 5, "/minutes-ago": 11,
                                                         "/day-old": 7}
    assert [one["totals"]["lines"], five["totals"]["lines"], everything["totals"]["lines"]] == [18, 29, 36]
    assert (one["measures"]["ms"]["min"], one["measures"]["ms"]["max"]) == (3, 4)
    assert five["window_seconds"] == 300 and one["window_seconds"] == 60


@pytest.mark.parametrize(("name", "value", "message"), [
    ("TAILSTAT_WINDOW_SLOT", "20", "TAILSTAT_WINDOW_SLOT='20' is out of range; accepted: 0.05..10 seconds"),
    ("TAILSTAT_WINDOW_TOPK", "5", "TAILSTAT_WINDOW_TOPK='5' is out of range; accepted: 10..10000"),
])
def test_window_settings_are_checked(tmp_path: Path, name: str, value: str, message: str) -> None:
    done = cli(base_env(tmp_path, **{name: value}), "config")
    assert done.returncode == 2 and done.stderr.decode().strip() == f"tailstat: configuration error: {message}"


def test_config_shows_the_window_settings(tmp_path: Path) -> None:
    done = cli(base_env(tmp_path, TAILSTAT_WINDOW_TOPK="200"), "config")
    rows = done.stdout.decode().splitlines()
    assert "TAILSTAT_WINDOW_TOPK=200" in rows and "TAILSTAT_WINDOW_SLOT=10.0" in rows
