"""A file the daemon never saw -- created at a watched path after its last pass, written, and rotated away again
before its next pass -- is read once, also where no rotation of a file it follows is seen in that directory: the
new file at the watched path is what tells (README, durability: what was limit (10)).

Real parts: the daemon as a subprocess, the real `logrotate -f` binary (create), SIGSTOP and SIGCONT so that the
file is created, written and rotated between two of the daemon's passes. app.log is absent at the last pass: it
never existed, or it was deleted (the daemon drained it and let it go). Both globs: the rotated names at watched
paths (`*.log*`: a new glob match) or not (`*.log`: a rotation not seen, found by its name and mtime).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import COUNTED_ENV as ENV
from helpers import app_log, append, assert_numbered_lines_once, logrotate, paused, wait_until
from helpers import numbered_lines as lines


@pytest.mark.parametrize("glob", ["*.log", "*.log*"])
@pytest.mark.parametrize("before", ["never", "deleted"])
def test_file_created_written_and_rotated_between_passes_is_read_once(tmp_path: Path, daemon, glob: str,
                                                                      before: str) -> None:
    logs, log = app_log(tmp_path, 5 if before == "deleted" else 0)
    n = 0
    d = daemon(str(logs / glob), **ENV)
    if before == "deleted":
        d.wait_lines(5)
        log.unlink()
        wait_until(lambda: d.log_events("file_deleted"), what="app.log let go")
        n = 5
    with paused(d):
        append(log, lines(n + 1, 5))
        logrotate(tmp_path, log, "create", "rotate 10", "nocompress", "nodateext")
        assert (logs / "app.log.1").read_bytes() == lines(n + 1, 5) and log.stat().st_size == 0
    d.wait_lines(n + 5)
    append(log, lines(n + 6, 10 - n))
    d.wait_lines(15)
    assert d.stop() == 0, d.stderr()
    assert_numbered_lines_once(d.stats(), 15)
    if glob == "*.log":
        assert [e["path"] for e in d.log_events("file_found_rotated")] == [str(logs / "app.log.1")]


@pytest.mark.parametrize("glob", ["*.log", "*.log*"])
def test_copy_in_olddir_of_a_file_read_nothing_of_is_read_once(tmp_path: Path, daemon, glob: str) -> None:
    """logrotate's copytruncate with olddir, on a file the daemon followed empty (it had read no byte of it):
    the lines written and copied into olddir before its next pass are read from the copy, found in the
    subdirectory (README, durability: what was limit (11))."""
    logs, log = app_log(tmp_path, 0, olddir=True)
    old = logs / "old"
    log.touch()
    d = daemon(str(logs / glob), **ENV)
    wait_until(lambda: [e for e in d.log_events("file_opened") if e["path"] == str(log)], what="app.log followed")
    with paused(d):
        append(log, lines(1, 5))
        logrotate(tmp_path, log, "copytruncate", f"olddir {old}", "rotate 10", "nocompress", "nodateext")
        assert (old / "app.log.1").read_bytes() == lines(1, 5) and log.stat().st_size == 0
    wait_until(lambda: d.log_events("file_found_rotated"), what="the copy in olddir found")
    append(log, lines(6, 10))
    d.wait_lines(15)
    assert d.stop() == 0, d.stderr()
    assert_numbered_lines_once(d.stats(), 15)
    assert [e["path"] for e in d.log_events("file_found_rotated")] == [str(old / "app.log.1")]
