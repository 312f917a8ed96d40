"""Tailing edge cases against the real daemon: truncation, deletion, inode reuse, unfinished lines, compressed
rotations, and where reading starts (plus one case that needs the Tailer driven by hand, at the end).

Where a case needs the daemon to look only *after* several changes (say, truncate and regrow), the test
freezes it with SIGSTOP, makes the changes, and lets it go with SIGCONT: the order of events is then exact.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import orjson

from helpers import Daemon, paused, wait_until
from tailstat.aggregate import Store
from tailstat.config import load_config
from tailstat.formats import parse_batch
from tailstat.tail import Batch, Tailer

ENV = {"TAILSTAT_FORMAT": "json", "TAILSTAT_GROUP_BY": "w", "TAILSTAT_CHECKPOINT_INTERVAL": "0.2",
       "TAILSTAT_RESCAN_INTERVAL": "0.5"}


def lines(w: int, start: int, count: int) -> bytes:
    return b"".join(b'{"w":%d,"n":%d}\n' % (w, n) for n in range(start, start + count))


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def record(doc: dict[str, Any], path: Path) -> dict[str, Any] | None:
    return next((f for f in doc["files"] if f["path"] == str(path)), None)


def per_writer(doc: dict[str, Any]) -> dict[str, int]:
    return dict(map(tuple, doc["fields"].get("w", {}).get("top", [])))


def seen_whole(d: Daemon, path: Path) -> bool:
    """The daemon has read the file to its current size (an unfinished last line may still be pending)."""
    rec = record(d.stats(), path)
    return rec is not None and rec["size"] == path.stat().st_size


def caught_up(d: Daemon, path: Path) -> bool:
    """The daemon has read the file to its end and committed everything it could."""
    rec = record(d.stats(), path)
    size = path.stat().st_size
    return rec is not None and rec["size"] == size and rec["offset"] == size


def logdir(tmp_path: Path) -> Path:
    """Log files live apart from tmp_path itself, where the daemon's own stderr log is kept."""
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    return logs


def finish(d: Daemon) -> dict[str, Any]:
    assert d.stop() == 0, d.stderr()
    return d.stats()


def test_truncate_and_regrow_past_old_offset_is_a_new_stream(tmp_path: Path, daemon) -> None:
    log = logdir(tmp_path) / "app.log"
    log.write_bytes(lines(1, 1, 5))
    d = daemon(str(log.parent / "*.log"), **ENV)
    wait_until(lambda: caught_up(d, log), what="first 5 lines")
    old_inode = log.stat().st_ino
    with paused(d):
        os.truncate(log, 0)
        append(log, lines(2, 1, 12))  # longer than the old offset: only the head tells it apart
        assert log.stat().st_size > 5 * len(lines(1, 1, 1)) and log.stat().st_ino == old_inode
    wait_until(lambda: d.stats()["totals"]["lines"] >= 17, what="17 lines")
    doc = finish(d)
    assert doc["totals"]["lines"] == 17 and doc["totals"]["parse_errors"] == 0
    assert per_writer(doc) == {"1": 5, "2": 12}
    rec = record(doc, log)
    assert (rec["truncations"], rec["lines"], rec["offset"]) == (1, 12, log.stat().st_size)
    assert doc["dropped"] == {}
    assert [e["path"] for e in d.log_events("file_truncated")] == [str(log)]


def test_deleted_file_with_unread_bytes_is_drained_then_let_go(tmp_path: Path, daemon) -> None:
    log = logdir(tmp_path) / "app.log"
    log.write_bytes(lines(1, 1, 3))
    d = daemon(str(log.parent / "*.log"), **ENV)
    wait_until(lambda: caught_up(d, log), what="first 3 lines")
    with paused(d):
        append(log, lines(1, 4, 40))
        log.unlink()  # the 40 lines now exist only behind the daemon's descriptor
    wait_until(lambda: d.stats()["totals"]["lines"] >= 43, what="43 lines")
    wait_until(lambda: record(d.stats(), log) is None, what="the deleted file's record retired")
    fds = [os.readlink(f"/proc/{d.proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{d.proc.pid}/fd")]
    assert not [f for f in fds if f.startswith(str(log))], fds
    doc = finish(d)
    assert doc["totals"]["lines"] == 43 and per_writer(doc) == {"1": 43}
    assert doc["dropped"] == {}
    (deleted,) = d.log_events("file_deleted")
    assert deleted["drained"] is True


def test_reused_inode_is_a_new_file_not_a_resumed_one(tmp_path: Path, daemon) -> None:
    logs = logdir(tmp_path)
    log = logs / "app.log"
    log.write_bytes(lines(1, 1, 10))
    d = daemon(str(logs / "app.log"), **ENV)
    wait_until(lambda: caught_up(d, log), what="10 lines")
    assert d.stop() == 0
    inode = log.stat().st_ino
    log.unlink()
    for attempt in range(50):  # ext4 hands a freed inode to the next file created in the directory
        candidate = logs / f"new-{attempt}"
        candidate.write_bytes(lines(2, 1, 25))
        if candidate.stat().st_ino == inode:
            candidate.rename(log)
            break
    assert log.stat().st_ino == inode, "the file system did not reuse the inode"
    d.start()
    wait_until(lambda: d.stats()["totals"]["lines"] >= 35, what="35 lines")
    doc = finish(d)
    assert doc["totals"]["lines"] == 35 and doc["totals"]["parse_errors"] == 0
    assert per_writer(doc) == {"1": 10, "2": 25}
    rec = record(doc, log)
    assert (rec["identity"]["inode"], rec["lines"], rec["offset"]) == (inode, 25, log.stat().st_size)


def read_up_to_a_partial_line(tmp_path: Path, daemon, whole: bytes, partial: bytes) -> tuple[Path, Daemon]:
    """app.log holding the lines `whole`, then `partial` (no newline yet), and a daemon that has read it to
    its size."""
    log = logdir(tmp_path) / "app.log"
    log.write_bytes(whole + partial)
    d = daemon(str(log.parent / "*.log"), **ENV)
    wait_until(lambda: seen_whole(d, log), what="file read")
    return log, d


def test_unfinished_last_line_waits_for_its_newline(tmp_path: Path, daemon) -> None:
    first = lines(1, 1, 1)
    log, d = read_up_to_a_partial_line(tmp_path, daemon, first, b'{"w":1,"n":2}')
    doc = d.stats()
    rec = record(doc, log)
    assert doc["totals"]["lines"] == 1 and (rec["offset"], rec["lag_bytes"]) == (len(first), 13)
    append(log, b"\n")
    wait_until(lambda: caught_up(d, log), what="the line finished")
    doc = finish(d)
    assert doc["totals"]["lines"] == 2 and doc["totals"]["parse_errors"] == 0


def test_partial_line_across_a_restart_is_counted_once(tmp_path: Path, daemon) -> None:
    whole = lines(1, 1, 2)
    log, d = read_up_to_a_partial_line(tmp_path, daemon, whole, b'{"w":1,')
    assert d.stop() == 0
    state = d.state()
    (rec,) = state["files"].values()
    assert rec["offset"] == len(whole) and state["totals"]["lines"] == 2
    append(log, b'"n":3}\n' + lines(1, 4, 1))
    d.start()
    wait_until(lambda: caught_up(d, log), what="caught up after restart")
    doc = finish(d)
    assert doc["totals"]["lines"] == 4 and doc["totals"]["parse_errors"] == 0
    assert per_writer(doc) == {"1": 4}


def test_compressed_rotations_are_never_read(tmp_path: Path, daemon) -> None:
    log = logdir(tmp_path) / "app.log"
    (log.parent / "app.log.1.gz").write_bytes(gzip.compress(lines(9, 1, 50)))
    (log.parent / "app.log.2.xz").write_bytes(b"\xfd7zXZ\x00" + lines(9, 1, 5))
    (log.parent / "app.log.3").write_bytes(gzip.compress(lines(9, 1, 50)))  # compressed, but not named so
    log.write_bytes(lines(1, 1, 3))
    d = daemon(str(log.parent / "app.log*"), **ENV)
    wait_until(lambda: caught_up(d, log), what="app.log read")
    (log.parent / "app.log.4.gz").write_bytes(gzip.compress(lines(9, 1, 50)))  # appearing while running
    append(log, lines(1, 4, 2))
    wait_until(lambda: caught_up(d, log), what="app.log read again")
    doc = finish(d)
    assert (doc["totals"]["lines"], doc["totals"]["parse_errors"]) == (5, 0)
    assert [f["path"] for f in doc["files"]] == [str(log)]


def test_read_from_end_applies_only_to_the_very_first_start(tmp_path: Path, daemon) -> None:
    log = logdir(tmp_path) / "app.log"
    log.write_bytes(lines(1, 1, 5) + b'{"w":1,')  # history before the first start, and a line in progress
    d = daemon(str(log.parent / "*.log"), **{**ENV, "TAILSTAT_READ_FROM": "end"})
    wait_until(lambda: record(d.stats(), log) is not None, what="app.log opened")
    append(log, b'"n":6}\n' + lines(1, 7, 2))
    wait_until(lambda: caught_up(d, log), what="new lines")
    assert d.stop() == 0
    assert d.stats()["totals"]["lines"] == 3  # the line in progress at the start counts whole
    append(log, lines(1, 9, 4))  # while stopped: resumed from the committed offset
    created = log.parent / "new.log"
    created.write_bytes(lines(2, 1, 6))  # created while stopped: read from its first byte
    d.start()
    wait_until(lambda: caught_up(d, log) and caught_up(d, created), what="both files")
    doc = finish(d)
    assert doc["totals"]["lines"] == 13 and doc["totals"]["parse_errors"] == 0
    assert per_writer(doc) == {"1": 7, "2": 6}


def test_file_let_go_with_batches_in_flight_is_resumed_whole_after_a_crash(tmp_path: Path) -> None:
    """A rotated file retired after its grace period while its last batch was still being parsed, then a crash:
    at restart the file is found again and must stay tracked, not be forgotten once that batch merges."""
    log = logdir(tmp_path) / "app.log"
    cfg = load_config({"TAILSTAT_PATHS": str(log), "TAILSTAT_FORMAT": "json", "TAILSTAT_ROTATED_GRACE": "0",
                       "TAILSTAT_READ_FROM": "beginning", "TAILSTAT_STATE_DIR": str(tmp_path / "state")})

    def merge(store: Store, batches: list[Batch]) -> None:
        for b in batches:
            store.merge(parse_batch(b.spec, b.data), b.key, b.end)

    store = Store()
    tailer = Tailer(cfg, store, first_start=True)
    log.write_bytes(lines(1, 1, 3))
    out: list[Batch] = []
    tailer.cycle(tailer.restore(out), out, 1 << 20)  # restore queues the files; the first pass reads them
    merge(store, out)
    append(log, lines(1, 4, 2))
    log.rename(log.with_name("app.log.1"))
    in_flight: list[Batch] = []
    tailer.cycle(tailer.rescan(in_flight), in_flight, 1 << 20)  # follows the rename, reads 2 lines
    tailer.rescan(in_flight)  # grace 0: the rotated file is let go at once
    assert len(in_flight) == 1 and not tailer.by_key
    state = orjson.loads(orjson.dumps(store.export_state()))  # crash: the batch in flight is lost

    store = Store()
    store.load_state(state)
    tailer = Tailer(cfg, store, first_start=False)
    out = []
    tailer.cycle(tailer.restore(out), out, 1 << 20)
    merge(store, out)
    (rec,) = store.files().values()
    size = log.with_name("app.log.1").stat().st_size
    assert (rec["path"], rec["offset"], rec["lines"], rec.get("retire_at", -1)) == (str(log) + ".1", size, 5, -1)
    assert store.snapshot()["totals"]["lines"] == 5
    tailer.close_all()
