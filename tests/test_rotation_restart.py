"""Issue 11: crashes during logrotate `create` rotations neither lose nor double-count lines.

Real parts: the daemon as a subprocess killed with SIGKILL, the real `logrotate -f` binary (create, rotate 1000,
nocompress, nodateext or dateext), writer processes. The deterministic tests rotate a known number of times
while the daemon is down; the chaos tests (bench/rotation_chaos.py) run the issue's loop -- 3 writers, rotations
and kills at random -- and demand each writer's sequence numbers 1..N counted exactly once (count, sum, min and
max of a per-writer measure). The short chaos runs in the default suite; the issue's full rates are `slow`.
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import pytest

from helpers import REPO, Daemon, app_log, logrotate, paused, wait_until

sys.path.insert(0, str(REPO))
from bench.rotation_chaos import QUICK, Chaos, Rates

ENV = {"TAILSTAT_FORMAT": "json", "TAILSTAT_GROUP_BY": "w", "TAILSTAT_MEASURES": "n",
       "TAILSTAT_CHECKPOINT_INTERVAL": "0.2", "TAILSTAT_RESCAN_INTERVAL": "0.5"}


def lines(w: int, start: int, count: int) -> bytes:
    return b"".join(b'{"w":%d,"n":%d}\n' % (w, n) for n in range(start, start + count))


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def rotate(tmp: Path, logs: Path) -> None:
    """The chaos runs' rotation (bench.rotation_chaos.logrotate_conf without dateext)."""
    logrotate(tmp, logs / "*.log", "create", "rotate 1000", "nocompress", "nodateext", "missingok")


def exact(doc: dict, n: int) -> bool:
    m = doc["measures"].get("n", {})
    return m.get("count") == n and m.get("sum") == n * (n + 1) / 2 and m.get("min") == 1 and m.get("max") == n


def kill_after_checkpoint(d: Daemon, lines_seen: int) -> None:
    wait_until(lambda: d.state()["totals"]["lines"] >= lines_seen if (d.state_dir / "state.json").exists()
               else False, what=f"a checkpoint with {lines_seen} lines")
    d.kill()


def restart_reads_each_line_once(daemon, logs: Path, log: Path, env: dict[str, str], start: int,
                                 count: int) -> Daemon:
    """A restart with a glob of rotated names, then lines(1, start, count) appended: all `start + count - 1`
    lines counted exactly once. Returns the daemon, stopped."""
    n = start + count - 1
    d2 = daemon(str(logs / "*.log*"), **env)
    append(log, lines(1, start, count))
    wait_until(lambda: d2.stats()["totals"]["lines"] >= n, what=f"{n} lines")
    assert d2.stop() == 0
    doc = d2.stats()
    assert doc["totals"]["lines"] == n and exact(doc, n), doc["measures"]
    return d2


@pytest.mark.parametrize("glob", ["*.log", "*.log*"])
def test_files_created_and_rotated_while_down_are_read_once(tmp_path: Path, daemon, glob: str) -> None:
    logs, log = app_log(tmp_path, 10)
    d = daemon(str(logs / glob), **ENV)
    kill_after_checkpoint(d, 10)
    append(log, lines(1, 11, 5))  # unread when killed: the resumed file has them
    n = 15
    for _ in range(3):  # each rotation: a new app.log, written, then rotated away -- all while down
        rotate(tmp_path, logs)
        append(log, lines(1, n + 1, 7))
        n += 7
    assert sorted(p.name for p in logs.iterdir()) == ["app.log", "app.log.1", "app.log.2", "app.log.3"]
    d2 = daemon(str(logs / glob), **ENV)
    wait_until(lambda: d2.stats()["totals"]["lines"] >= n, what=f"{n} lines")
    assert d2.stop() == 0
    doc = d2.stats()
    assert doc["totals"]["lines"] == n and exact(doc, n), doc["measures"]
    assert doc["dropped"] == {}
    found = sorted(e["path"] for e in d2.log_events("file_found_rotated"))
    assert found == ([str(logs / "app.log.1"), str(logs / "app.log.2")] if glob == "*.log" else [])


def test_file_created_and_rotated_between_two_passes_is_read(tmp_path: Path, daemon) -> None:
    """At run time too: a burst of rotations while the daemon is not looking (SIGSTOP: a slow pass) creates a
    file and rotates it away before any event for it is handled; the rotation seen next finds it."""
    logs, log = app_log(tmp_path, 10)
    d = daemon(str(logs / "*.log"), **ENV)
    wait_until(lambda: d.stats()["totals"]["lines"] >= 10, what="10 lines")
    wait_until(lambda: d.state()["tail"].get("listed_at_ns"), what="a listing in the checkpoint")
    with paused(d):
        os.rename(log, logs / "app.log.1")
        append(log, lines(1, 11, 6))  # a new app.log, written, then rotated away: never seen at a watched path
        os.rename(logs / "app.log.1", logs / "app.log.2")
        os.rename(log, logs / "app.log.1")
        append(log, lines(1, 17, 3))
    wait_until(lambda: d.stats()["totals"]["lines"] >= 19, what="19 lines")
    assert d.stop() == 0
    doc = d.stats()
    assert doc["totals"]["lines"] == 19 and exact(doc, 19), doc["measures"]
    assert [e["path"] for e in d.log_events("file_found_rotated")] == [str(logs / "app.log.1")]


def test_retired_file_renamed_again_is_not_read_twice(tmp_path: Path, daemon) -> None:
    """A rotated file let go after its grace period is renamed by every later rotation (.1 -> .2 -> ...), and
    met by a glob of rotated names after a restart: remembered, never read again."""
    logs, log = app_log(tmp_path, 20)
    env = {**ENV, "TAILSTAT_ROTATED_GRACE": "0"}
    d = daemon(str(logs / "*.log"), **env)
    wait_until(lambda: d.stats()["totals"]["lines"] >= 20, what="20 lines")
    rotate(tmp_path, logs)
    wait_until(lambda: d.log_events("file_closed"), what="the rotated file let go")
    append(log, lines(1, 21, 5))
    wait_until(lambda: d.stats()["totals"]["lines"] >= 25, what="25 lines")
    rotate(tmp_path, logs)  # app.log.1 (retired) -> app.log.2
    wait_until(lambda: len(d.log_events("file_closed")) >= 2, what="the second rotated file let go")
    assert d.stop() == 0
    state = d.state()
    assert sorted(Path(r["path"]).name for r in state["tail"]["retired"].values()) == ["app.log.1", "app.log.2"]
    # a glob of rotated names now matches both rotations: known, not new
    d2 = restart_reads_each_line_once(daemon, logs, log, env, 26, 3)
    opened = {Path(e["path"]).name: e["offset"] for e in d2.log_events("file_opened")}
    assert (opened["app.log.1"], opened["app.log.2"]) == ((logs / "app.log.1").stat().st_size,
                                                         (logs / "app.log.2").stat().st_size)


def test_backup_move_of_a_retired_file_is_not_read(tmp_path: Path, daemon) -> None:
    """logrotate moving a dateext rotation aside (`.backup`, same inode) after the daemon let it go, and a
    restart with a glob of rotated names: the file is known, followed from its end, never read again."""
    logs, log = app_log(tmp_path, 12)
    env = {**ENV, "TAILSTAT_ROTATED_GRACE": "0"}
    d = daemon(str(logs / "*.log"), **env)
    wait_until(lambda: d.stats()["totals"]["lines"] >= 12, what="12 lines")
    os.rename(log, logs / "app.log-2026120120")  # dateext rotation
    append(log, lines(1, 13, 4))
    wait_until(lambda: d.log_events("file_closed"), what="the rotated file let go")
    os.rename(logs / "app.log-2026120120", logs / "app.log-2026120120.backup")
    wait_until(lambda: [Path(r["path"]).name for r in d.state()["tail"]["retired"].values()]
               == ["app.log-2026120120.backup"], what="the retired record following its file")
    assert d.stats()["totals"]["lines"] == 16
    assert d.stop() == 0
    d2 = restart_reads_each_line_once(daemon, logs, log, env, 17, 2)
    backup = logs / "app.log-2026120120.backup"
    assert [e["offset"] for e in d2.log_events("file_opened") if e["path"] == str(backup)] == [backup.stat().st_size]


def test_rotated_and_compressed_while_down_is_counted_as_dropped(tmp_path: Path, daemon) -> None:
    """What cannot be recovered is reported: a file rotated and gzipped before tailstat read it."""
    logs, log = app_log(tmp_path, 10)
    d = daemon(str(logs / "*.log"), **ENV)
    kill_after_checkpoint(d, 10)
    append(log, lines(1, 11, 5))
    tail = len(lines(1, 11, 5))
    os.rename(log, logs / "app.log.1")
    append(log, lines(1, 16, 6))  # a new file, written, then rotated and compressed: never seen
    unseen = log.read_bytes()
    os.rename(log, logs / "app.log.2.tmp")
    (logs / "app.log.2.gz").write_bytes(gzip.compress(unseen))
    os.unlink(logs / "app.log.2.tmp")
    (logs / "app.log.1.gz").write_bytes(gzip.compress((logs / "app.log.1").read_bytes()))
    os.unlink(logs / "app.log.1")  # the checkpointed file too, with 5 unread lines
    append(log, lines(1, 22, 1))
    d2 = daemon(str(logs / "*.log"), **ENV)
    wait_until(lambda: d2.stats()["totals"]["lines"] >= 11, what="11 lines")
    assert d2.stop() == 0
    doc = d2.stats()
    assert doc["totals"]["lines"] == 11
    assert doc["dropped"] == {"compressed_before_read": {"lines": 0, "bytes": tail + len(unseen)}}


@pytest.mark.parametrize(("glob", "dateext"), [("*.log", False), ("*.log*", True)])
def test_chaos_short(tmp_path: Path, glob: str, dateext: bool) -> None:
    res = Chaos(tmp_path, glob, dateext, QUICK, seed=7).run(seconds=5.0)
    assert res.ok, "\n".join(res.lines()) + "\n" + res.log.read_text(errors="replace")[-3000:]
    assert res.dropped == {}


@pytest.mark.slow
@pytest.mark.parametrize(("glob", "dateext"), [("*.log", False), ("*.log*", False), ("*.log", True),
                                               ("*.log*", True)])
def test_chaos_issue_rates(tmp_path: Path, glob: str, dateext: bool) -> None:
    res = Chaos(tmp_path, glob, dateext, Rates(), seed=1).run(seconds=14.0)
    assert res.ok, "\n".join(res.lines())
    assert res.dropped == {}


def test_chaos_result_detects_a_gap() -> None:
    """The chaos check itself: a missing line or a duplicate is not exact."""
    from bench.rotation_chaos import Result

    ok = {"count": 3, "sum": 6, "min": 1, "max": 3}
    gap = {"count": 3, "sum": 7, "min": 1, "max": 4}  # 1, 2, 4
    dup = {"count": 4, "sum": 8, "min": 1, "max": 3}  # 1, 2, 2, 3
    r = Result([3, 3, 3], [ok, gap, dup], {}, 0, 0, 0, Path("/dev/null"))
    assert [r.exact(i) for i in range(3)] == [True, False, False] and not r.ok
