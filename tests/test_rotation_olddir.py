"""logrotate's `olddir` with `create`: the file the daemon follows is renamed into a subdirectory while it runs.
It is followed there by its inode (found in its directory's subdirectories), not drained and let go: let go, it
would be a file the daemon does not know, named as a rotation of app.log and written recently, read again from
byte 0 as a rotation not seen -- at the next start (as here), or when a rotation is seen in that directory.
Found by the model test (tests/test_tail_core.py, seed 117078 at 150 steps).

Real parts: the daemon as a subprocess, the real `logrotate -f` binary, a stop and a restart right after the
rotation (the rotated file is newer than the daemon's last listing).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import COUNTED_ENV as ENV
from helpers import app_log, append, assert_numbered_lines_once, logrotate, wait_until
from helpers import numbered_lines as lines


@pytest.mark.parametrize("glob", ["*.log", "*.log*"])
def test_file_rotated_into_olddir_is_followed_there_and_read_once(tmp_path: Path, daemon, glob: str) -> None:
    logs, log = app_log(tmp_path, olddir=True)
    old = logs / "old"
    d = daemon(str(logs / glob), **ENV)
    d.wait_lines(5)
    key = next(e["key"] for e in d.log_events("file_opened") if e["path"] == str(log))
    append(log, lines(6, 5))
    logrotate(tmp_path, log, "create", f"olddir {old}", "rotate 10", "nocompress", "nodateext")
    assert (old / "app.log.1").read_bytes() == lines(1, 10) and log.stat().st_size == 0
    wait_until(lambda: d.log_events("file_rotated"), what="the rotation seen")
    d.wait_lines(10)
    assert [(e["key"], e["new_path"]) for e in d.log_events("file_rotated")] == [(key, str(old / "app.log.1"))]
    assert [e for e in d.log_events("file_deleted") if e["key"] == key] == []
    assert d.stop() == 0, d.stderr()
    # a restart at once: old/app.log.1 is newer than the last listing; it is the stream the checkpoint holds
    d.start()
    append(log, lines(11, 5))
    d.wait_lines(15)
    assert d.stop() == 0, d.stderr()
    assert_numbered_lines_once(d.stats(), 15)
    assert [e for e in d.log_events("file_found_rotated")] == []
