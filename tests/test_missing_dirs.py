"""A configured glob whose directory does not exist (a typo, or an application not installed yet): `run` logs
glob_directory_missing for it at start and picks the directory's files up once it appears; `tailstat config`
notes it. A real daemon subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import Daemon, clean_env


def test_missing_directory_is_logged_then_picked_up(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    later = tmp_path / "later"
    paths = f"{tmp_path}/here/*.log,{later}/*.log"
    d = Daemon(tmp_path, paths, TAILSTAT_RESCAN_INTERVAL="0.5")
    with d:
        events = d.log_events("glob_directory_missing")
        assert [(e["path"], e["glob"], e["source"]) for e in events] == [(str(later), f"{later}/*.log", "default")]
        assert events[0]["level"] == "warning"
        later.mkdir()
        (later / "app.log").write_bytes(b"level=info msg=one\nlevel=info msg=two\n")
        doc = d.wait_lines(2)
        assert [f["path"] for f in doc["files"]] == [str(later / "app.log")]


def test_config_notes_the_missing_directory(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    env = clean_env(TAILSTAT_PATHS=f"{tmp_path}/here/*.log", TAILSTAT_SOURCES="app",
                    TAILSTAT_SOURCE_APP_PATHS=f"{tmp_path}/nope/*.jsonl", TAILSTAT_SOURCE_APP_FORMAT="json")
    out = subprocess.run([sys.executable, "-m", "tailstat", "config"], env=env, capture_output=True, timeout=30)
    assert out.returncode == 0
    assert out.stderr.decode().splitlines() == [
        f"tailstat: note: directory {tmp_path}/nope does not exist (glob {tmp_path}/nope/*.jsonl, source app): "
        "nothing is read from it until it exists"]
