"""Compressed rotations while running are never silent, and never counted twice (README, durability: what were
limits (8) and (9)).

- A file created, written, rotated *and compressed* between two of the daemon's passes: never read, so its bytes
  (what gzip records) are counted in dropped.compressed_before_read, once -- not again at later rescans, nor
  after a restart.
- A file tailstat was reading, copied, truncated and compressed (copytruncate + compress) before it read its
  last lines: the bytes it had not read are counted.
- A file read to its end, then rotated and compressed just before the daemon stops: nothing is counted at the
  next start (its lines were counted once).

Real parts: the daemon as a subprocess, the real `logrotate -f` binary (compress, no delaycompress), SIGSTOP and
SIGCONT so that the writes and rotations fall between two passes.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from helpers import COUNTED_ENV, app_log, append, logrotate, numbered_lines, paused, wait_until

ENV = COUNTED_ENV
lines = numbered_lines


def rotate(tmp: Path, logs: Path, mode: str, olddir: Path | None = None) -> None:
    logrotate(tmp, logs / "app.log", mode, "rotate 1000", "compress", "nodateext", "missingok",
              *([f"olddir {olddir}"] if olddir else []))


def counted(doc: dict, numbers: list[int]) -> None:
    m = doc["measures"]["n"]
    assert doc["totals"]["lines"] == len(numbers)
    assert (m["count"], m["sum"], m["min"], m["max"]) == (len(numbers), sum(numbers), min(numbers), max(numbers))


def dropped(nbytes: int) -> dict:
    return {"compressed_before_read": {"lines": 0, "bytes": nbytes}}


@pytest.mark.parametrize(("glob", "olddir"), [("*.log", False), ("*.log*", False), ("*.log", True)])
def test_created_rotated_and_compressed_between_passes_is_counted_once(tmp_path: Path, daemon, glob: str,
                                                                       olddir: bool) -> None:
    logs, log = app_log(tmp_path, olddir=olddir)
    rotated = logs / "old" if olddir else logs  # olddir: not watched, found by the rescans
    d = daemon(str(logs / glob), **ENV)
    d.wait_lines(5)
    with paused(d):
        rotate(tmp_path, logs, "create", rotated if olddir else None)  # app.log (read to its end) -> .1.gz
        append(log, lines(6, 7))  # a new app.log, written ...
        rotate(tmp_path, logs, "create", rotated if olddir else None)  # ... rotated and compressed, never seen
        unseen = len(lines(6, 7))
        assert gzip.decompress((rotated / "app.log.1.gz").read_bytes()) == lines(6, 7)
        assert gzip.decompress((rotated / "app.log.2.gz").read_bytes()) == lines(1, 5)
    append(log, lines(13, 3))
    wait_until(lambda: d.log_events("file_unrecoverable"), what="the compressed file counted")
    d.wait_lines(8)
    known = [e["path"] for e in d.log_events("compressed_rotation_known")]
    assert known == [str(rotated / "app.log.2.gz")]
    # later rescans (every 0.5 s) until a complete listing is past both files: neither is judged again
    mtime = (rotated / "app.log.1.gz").stat().st_mtime_ns
    wait_until(lambda: time.time_ns() > mtime + 3e9, what="rescans")
    append(log, lines(16, 1))
    d.wait_lines(9)
    wait_until(lambda: d.state()["tail"]["listed_at_ns"] > mtime + 2e9 and d.state()["totals"]["lines"] == 9,
               what="a checkpoint after a later complete listing")
    assert d.state()["tail"]["compressed"] == {}  # older than the listing: judged by nothing any more
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    counted(doc, [*range(1, 6), *range(13, 17)])
    assert doc["dropped"] == dropped(unseen)
    [ev] = d.log_events("file_unrecoverable")
    assert (ev["path"], ev["bytes"], ev["key"]) == (str(rotated / "app.log.1.gz"), unseen, None)
    assert len(d.log_events("compressed_rotation_known")) == 1  # judged once, whatever the rescans
    # a restart neither counts it again nor the other one
    d2 = daemon(str(logs / glob), **ENV)
    append(log, lines(17, 1))
    d2.wait_lines(10)
    assert d2.stop() == 0, d2.stderr()
    doc = d2.stats()
    counted(doc, [*range(1, 6), *range(13, 18)])
    assert doc["dropped"] == dropped(unseen)
    assert not d2.log_events("file_unrecoverable")


def test_a_restart_soon_after_counts_nothing_again(tmp_path: Path, daemon) -> None:
    """Counted while running, then stopped before a listing dates it: the restart knows it counted it."""
    logs, log = app_log(tmp_path)
    env = {**ENV, "TAILSTAT_RESCAN_INTERVAL": "60"}
    d = daemon(str(logs / "*.log"), **env)
    d.wait_lines(5)
    with paused(d):
        rotate(tmp_path, logs, "create")
        append(log, lines(6, 7))
        rotate(tmp_path, logs, "create")
    wait_until(lambda: d.log_events("file_unrecoverable"), what="the compressed file counted")
    assert d.stop() == 0, d.stderr()
    assert d.stats()["dropped"] == dropped(len(lines(6, 7)))
    d2 = daemon(str(logs / "*.log"), **env)
    append(log, lines(13, 1))
    d2.wait_lines(6)
    assert d2.stop() == 0, d2.stderr()
    doc = d2.stats()
    counted(doc, [*range(1, 6), 13])
    assert doc["dropped"] == dropped(len(lines(6, 7)))
    assert not d2.log_events("file_unrecoverable")


@pytest.mark.parametrize("glob", ["*.log", "*.log*"])
def test_unread_bytes_of_a_copytruncated_and_compressed_file_are_counted(tmp_path: Path, daemon,
                                                                          glob: str) -> None:
    logs, log = app_log(tmp_path)
    d = daemon(str(logs / glob), **ENV)
    d.wait_lines(5)
    with paused(d):
        append(log, lines(6, 7))  # not read yet when the file is copied, truncated and the copy compressed
        rotate(tmp_path, logs, "copytruncate")
        assert log.stat().st_size == 0 and not (logs / "app.log.1").exists()
        assert gzip.decompress((logs / "app.log.1.gz").read_bytes()) == lines(1, 12)
    wait_until(lambda: d.log_events("file_unrecoverable"), what="the unread bytes counted")
    append(log, lines(13, 3))
    d.wait_lines(8)
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    counted(doc, [*range(1, 6), *range(13, 16)])
    assert doc["dropped"] == dropped(len(lines(6, 7)))
    [ev] = d.log_events("file_unrecoverable")
    assert ev["path"] == str(logs / "app.log.1.gz") and ev["key"] is not None


@pytest.mark.parametrize("wait_judged", [True, False])
def test_read_to_its_end_then_compressed_before_a_stop_counts_nothing(tmp_path: Path, daemon,
                                                                      wait_judged: bool) -> None:
    logs, log = app_log(tmp_path)
    env = {**ENV, "TAILSTAT_RESCAN_INTERVAL": "60"}  # the stop comes well within one rescan interval
    d = daemon(str(logs / "*.log"), **env)
    d.wait_lines(5)
    rotate(tmp_path, logs, "create")  # read to its end, rotated and compressed at once
    wait_until(lambda: any(e["reason"] == "deleted" for e in d.log_events("file_closed")), what="the file let go")
    if wait_judged:
        wait_until(lambda: d.log_events("compressed_rotation_known"), what="the compressed file judged")
    assert d.stop() == 0, d.stderr()
    append(log, lines(6, 2))
    d2 = daemon(str(logs / "*.log"), **env)
    d2.wait_lines(7)
    assert d2.stop() == 0, d2.stderr()
    doc = d2.stats()
    counted(doc, list(range(1, 8)))
    assert doc["dropped"] == {}
    assert not d2.log_events("file_unrecoverable")


def test_unread_bytes_of_a_file_whose_descriptor_was_closed_are_counted(tmp_path: Path, daemon) -> None:
    """More busy files than TAILSTAT_MAX_OPEN_FILES: app.log's descriptor is closed (the least recently read)
    when it gets lines, is rotated and compressed between two passes: the bytes it had not read are counted."""
    logs, log = app_log(tmp_path)
    d = daemon(str(logs / "*.log"), **ENV, TAILSTAT_MAX_OPEN_FILES="4")
    d.wait_lines(5)
    for i, name in enumerate("bcde"):
        append(logs / f"{name}.log", lines(100 + i, 1))
        d.wait_lines(6 + i)  # each read in turn: app.log is the least recently read, its descriptor closed
    with paused(d):
        append(log, lines(6, 7))
        rotate(tmp_path, logs, "create")
        assert gzip.decompress((logs / "app.log.1.gz").read_bytes()) == lines(1, 12)
    wait_until(lambda: d.log_events("file_unrecoverable"), what="the unread bytes counted")
    append(log, lines(13, 3))
    d.wait_lines(12)
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    counted(doc, [*range(1, 6), *range(13, 16), *range(100, 104)])
    assert doc["dropped"] == dropped(len(lines(6, 7)))
