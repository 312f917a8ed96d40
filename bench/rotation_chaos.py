"""Crashes during logrotate `create` rotations (issue 11): lines counted vs written, per writer.

    python -m bench.rotation_chaos [--glob '*.log' | '*.log*'] [--dateext] [--seconds 14] [--seed N]
                                   [--tailstat DIR] [--keep]

Three writer processes append JSON lines `{"w":"w1","s1":N,...}` (bursts of 1-80 lines every 1-6 ms, one
write per burst, O_APPEND) to logs/w{0,1,2}.log; each writer reopens its path when the inode there changed.
The real `logrotate -f` (create, rotate 1000, nocompress, nodateext or dateext) runs every 0.8-1.8 s; the daemon
(TAILSTAT_READ_FROM=beginning, TAILSTAT_CHECKPOINT_INTERVAL=1) is killed with SIGKILL every 1-3.5 s and started
again after 0-1.5 s (it is started, and has written its first snapshot, before the writers start). After
`--seconds` of this: the writers stop, one last rotation, the daemon is started and
waited for until its counts stop moving, then stopped with SIGTERM.

Each writer's sequence numbers are a measure of their own (`s0`, `s1`, `s2`): the daemon's count, sum, min and
max of it say whether each line 1..N was counted exactly once (count == N and sum == N(N+1)/2, min 1, max N:
a gap shows as a low count or sum, a duplicate as a high one). Exit status 0 when every writer is exact.

`--tailstat DIR` runs the daemon from another checkout (its `daemon/` on PYTHONPATH), e.g. an older commit
extracted with `git archive`, to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

WRITERS = 3
LOGROTATE = "/usr/sbin/logrotate"

WRITER = r"""
import os, random, signal, sys, time
path, w, burst, lo, hi, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), \
    float(sys.argv[5]), int(sys.argv[6])
rnd = random.Random(seed)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
print("ready", flush=True)
n = 0
pad = "x" * 40
while not stop:
    try:
        if os.stat(path).st_ino != os.fstat(fd).st_ino:  # rotated (create): reopen the new file
            new = os.open(path, os.O_WRONLY | os.O_APPEND)
            os.close(fd)
            fd = new
    except FileNotFoundError:
        pass  # renamed, not created yet: keep writing to the old file until it appears
    k = rnd.randint(1, burst)
    os.write(fd, b"".join(b'{"w":"w%d","s%d":%d,"pad":"%s"}\n' % (w, w, n + i, pad.encode())
                          for i in range(1, k + 1)))
    n += k
    time.sleep(rnd.uniform(lo, hi) / 1000)
os.close(fd)
print(n, flush=True)
"""


@dataclass
class Rates:
    burst: int = 80  # lines per burst: 1..burst
    pause_ms: tuple[float, float] = (1.0, 6.0)  # between bursts
    rotate_s: tuple[float, float] = (0.8, 1.8)  # between logrotate runs
    alive_s: tuple[float, float] = (1.0, 3.5)  # daemon runs this long before SIGKILL
    down_s: tuple[float, float] = (0.0, 1.5)  # and stays down this long


QUICK = Rates(burst=20, pause_ms=(2.0, 8.0), rotate_s=(0.25, 0.6), alive_s=(0.6, 1.4), down_s=(0.0, 0.6))


@dataclass
class Result:
    written: list[int]
    counted: list[dict]  # the daemon's measure summary of each writer's sequence numbers
    dropped: dict
    kills: int
    rotations: int
    exit_code: int
    log: Path
    files_on_disk: int = 0
    notes: list[str] = field(default_factory=list)

    def exact(self, i: int) -> bool:
        n, m = self.written[i], self.counted[i]
        if n == 0:
            return m.get("count", 0) == 0
        return m.get("count") == n and m.get("sum") == n * (n + 1) / 2 and m.get("min") == 1 and m.get("max") == n

    @property
    def ok(self) -> bool:
        return all(self.exact(i) for i in range(len(self.written))) and self.exit_code == 0

    def lines(self) -> list[str]:
        out = []
        total_w = sum(self.written)
        total_c = sum(int(m.get("count") or 0) for m in self.counted)
        for i, (n, m) in enumerate(zip(self.written, self.counted, strict=True)):
            expect = n * (n + 1) // 2
            out.append(f"w{i}: written {n:,} counted {int(m.get('count') or 0):,} "
                       f"sum {m.get('sum')} (exact {expect}) min {m.get('min')} max {m.get('max')}"
                       f"{'' if self.exact(i) else '  <-- NOT EXACT'}")
        diff = (total_c - total_w) / total_w * 100 if total_w else 0.0
        out.append(f"total: {total_c:,} counted of {total_w:,} written ({diff:+.2f} %); kills {self.kills}, "
                   f"rotations {self.rotations}, files on disk {self.files_on_disk}, final exit {self.exit_code}")
        out.append(f"dropped: {json.dumps(self.dropped, sort_keys=True)}")
        try:
            log = self.log.read_bytes()
        except OSError:
            log = b""
        seen = {e: log.count(b'"event":"%s"' % e.encode()) for e in (
            "file_found_rotated", "file_moved_while_stopped", "file_known_skipped", "file_lost")}
        out.append("daemon log: " + ", ".join(f"{e} {n}" for e, n in seen.items()))
        return out


def logrotate_conf(logs: Path, dateext: bool) -> str:
    naming = "dateext\n  dateformat -%Y%m%d%H%M%S" if dateext else "nodateext"
    return f"{logs}/*.log {{\n  create\n  rotate 1000\n  nocompress\n  {naming}\n  missingok\n}}\n"


class Chaos:
    def __init__(self, work: Path, glob: str, dateext: bool, rates: Rates, seed: int,
                 tailstat: Path | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.work, self.rates, self.rnd = work, rates, random.Random(seed)
        self.seed = seed
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.state = work / "state"
        self.conf = work / "logrotate.conf"
        self.conf.write_text(logrotate_conf(self.logs, dateext))
        self.log = work / "daemon.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TAILSTAT_", "NOTIFY_SOCKET", "WATCHDOG_"))}
        env.update({
            "TAILSTAT_PATHS": str(self.logs / glob), "TAILSTAT_STATE_DIR": str(self.state),
            "TAILSTAT_FORMAT": "json", "TAILSTAT_MEASURES": ",".join(f"s{i}" for i in range(WRITERS)),
            "TAILSTAT_GROUP_BY": "w", "TAILSTAT_READ_FROM": "beginning", "TAILSTAT_CHECKPOINT_INTERVAL": "1",
            "TAILSTAT_SNAPSHOT_INTERVAL": "0.2", "TAILSTAT_HTTP_ADDR": "off", "TAILSTAT_LOG_FORMAT": "json",
            "TAILSTAT_WORKERS": "2",
        })
        if tailstat is not None:
            env["PYTHONPATH"] = str(tailstat / "daemon") + os.pathsep + env.get("PYTHONPATH", "")
        env.update(extra_env or {})
        self.env = env
        self.daemon: subprocess.Popen | None = None
        self.kills = 0
        self.rotations = 0
        self._stop_rotating = threading.Event()

    # ------------------------------------------------------------------------------------------ parts
    def start_daemon(self) -> None:
        with open(self.log, "ab") as err:
            self.daemon = subprocess.Popen([sys.executable, "-m", "tailstat", "run"], env=self.env, cwd=self.work,
                                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def kill_daemon(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.kill()
            self.kills += 1
        if self.daemon is not None:
            self.daemon.wait(30)
        self.daemon = None

    def rotate(self) -> None:
        subprocess.run([LOGROTATE, "-s", str(self.work / "logrotate.state"), "-f", str(self.conf)],
                       check=False, capture_output=True, timeout=60)  # dateext: a name taken this second is skipped
        self.rotations += 1

    def _rotator(self) -> None:
        rnd = random.Random(self.seed + 1)
        while not self._stop_rotating.wait(rnd.uniform(*self.rates.rotate_s)):
            self.rotate()

    def stats(self) -> dict | None:
        try:
            return json.loads((self.state / "stats.json").read_bytes())
        except (OSError, ValueError):
            return None

    # -------------------------------------------------------------------------------------------- run
    def run(self, seconds: float, settle_timeout: float = 120.0) -> Result:
        r = self.rates
        self.start_daemon()  # up before the first line: a file rotated away before any start is not "seen"
        end = time.monotonic() + 60
        while self.stats() is None and time.monotonic() < end:
            time.sleep(0.05)
        writers = [subprocess.Popen(
            [sys.executable, "-c", WRITER, str(self.logs / f"w{i}.log"), str(i), str(r.burst), str(r.pause_ms[0]),
             str(r.pause_ms[1]), str(self.seed * 10 + i)], stdout=subprocess.PIPE, text=True)
            for i in range(WRITERS)]
        for w in writers:
            assert w.stdout is not None and w.stdout.readline() == "ready\n"
        rotator = threading.Thread(target=self._rotator, daemon=True)
        rotator.start()
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                if self.daemon is None:
                    self.start_daemon()
                time.sleep(min(self.rnd.uniform(*r.alive_s), max(0.0, deadline - time.monotonic())))
                if time.monotonic() >= deadline:
                    break
                self.kill_daemon()
                time.sleep(self.rnd.uniform(*r.down_s))
        finally:
            self._stop_rotating.set()
            rotator.join()
            written = []
            for w in writers:
                w.terminate()
                out, _ = w.communicate(timeout=30)
                written.append(int(out.split()[-1]))
        self.rotate()
        if self.daemon is None:
            self.start_daemon()
        counted = self._settle(written, settle_timeout)
        assert self.daemon is not None
        self.daemon.send_signal(signal.SIGTERM)
        code = self.daemon.wait(60)
        doc = self.stats() or {}
        counted = [doc.get("measures", {}).get(f"s{i}", {}) for i in range(WRITERS)]
        return Result(written, counted, doc.get("dropped", {}), self.kills, self.rotations, code, self.log,
                      files_on_disk=len(list(self.logs.iterdir())))

    def _settle(self, written: list[int], timeout: float) -> list[dict]:
        """Wait until every writer's count reached what it wrote, or the counts stopped moving for 5 s."""
        end = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < end:
            doc = self.stats()
            if doc is not None:
                counts = [doc.get("measures", {}).get(f"s{i}", {}).get("count") or 0 for i in range(WRITERS)]
                if counts == written and doc["health"].get("queue_depth", 0) == 0:
                    time.sleep(1.0)  # and nothing more arrives (a double count shows up late)
                    return counts
                if counts != last:
                    last, since = counts, time.monotonic()
                elif time.monotonic() - since > 5.0:
                    return counts
            time.sleep(0.1)
        return last or []


def run_chaos(work: Path, glob: str = "*.log", dateext: bool = False, seconds: float = 14.0,
              rates: Rates | None = None, seed: int = 1, tailstat: Path | None = None) -> Result:
    return Chaos(work, glob, dateext, rates or Rates(), seed, tailstat).run(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--glob", default="*.log", help="TAILSTAT_PATHS under logs/ (default %(default)s)")
    parser.add_argument("--dateext", action="store_true", help="logrotate dateext names instead of .N")
    parser.add_argument("--seconds", type=float, default=14.0, help="chaos phase (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="the default suite's lower rates")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tailstat", type=Path, help="run the daemon from this checkout's daemon/")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (printed)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra setting for the daemon (repeatable), e.g. TAILSTAT_ROTATED_GRACE=2")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tailstat-chaos-"))
    try:
        extra = dict(kv.split("=", 1) for kv in args.env)
        res = Chaos(work, args.glob, args.dateext, QUICK if args.quick else Rates(), args.seed, args.tailstat,
                    extra).run(args.seconds)
        print(f"glob logs/{args.glob}, {'dateext' if args.dateext else 'nodateext'}, {args.seconds:g} s of chaos, "
              f"seed {args.seed}, tailstat from {args.tailstat or 'this checkout'} {' '.join(args.env)}")
        for line in res.lines():
            print(line)
        return 0 if res.ok else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
