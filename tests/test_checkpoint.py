"""The state file: a corrupt one never causes a crash loop, and an unwritable state directory never stops
ingestion -- it shows in the stats document until checkpoints succeed again."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from helpers import clean_env, wait_until
from tailstat.aggregate import Store
from tailstat.checkpoint import encode, load_into
from tailstat.partial import Partial

ENV = {"TAILSTAT_FORMAT": "json", "TAILSTAT_CHECKPOINT_INTERVAL": "0.2", "TAILSTAT_RESCAN_INTERVAL": "0.5"}


def lines(start: int, count: int) -> bytes:
    return b"".join(b'{"n":%d}\n' % n for n in range(start, start + count))


def a_real_state() -> bytes:
    store = Store()
    store.upsert_file("f1", path="/var/log/app.log", size=100,
                      identity={"dev": 1, "inode": 2, "fingerprint": "00", "fingerprint_bytes": 1})
    store.merge(Partial(lines=3, bytes=100, parsed=3), "f1", 100)
    return encode(store.export_state())


CORRUPT = {
    "garbage": b"\x00\xff not json at all \x1f\x8b",
    "empty": b"",
    "truncated": a_real_state()[:150],
    "unknown_schema": orjson.dumps({"schema": 99, "files": {}}),
    "bad_file_record": a_real_state().replace(b'"offset":100', b'"offset":-5'),
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_state_is_moved_aside_and_the_daemon_starts_fresh(tmp_path: Path, daemon, kind: str) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_bytes(lines(1, 4))
    state = tmp_path / "state" / "state.json"
    state.parent.mkdir()
    state.write_bytes(CORRUPT[kind])
    d = daemon(str(logs / "*.log"), **ENV)
    wait_until(lambda: d.stats()["totals"]["lines"] >= 4, what="4 lines")
    (aside,) = state.parent.glob("state.json.corrupt-*")
    assert aside.read_bytes() == CORRUPT[kind]
    (event,) = d.log_events("state_corrupt")
    assert (event["level"], event["moved_to"], event["path"]) == ("error", str(aside), str(state))
    assert d.stop() == 0, d.stderr()
    assert d.stats()["totals"]["lines"] == 4
    assert load_into(Store(), state, "fail") is True  # the new state is a good one
    assert orjson.loads(state.read_bytes())["totals"]["lines"] == 4


def test_corrupt_state_with_fail_policy_refuses_to_start(tmp_path: Path) -> None:
    state = tmp_path / "state" / "state.json"
    state.parent.mkdir()
    state.write_bytes(CORRUPT["truncated"])
    env = clean_env(TAILSTAT_PATHS=str(tmp_path / "*.log"), TAILSTAT_STATE_DIR=str(state.parent),
                    TAILSTAT_STATE_ON_CORRUPT="fail", TAILSTAT_HTTP_ADDR="off", TAILSTAT_LOG_FORMAT="json")
    done = subprocess.run([sys.executable, "-m", "tailstat", "run"], env=env, check=False, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert f"state file {state} is unusable" in done.stderr and "TAILSTAT_STATE_ON_CORRUPT=fail" in done.stderr
    assert state.read_bytes() == CORRUPT["truncated"]  # left where it is for an operator to look at
    assert not list(state.parent.glob("*.corrupt-*"))


@contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """Make a directory unwritable even for root: the immutable attribute where the file system has it,
    else the directory is replaced by a plain file (so nothing can be created "in" it)."""
    if subprocess.run(["chattr", "+i", str(directory)], check=False, capture_output=True).returncode == 0:
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
    else:
        moved = directory.with_name(directory.name + ".moved")
        directory.rename(moved)
        directory.write_bytes(b"")
        try:
            yield
        finally:
            directory.unlink()
            moved.rename(directory)


def test_unwritable_state_directory_keeps_ingesting_and_recovers(tmp_path: Path, daemon) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_bytes(lines(1, 3))
    state_dir = tmp_path / "checkpoints"
    state_file = state_dir / "state.json"

    def saved_lines() -> int:
        return orjson.loads(state_file.read_bytes())["totals"]["lines"] if state_file.exists() else -1

    # the stats snapshot lives in the runtime directory (tmp_path/"state", where helpers.Daemon reads it)
    d = daemon(str(logs / "*.log"), **ENV, TAILSTAT_STATE_DIR=str(state_dir),
               TAILSTAT_RUNTIME_DIR=str(tmp_path / "state"))
    wait_until(lambda: saved_lines() == 3, what="first checkpoint with 3 lines")
    with unwritable(state_dir):
        with open(log, "ab") as fh:
            fh.write(lines(4, 5))
        wait_until(lambda: d.stats()["totals"]["lines"] >= 8 and d.stats()["checkpoint"]["failures"] >= 2,
                   what="8 lines counted while checkpoints fail")
        doc = d.stats()
        assert doc["totals"]["lines"] == 8
        assert doc["checkpoint"]["ok"] is False and doc["checkpoint"]["error"]
        assert saved_lines() == 3
        from tailstat.render import table  # what `tailstat stats` prints about it

        assert (f"CHECKPOINT FAILING: {doc['checkpoint']['error']} (ingestion goes on; offsets not saved)"
                in table(doc).splitlines())
    wait_until(lambda: d.stats()["checkpoint"]["ok"] is True and saved_lines() == 8, what="recovery")
    assert len(d.log_events("checkpoint_failed")) == 1  # logged once, not once per retry
    assert len(d.log_events("checkpoint_recovered")) == 1
    assert d.stop() == 0, d.stderr()
    d.start()  # resumes from the recovered checkpoint: nothing counted twice
    with open(log, "ab") as fh:
        fh.write(lines(9, 1))
    wait_until(lambda: d.stats()["totals"]["lines"] >= 9, what="9 lines")
    assert d.stop() == 0
    assert d.stats()["totals"]["lines"] == 9
    shutil.rmtree(state_dir)
