"""The real logrotate binary rotates files under the daemon while a writer process appends numbered lines.

- `create` (rename, then a new file; the writer reopens on SIGHUP from postrotate, and writes to the renamed
  file until then): every line is counted exactly once.
- `copytruncate` (copy, then truncate in place): the only lines that may be lost are those the writer
  appended between logrotate's copy and its truncate. The test finds exactly which lines those are (written,
  but in no file on disk) and demands that every line on disk is counted exactly once and nothing else
  except lines of that window (the daemon may have read some of them before the truncation).
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from helpers import Daemon, app_log, logrotate, wait_until

ENV = {"TAILSTAT_FORMAT": "json", "TAILSTAT_CHECKPOINT_INTERVAL": "0.2", "TAILSTAT_RESCAN_INTERVAL": "0.5"}

WRITER = r"""
import os, signal, sys, time
path, rate, writer = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
want = {"reopen": False, "stop": False}
signal.signal(signal.SIGHUP, lambda *_: want.__setitem__("reopen", True))
signal.signal(signal.SIGTERM, lambda *_: want.__setitem__("stop", True))
fd = os.open(path, flags, 0o644)
print("ready", flush=True)
n, start = 0, time.monotonic()
while not want["stop"]:
    if want["reopen"]:
        want["reopen"] = False
        os.close(fd)
        fd = os.open(path, flags, 0o644)
    n += 1
    os.write(fd, b'{"w":%d,"n":%d}\n' % (writer, n))  # one write per line: O_APPEND keeps lines whole
    delay = start + n / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
os.close(fd)
print(n, flush=True)
"""


class Writer:
    def __init__(self, path: Path, rate: float, writer: int = 1) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(rate), str(writer)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline() == "ready\n"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> int:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0
        return int(out.split()[-1])


def record(doc: dict[str, Any], path: Path) -> dict[str, Any] | None:
    return next((f for f in doc["files"] if f["path"] == str(path)), None)


def lines_on_disk(directory: Path) -> Counter:
    """Line number -> how many times it is in the files (compressed ones included)."""
    found: Counter = Counter()
    for path in directory.iterdir():
        data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        found.update(orjson.loads(raw)["n"] for raw in data.splitlines())
    return found


def rotate_under_load(tmp_path: Path, d: Daemon, log: Path, directives: tuple[str, ...], rotations: int,
                      step: int, seen: str | None = None) -> None:
    """Rotate `log` (logrotate with these directives) each time the daemon has counted `step` more lines, so
    rotations fall among live writes, and let the writer go on for `step` lines after the last one. `seen`: an
    event the daemon logs once per rotation, awaited before the next one (so that two rotations never fall
    between two of its passes)."""
    for i in range(1, rotations + 2):
        wait_until(lambda i=i: d.stats()["totals"]["lines"] >= i * step, what=f"{i * step} lines")
        if i <= rotations:
            logrotate(tmp_path, log, *directives)
            if seen is not None:
                wait_until(lambda i=i: len(d.log_events(seen)) >= i, what=f"{seen} {i}")


def test_create_mode_counts_every_line_once(tmp_path: Path, daemon) -> None:
    logs, log = app_log(tmp_path, 0)
    # the glob matches only the live file: rotated files are followed by inode, drained, never lost
    # (the daemon is up first: a backlog read at start must not count for several rotation steps at once, or
    # logrotate would rotate and compress a file before the daemon could see it -- lines then truly lost)
    d = daemon(str(log), **ENV, TAILSTAT_GROUP_BY="w")
    writer = Writer(log, rate=600)
    conf = ("create", "rotate 10", "compress", "delaycompress",
            "postrotate", f"    kill -HUP {writer.pid}", "endscript")
    rotate_under_load(tmp_path, d, log, conf, rotations=3, step=250)
    written = writer.stop()
    wait_until(lambda: d.stats()["totals"]["lines"] >= written, what=f"{written} lines")
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    assert sorted(p.name for p in logs.iterdir()) == ["app.log", "app.log.1", "app.log.2.gz", "app.log.3.gz"]
    assert lines_on_disk(logs) == Counter(range(1, written + 1))  # nothing lost on disk in this mode
    assert (doc["totals"]["lines"], doc["totals"]["parse_errors"]) == (written, 0)
    assert dict(map(tuple, doc["fields"]["w"]["top"])) == {"1": written}
    assert doc["dropped"] == {}
    assert record(doc, log)["rotations"] == 3
    assert len(d.log_events("file_rotated")) >= 3


def test_copytruncate_loses_only_logrotates_own_window(tmp_path: Path, daemon) -> None:
    logs, log = app_log(tmp_path, 0)
    writer = Writer(log, rate=2000)
    conf = ("copytruncate", "rotate 10")
    # the glob matches the copies too: they must be recognised as content already read, not read twice
    d = daemon(str(logs / "app.log*"), **ENV, TAILSTAT_GROUP_BY="n", TAILSTAT_TOPK_CAPACITY="100000")
    # (each copy taken over before the next rotation: two rotations between two passes would leave the second
    # copy read as a new file -- its lines still counted once -- and `rotations` one short)
    rotate_under_load(tmp_path, d, log, conf, rotations=3, step=800, seen="file_copytruncated")
    written = writer.stop()

    def caught_up() -> bool:
        doc = d.stats()
        return all((rec := record(doc, p)) is not None and rec["offset"] == p.stat().st_size
                   for p in logs.iterdir())

    wait_until(caught_up, what="every file read to its end")
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    on_disk = lines_on_disk(logs)
    assert sorted(p.name for p in logs.iterdir()) == ["app.log", "app.log.1", "app.log.2", "app.log.3"]
    assert set(on_disk.values()) == {1}
    window = set(range(1, written + 1)) - set(on_disk)  # written, then lost between copy and truncate
    counts = {int(n): c for n, c in d.state()["topk"]["n"]["counts"].items()}
    assert set(counts.values()) == {1}, "a line was counted twice"
    assert set(on_disk) <= set(counts), "a line on disk was not counted"
    assert set(counts) - set(on_disk) <= window
    missed = window - set(counts)
    assert doc["totals"]["lines"] == written - len(missed), f"window={len(window)} missed={len(missed)}"
    assert doc["totals"]["parse_errors"] == 0
    # bytes the daemon saw before a truncation but could not read any more are counted as dropped
    assert doc["totals"]["dropped_bytes"] <= sum(len(b'{"w":1,"n":%d}\n' % n) for n in missed)
    assert record(doc, log)["rotations"] == 3
    assert len(d.log_events("file_copytruncated")) == 3
