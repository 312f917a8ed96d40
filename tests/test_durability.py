"""Exactly once across crashes: the daemon is killed with SIGKILL at random moments while writers append and
files rotate (also while it is down), and descriptors stay bounded with many files."""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from helpers import clean_env, wait_until

ENV = {"TAILSTAT_FORMAT": "json", "TAILSTAT_GROUP_BY": "w", "TAILSTAT_CHECKPOINT_INTERVAL": "0.2",
       "TAILSTAT_RESCAN_INTERVAL": "0.5"}


class Writers:
    """Threads appending numbered lines to app.log; `rotate()` renames the files like logrotate's `create`
    and the writers reopen afterwards (until they do, their lines go to the renamed file)."""

    def __init__(self, log: Path, count: int, rate: float) -> None:
        self.log = log
        self.generation = 0
        self.rotations = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.written = [0] * count
        log.touch()
        self.threads = [threading.Thread(target=self._run, args=(w, rate), daemon=True) for w in range(count)]
        for t in self.threads:
            t.start()

    def _run(self, w: int, rate: float) -> None:
        generation = self.generation
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        while not self.stopping.is_set():
            if generation != self.generation:
                generation = self.generation
                os.close(fd)
                fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, b'{"w":%d,"n":%d}\n' % (w + 1, self.written[w] + 1))
            self.written[w] += 1
            time.sleep(1 / rate)
        os.close(fd)

    def rotate(self) -> None:
        with self.lock:
            rotated = sorted(self.log.parent.glob(self.log.name + ".*"), key=lambda p: -int(p.suffix[1:]))
            for path in rotated:
                path.rename(path.with_suffix(f".{int(path.suffix[1:]) + 1}"))
            self.log.rename(self.log.with_name(self.log.name + ".1"))
            self.log.touch()
            self.rotations += 1
            self.generation += 1

    def stop(self) -> dict[str, int]:
        self.stopping.set()
        for t in self.threads:
            t.join(10)
        return {str(w + 1): n for w, n in enumerate(self.written)}


def test_kill9_restart_loop_counts_every_line_exactly_once(tmp_path: Path, daemon) -> None:
    rng = random.Random(20251126)
    logs = tmp_path / "logs"
    logs.mkdir()
    writers = Writers(logs / "app.log", count=3, rate=150)
    d = daemon(str(logs / "app.log*"), start=False, **ENV)
    kills = 0
    try:
        for _ in range(7):
            ready = rng.random() < 0.75  # now and then, kill it while it is still starting up
            d.start(wait_ready=ready)
            time.sleep(rng.uniform(0.2, 0.9) if ready else rng.uniform(0.0, 0.3))
            if rng.random() < 0.5:
                writers.rotate()
                time.sleep(rng.uniform(0.0, 0.3))
            d.kill()
            kills += 1
            for _ in range(rng.randint(0, 3)):  # rotations while the daemon is down
                writers.rotate()
                time.sleep(0.05)
    finally:
        written = writers.stop()
    total = sum(written.values())
    d.start()
    wait_until(lambda: d.stats()["totals"]["lines"] >= total, timeout=60, what=f"{total} lines")
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    assert kills == 7 and writers.rotations >= 5
    assert (doc["totals"]["lines"], doc["totals"]["parse_errors"]) == (total, 0)
    assert dict(map(tuple, doc["fields"]["w"]["top"])) == written
    assert doc["dropped"] == {}
    assert d.state()["totals"]["lines"] == total


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_open_descriptors_stay_bounded_and_every_line_counts(tmp_path: Path, daemon) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    limit, nfiles, rounds, per_round = 8, 50, 6, 5
    d = daemon(str(logs / "*.log"), **ENV, TAILSTAT_MAX_OPEN_FILES=str(limit))
    pid = d.proc.pid
    wait_until(lambda: d.stats()["health"].get("open_files") == 0, what="idle daemon")
    baseline = fd_count(pid)
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], fd_count(pid))
            except OSError:
                return
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    paths = [logs / f"f{i:02d}.log" for i in range(nfiles)]
    try:
        for r in range(rounds):
            for i, path in enumerate(paths):
                with open(path, "ab") as fh:
                    fh.write(b"".join(b'{"w":%d,"n":%d}\n' % (i, r * per_round + k) for k in range(per_round)))
            snapshot: dict[str, Any] = d.stats()
            assert snapshot["health"]["open_files"] <= limit
        expected = nfiles * rounds * per_round
        wait_until(lambda: d.stats()["totals"]["lines"] >= expected, what=f"{expected} lines")
    finally:
        done.set()
        sampler.join(5)
    # transient extras: a head read, and the snapshot and checkpoint writers' temp file and directory
    assert peak[0] <= baseline + limit + 5, (baseline, peak[0])
    assert d.stop() == 0, d.stderr()
    doc = d.stats()
    assert (doc["totals"]["lines"], doc["totals"]["parse_errors"]) == (expected, 0)
    assert sorted((f["path"], f["lines"], f["size"], f["offset"], f["lag_bytes"]) for f in doc["files"]) == [
        (str(p), rounds * per_round, p.stat().st_size, p.stat().st_size, 0) for p in paths]


def soft_nofile(pid: int) -> tuple[int, int]:
    """(soft, hard) 'Max open files' of a running process, from /proc/PID/limits."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no 'Max open files' line")


def limit_nofile(soft: int, hard: int):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_run_raises_its_soft_descriptor_limit_to_what_max_open_files_needs(tmp_path: Path, daemon) -> None:
    d = daemon(str(tmp_path / "*.log"), preexec=limit_nofile(256, 4096), TAILSTAT_MAX_OPEN_FILES="1000")
    assert soft_nofile(d.proc.pid) == (1000 + 128, 4096)
    assert d.log_events("started")[0]["max_open_files"] == 1000
    assert d.stop() == 0, d.stderr()


def test_default_max_open_files_shrinks_to_a_low_hard_limit(tmp_path: Path, daemon) -> None:
    d = daemon(str(tmp_path / "*.log"), preexec=limit_nofile(300, 600))
    assert d.log_events("started")[0]["max_open_files"] == 600 - 128
    assert soft_nofile(d.proc.pid) == (600, 600)
    assert d.stop() == 0, d.stderr()


def test_max_open_files_above_the_hard_limit_exits_2_naming_the_limit(tmp_path: Path, daemon) -> None:
    d = daemon(str(tmp_path / "*.log"), start=False, preexec=limit_nofile(300, 600), TAILSTAT_MAX_OPEN_FILES="5000")
    d.start(wait_ready=False)
    assert d.proc.wait(30) == 2
    assert d.stderr().strip() == (
        "tailstat: configuration error: TAILSTAT_MAX_OPEN_FILES=5000 needs 5128 descriptors but the hard limit on "
        "open files (RLIMIT_NOFILE: LimitNOFILE= in the unit, `ulimit -Hn`) is 600; accepted: 4..472, or raise the "
        "limit")



def test_only_run_checks_the_descriptor_limit(tmp_path: Path) -> None:
    """Other commands read the daemon's environment in shells whose own limits say nothing of the daemon's."""
    env = clean_env(TAILSTAT_PATHS=str(tmp_path / "*.log"), TAILSTAT_MAX_OPEN_FILES="5000")
    out = subprocess.run([sys.executable, "-m", "tailstat", "config"], env=env, capture_output=True, text=True,
                         timeout=60, check=False, preexec_fn=limit_nofile(300, 600))
    assert out.returncode == 0, out.stderr
    assert "TAILSTAT_MAX_OPEN_FILES=5000" in out.stdout.splitlines()
    assert out.stderr.startswith("tailstat: note: `tailstat run` in this shell would refuse this: "
                                 "TAILSTAT_MAX_OPEN_FILES=5000 needs 5128 descriptors")


def test_a_hard_limit_below_what_tailstat_needs_exits_2(tmp_path: Path, daemon) -> None:
    d = daemon(str(tmp_path / "*.log"), start=False, preexec=limit_nofile(100, 100))
    d.start(wait_ready=False)
    assert d.proc.wait(30) == 2
    assert d.stderr().strip() == (
        "tailstat: configuration error: the hard limit on open files (RLIMIT_NOFILE: LimitNOFILE= in the unit, "
        "`ulimit -Hn`) is 100, below the 132 descriptors tailstat needs (4 files and 128 more); raise the limit")


def test_a_second_daemon_on_the_same_state_dir_exits_2_and_leaves_it_alone(tmp_path: Path, daemon) -> None:
    """Two daemons sharing a checkpoint would overwrite each other's offsets: the second is refused."""
    first = daemon(str(tmp_path / "*.log"))
    state = first.state_dir / "state.json"
    saved = state.read_bytes()
    second = daemon(str(tmp_path / "other" / "*.log"), start=False)
    second.start(wait_ready=False)
    assert second.proc.wait(30) == 2
    assert second.stderr().strip() == (
        f"tailstat: configuration error: TAILSTAT_STATE_DIR={str(first.state_dir)!r} is in use by another "
        f"tailstat (pid {first.proc.pid}); accepted: a state directory no other running tailstat uses")
    assert state.read_bytes() == saved
    assert first.stop() == 0, first.stderr()
    third = daemon(str(tmp_path / "*.log"))  # the lock goes with the process that held it
    assert third.stop() == 0


def test_a_file_gone_at_start_counts_as_lost_only_for_bytes_known_unread(tmp_path: Path, daemon) -> None:
    """A checkpointed file missing at start: read to its recorded size -> an info event, nothing dropped; with
    bytes recorded but not read -> dropped.missing_at_start with exactly those bytes."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "done.log").write_bytes(b'{"w":"a"}\n' * 5)
    (logs / "behind.log").write_bytes(b'{"w":"b"}\n' * 3)
    d = daemon(str(logs / "*.log"), **ENV)
    d.wait_lines(8)
    assert d.stop() == 0
    state = json.loads(d.state_dir.joinpath("state.json").read_bytes())
    (behind,) = [r for r in state["files"].values() if r["path"].endswith("behind.log")]
    behind["size"] = behind["offset"] + 100  # as if it had grown by 100 bytes not yet read when we stopped
    d.state_dir.joinpath("state.json").write_text(json.dumps(state))
    (logs / "done.log").unlink()
    (logs / "behind.log").unlink()
    d.start()
    assert d.stats()["dropped"] == {"missing_at_start": {"lines": 0, "bytes": 100}}
    assert [e["path"] for e in d.log_events("file_gone")] == [str(logs / "done.log")]
    assert [(e["path"], e["unread_bytes"]) for e in d.log_events("file_lost")] == [(str(logs / "behind.log"), 100)]
    assert d.stop() == 0
