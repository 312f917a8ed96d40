"""Issue 11: logrotate's `copytruncate` with `olddir`: the copy lands in another directory; the bytes it holds
beyond what the daemon had read are read from it, not counted as dropped (README, durability: what was limit
(11)).

Real parts: the daemon as a subprocess, the real `logrotate -f` binary, SIGSTOP and SIGCONT so that lines are
appended and the file copied and truncated between two of the daemon's passes (it has not read them yet).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import COUNTED_ENV as ENV
from helpers import app_log, append, assert_numbered_lines_once, logrotate, paused, wait_until
from helpers import numbered_lines as lines


@pytest.mark.parametrize("glob", ["*.log", "*.log*"])
def test_unread_bytes_are_read_from_the_copy_in_olddir(tmp_path: Path, daemon, glob: str) -> None:
    logs, log = app_log(tmp_path, olddir=True)
    d = daemon(str(logs / glob), **ENV)
    d.wait_lines(5)
    with paused(d):
        append(log, lines(6, 7))  # not read yet when the file is copied and truncated
        logrotate(tmp_path, log, "copytruncate", f"olddir {logs / 'old'}", "rotate 10", "nocompress")
        assert log.stat().st_size == 0 and (logs / "old" / "app.log.1").read_bytes() == lines(1, 12)
    wait_until(lambda: d.log_events("file_copytruncated"), what="the copy taken over")
    append(log, lines(13, 3))
    d.wait_lines(15)
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    assert_numbered_lines_once(doc, 15)
    assert [e["copy"] for e in d.log_events("file_copytruncated")] == [str(logs / "old" / "app.log.1")]


@pytest.mark.parametrize("glob", ["*.log", "*.log*"])
def test_copy_in_olddir_of_a_file_not_read_yet_is_read_once(tmp_path: Path, daemon, glob: str) -> None:
    """Lines written to a file tailstat follows but had read nothing of (empty when it last looked), then copied
    into olddir and truncated before its next pass: read from the copy, once (README, durability: what was
    limit (11))."""
    logs, log = app_log(tmp_path, 0, olddir=True)
    log.touch()  # empty when the daemon looks at it: followed from byte 0, nothing read (no head)
    d = daemon(str(logs / glob), **ENV)
    wait_until(lambda: any(e["path"] == str(log) for e in d.log_events("file_opened")), what="app.log followed")
    with paused(d):
        append(log, lines(1, 7))  # nothing of it read when it is copied into olddir (not watched) and truncated
        logrotate(tmp_path, log, "copytruncate", f"olddir {logs / 'old'}", "rotate 10", "nocompress")
        assert log.stat().st_size == 0 and (logs / "old" / "app.log.1").read_bytes() == lines(1, 7)
    d.wait_lines(7)
    append(log, lines(8, 3))
    d.wait_lines(10)
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    assert_numbered_lines_once(doc, 10)
    # the copy read from byte 0, once: found as a rotation not seen (or, matched by the glob `*.log*`, a new file)
    copy = str(logs / "old" / "app.log.1")
    found = {e["key"] for e in d.log_events("file_found_rotated") + d.log_events("file_opened")
             if e["path"] == copy and e.get("offset", 0) == 0}
    assert len(found) == 1, found
