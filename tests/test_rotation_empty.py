"""Issue 11: lines written to a watched file that was empty when the daemon last looked at it (new, or just
truncated), then rotated away before its next pass, are counted exactly once (README, durability: what was
limit (10)).

Real parts: the daemon as a subprocess, the real `logrotate -f` binary (create, or copytruncate), SIGSTOP and
SIGCONT so that the writes and the rotation fall between two of the daemon's passes (its inotify events are
only handled once it runs again, when the file it knew empty has already been moved or copied and truncated).
Both globs: the rotated names at watched paths (`*.log*`) or not (`*.log`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import COUNTED_ENV as ENV
from helpers import Daemon, app_log, append, assert_numbered_lines_once, logrotate, paused, wait_until
from helpers import numbered_lines as lines


def rotate(tmp: Path, logs: Path, mode: str) -> None:
    logrotate(tmp, logs / "app.log", mode, "rotate 1000", "nocompress", "nodateext", "missingok")


def opened(d: Daemon, path: Path, ino: int) -> int:
    return sum(1 for e in d.log_events("file_opened") if e["path"] == str(path) and e["inode"] == ino)


@pytest.mark.parametrize("glob", ["*.log", "*.log*"])
@pytest.mark.parametrize("mode", ["create", "copytruncate"])
def test_empty_file_written_and_rotated_between_passes_is_read_once(tmp_path: Path, daemon, mode: str,
                                                                    glob: str) -> None:
    logs, log = app_log(tmp_path)
    d = daemon(str(logs / glob), **ENV)
    d.wait_lines(5)
    done = "file_rotated" if mode == "create" else "file_copytruncated"
    # the first rotation leaves app.log empty (a new file, or the same one truncated): the daemon follows it
    ino = log.stat().st_ino
    before = opened(d, log, ino)
    rotate(tmp_path, logs, mode)
    ino = log.stat().st_ino
    assert log.stat().st_size == 0
    wait_until(lambda: d.log_events(done) and opened(d, log, ino) > (before if mode == "copytruncate" else 0),
               what="the empty app.log followed")
    # written and rotated again while the daemon cannot run: its next pass finds app.log moved away or copied
    # and truncated, its lines only in app.log.1
    with paused(d):
        append(log, lines(6, 7))
        rotate(tmp_path, logs, mode)
        assert log.stat().st_size == 0 and (logs / "app.log.1").read_bytes() == lines(6, 7)
    append(log, lines(13, 3))
    d.wait_lines(15)
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    assert_numbered_lines_once(doc, 15)
    assert sorted(p.name for p in logs.iterdir()) == ["app.log", "app.log.1", "app.log.2"]
