"""The rotation core (tailstat.tail.core.reconcile) against a model of a log directory.

No I/O: a model file system (paths -> inodes -> lines, mtimes on a logical clock, inodes reused as soon as they
are free) is changed by a writer and logrotate -- long `.N` chains shifted on every rotation (rotate up to 50),
dateext names, `.backup` moves, olddir moves, gzip compression, deletion, truncation, late writes to a file just
rotated -- while a model daemon observes it in passes and, at each pass, does exactly what the core decides
(read a stream from its offset to its end, adopt, remember, forget, count lost). It checkpoints at random and
crashes at random (back to the last checkpoint: streams, counts, drops and the listing time).

Invariant, after a final pass: every line written is counted exactly once, except the lines the model says are
unrecoverable (in a file that was deleted, compressed or truncated before the daemon had read them, or read
after the last checkpoint and then lost to a crash) -- and those are counted zero times. The bytes of lines lost
to compression are exactly what the daemon reports as dropped.compressed_before_read (a compressed file is
told apart by the head of what it holds, decompressed). Globs with and without
rotated names.

Two drivers of the same World: a Hypothesis stateful machine (`CoreModel`, 150 scenarios; it shrinks a failure to
a short one) and a seeded random driver (`run_scenario`, 3,000 scenarios in a few seconds; a failure names its
seed). Hypothesis costs about 0.4 ms a step (its choice sequences, spans, rule selection) where the model and the
core together cost about 0.02 ms: `python tests/test_tail_core.py` prints the scenarios/s of both.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tailstat.tail.core import Known, Seen, reconcile
from tailstat.tail.identity import FP_BYTES, fingerprint

DIR = "/logs"
OLD = "/logs/old"
LIVE = f"{DIR}/app.log"
LINE = 12
HOW = ("backup", "olddir", "gzip", "delete")


def line(i: int) -> bytes:
    return b'{"id":%06d}\n' % i  # 12 bytes: offsets are line numbers * 12, heads of different files differ


@dataclass
class MFile:
    ino: int
    gen: int  # which content this is (a truncation or a reused inode is a new one)
    lines: list[int] = field(default_factory=list)
    mtime: int = 0
    gz: bool = False
    usize: int | None = None
    uhead: bytes = b""

    def data(self) -> bytes:
        return b"".join(map(line, self.lines))


@dataclass
class Stream:
    key: str
    path: str
    origin: str
    ino: int
    fp: str
    fp_len: int
    offset: int
    size: int
    gen: int  # the model's bookkeeping: which content the daemon is reading (the core never sees it)
    retired: bool = False


@dataclass
class DaemonState:
    streams: dict[str, Stream] = field(default_factory=dict)
    counted: Counter = field(default_factory=Counter)
    dropped: int = 0  # bytes in dropped.compressed_before_read
    since: int = 0
    next_key: int = 1

    def copy(self) -> DaemonState:
        return DaemonState({k: replace(s) for k, s in self.streams.items()}, Counter(self.counted), self.dropped,
                           self.since, self.next_key)


class World:
    """The model file system, the writer, logrotate and the model daemon. Plain methods (one per step), driven
    by Hypothesis (`CoreModel`: it shrinks a failure to a short scenario) and by a seeded random driver
    (`run_scenario`: thousands of scenarios a second, without Hypothesis' cost per step)."""

    def __init__(self, rotate: int, rotated_glob: bool) -> None:
        self.rotate_count = rotate
        self.rotated_glob = rotated_glob
        self.clock = 1
        self.paths: dict[str, MFile] = {}
        self.free: list[int] = []
        self.next_ino, self.next_gen, self.next_id = 10, 1, 1
        self.written: set[int] = set()
        self.lost: set[int] = set()
        self.at_risk: set[int] = set()  # read after the last checkpoint, file gone since: lost if we crash
        self.lost_gz_bytes = 0
        self.at_risk_gz_bytes = 0
        self.just_rotated: str | None = None  # the writer has not reopened yet
        self.daemon = DaemonState()
        self.ckpt = self.daemon.copy()
        self.do_pass()  # the daemon starts before anything is written
        self.ckpt = self.daemon.copy()

    # ----------------------------------------------------------------------------------- the model FS
    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def new_file(self) -> MFile:
        if self.free:
            ino = min(self.free)
            self.free.remove(ino)
        else:
            ino, self.next_ino = self.next_ino, self.next_ino + 1
        self.next_gen += 1
        return MFile(ino, self.next_gen, mtime=self.tick())

    def watched(self, path: str) -> bool:
        if path == LIVE:
            return True
        return self.rotated_glob and path.startswith(LIVE) and not path.endswith(".gz") \
            and not path.startswith(OLD + "/")

    def rotated(self) -> list[str]:
        return sorted(p for p in self.paths if p != LIVE)

    def destroy(self, f: MFile, gz: bool = False) -> None:
        """f's content is gone: lines the daemon has not read are lost; read but not checkpointed: at risk."""
        read = next((s.offset // LINE for s in self.daemon.streams.values() if s.gen == f.gen), 0)
        kept = next((s.offset // LINE for s in self.ckpt.streams.values() if s.gen == f.gen), 0)
        lost = f.lines[read:]
        self.lost.update(lost)
        risky = f.lines[kept:read] if kept < read else []
        self.at_risk.update(risky)
        if gz:
            self.lost_gz_bytes += LINE * len(lost)
            self.at_risk_gz_bytes += LINE * len(risky)

    def remove(self, path: str) -> MFile:
        f = self.paths.pop(path)
        self.free.append(f.ino)
        return f

    # ------------------------------------------------------------------------------------ the writer
    def write(self, n: int) -> None:
        f = self.paths.get(LIVE)
        if f is None:
            f = self.paths[LIVE] = self.new_file()
        ids = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        f.lines += ids
        f.mtime = self.tick()
        self.written.update(ids)

    def late_write(self) -> None:
        """The writer appends once more to the file just renamed away (it reopens at the next pass)."""
        f = self.paths.get(self.just_rotated)
        if f is not None and not f.gz:
            i = self.next_id
            self.next_id += 1
            f.lines.append(i)
            f.mtime = self.tick()
            self.written.add(i)

    # ------------------------------------------------------------------------------------ logrotate
    def rotate(self, dateext: bool) -> None:
        if LIVE not in self.paths:
            return
        if dateext:
            target = f"{LIVE}-{self.tick():08d}"
        else:
            n = self.rotate_count
            if f"{LIVE}.{n}" in self.paths:
                self.destroy(self.remove(f"{LIVE}.{n}"))
            for i in range(n - 1, 0, -1):
                if f"{LIVE}.{i}" in self.paths:
                    self.paths[f"{LIVE}.{i + 1}"] = self.paths.pop(f"{LIVE}.{i}")
            target = f"{LIVE}.1"
        self.paths[target] = self.paths.pop(LIVE)
        self.paths[LIVE] = self.new_file()  # create
        self.just_rotated = target

    def handle_rotated(self, pick: int, how: str) -> None:
        names = [p for p in self.rotated() if not p.endswith((".gz", ".backup"))]
        if not names:
            return
        path = names[pick % len(names)]
        if how == "backup" and path + ".backup" not in self.paths:
            self.paths[path + ".backup"] = self.paths.pop(path)
        elif how == "olddir" and not path.startswith(OLD) and f"{OLD}/{path.rsplit('/', 1)[1]}" not in self.paths:
            self.paths[f"{OLD}/{path.rsplit('/', 1)[1]}"] = self.paths.pop(path)
        elif how == "gzip" and path + ".gz" not in self.paths:
            f = self.remove(path)
            gz = self.new_file()
            gz.gz, gz.usize, gz.mtime, gz.lines, gz.uhead = True, len(f.lines) * LINE, f.mtime, [], f.data()[:FP_BYTES]
            self.paths[path + ".gz"] = gz
            self.destroy(f, gz=True)
        elif how == "delete":
            self.destroy(self.remove(path))
        if self.just_rotated == path:
            self.just_rotated = None

    def truncate(self) -> None:
        f = self.paths.get(LIVE)
        if f is not None and f.lines:
            self.destroy(f)
            self.next_gen += 1
            f.gen, f.lines, f.mtime = self.next_gen, [], self.tick()

    # ------------------------------------------------------------------------------------ the daemon
    def observe(self) -> dict[str, Seen]:
        seen = {}
        for path, f in self.paths.items():
            data = f.data()
            head = b"\x1f\x8b" + bytes(8) if f.gz else data[:FP_BYTES]
            size = 20 + (f.usize or 0) // 4 if f.gz else len(data)
            seen[path] = Seen(path, 1, f.ino, size, f.mtime, head, f.gz, f.usize, f.uhead if f.gz else None)
        return seen

    def do_pass(self) -> None:
        d = self.daemon
        listing = self.tick()
        seen = self.observe()
        known = [Known(s.key, s.path, s.origin, 1, s.ino, s.fp, s.fp_len, s.offset, s.size, s.retired)
                 for s in d.streams.values()]
        origins = {LIVE} | {s.origin for s in d.streams.values()}
        plan = reconcile(known, seen, d.since, self.watched, origins, [DIR, OLD])
        for key, s, _copy in plan.resume:
            self.follow(d.streams[key], s)
        for key, _copy, _lost in plan.truncated:
            del d.streams[key]
        for key, reason, nbytes in plan.lost:
            del d.streams[key]
            if reason == "compressed_before_read":
                d.dropped += nbytes
        for key, s in plan.moved:
            d.streams[key].path = s.path
        for key in plan.forget:
            del d.streams[key]
        for s, origin in plan.remember:
            st = self.new_stream(s, origin, retired=not self.watched(s.path))
            st.offset = s.size
        for s, origin, _reason in plan.adopt:
            self.follow(self.new_stream(s, origin, retired=False), s)
        for _s, reason, nbytes in plan.unrecoverable:
            assert reason == "compressed_before_read"
            d.dropped += nbytes
        d.since = listing
        self.just_rotated = None  # the writer reopened

    def new_stream(self, s: Seen, origin: str, retired: bool) -> Stream:
        d = self.daemon
        key = f"f{d.next_key}"
        d.next_key += 1
        st = d.streams[key] = Stream(key, s.path, origin, s.ino, "", 0, 0, s.size, self.paths[s.path].gen,
                                     retired)
        st.fp, st.fp_len = fingerprint(s.head[:FP_BYTES]), len(s.head[:FP_BYTES])
        return st

    def follow(self, stream: Stream, s: Seen) -> None:
        """Read the stream where the core says it is now, from its offset to the end."""
        f = self.paths[s.path]
        assert not f.gz
        if stream.gen != f.gen:
            # the core resumed a stream on other content: fine only if it is a copy with the same lines so far
            raise AssertionError(f"stream {stream.key} (content {stream.gen}) resumed on {s.path} "
                                 f"(content {f.gen})")
        stream.path, stream.ino = s.path, s.ino
        self.daemon.counted.update(f.lines[stream.offset // LINE:])
        stream.offset = stream.size = len(f.lines) * LINE
        head = f.data()[:FP_BYTES]
        stream.fp, stream.fp_len = fingerprint(head), len(head)

    def retire(self) -> None:
        """Rotated files idle past their grace period are let go (after being read to their end)."""
        for s in self.daemon.streams.values():
            f = self.paths.get(s.path)
            if not s.retired and not self.watched(s.path) and f is not None and f.gen == s.gen \
                    and s.offset == len(f.lines) * LINE:
                s.retired = True

    def checkpoint(self) -> None:
        self.ckpt = self.daemon.copy()
        self.at_risk.clear()
        self.at_risk_gz_bytes = 0

    def crash(self) -> None:
        self.daemon = self.ckpt.copy()
        self.lost |= self.at_risk
        self.lost_gz_bytes += self.at_risk_gz_bytes
        self.at_risk.clear()
        self.at_risk_gz_bytes = 0

    # ------------------------------------------------------------------------------------- the check
    def never_twice(self) -> None:
        twice = {i: n for i, n in self.daemon.counted.items() if n > 1}
        assert not twice, f"counted more than once: {twice}"

    def finish(self) -> None:
        """A final pass, then the invariant: every line written is counted exactly once, except the lines the
        model proves unrecoverable, which are counted zero times; the bytes lost to compression are reported."""
        self.do_pass()
        counted = self.daemon.counted
        self.never_twice()
        missing = sorted(i for i in self.written - self.lost if counted[i] != 1)
        assert not missing, f"never counted: {missing}"
        resurrected = sorted(i for i in self.lost if counted[i])
        assert not resurrected, f"lost lines counted: {resurrected}"
        assert self.daemon.dropped == self.lost_gz_bytes, f"dropped {self.daemon.dropped}, lost to gzip {self.lost_gz_bytes}"


# ------------------------------------------------------------------------------------------ Hypothesis
class CoreModel(RuleBasedStateMachine):
    """The World stepped by Hypothesis: slower per step than `run_scenario` (its choice sequences, spans and
    rule selection cost about 0.4 ms a step, 40 times the model and the core), but it shrinks a failure."""

    @initialize(rotate=st.integers(1, 50), rotated_glob=st.booleans())
    def setup(self, rotate: int, rotated_glob: bool) -> None:
        self.w = World(rotate, rotated_glob)

    @rule(n=st.integers(1, 6))
    def write(self, n: int) -> None:
        self.w.write(n)

    @rule()
    def late_write(self) -> None:
        self.w.late_write()

    @rule(dateext=st.booleans())
    def rotate(self, dateext: bool) -> None:
        self.w.rotate(dateext)

    @rule(pick=st.integers(0, 1000), how=st.sampled_from(HOW))
    def handle_rotated(self, pick: int, how: str) -> None:
        self.w.handle_rotated(pick, how)

    @rule()
    def truncate(self) -> None:
        self.w.truncate()

    @rule()
    def do_pass(self) -> None:
        self.w.do_pass()

    @rule()
    def retire(self) -> None:
        self.w.retire()

    @rule()
    def checkpoint(self) -> None:
        self.w.checkpoint()

    @rule()
    def crash(self) -> None:
        self.w.crash()

    @invariant()
    def never_twice(self) -> None:
        if hasattr(self, "w"):
            self.w.never_twice()

    def teardown(self) -> None:
        if hasattr(self, "w"):
            self.w.finish()


CoreModel.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None, database=None,
                                       suppress_health_check=[HealthCheck.too_slow])
test_core_against_model = CoreModel.TestCase


class CoreModelLong(CoreModel):
    """The same, 20x the scenarios and longer ones (`-m slow`)."""


CoreModelLong.TestCase.settings = settings(max_examples=3000, stateful_step_count=120, deadline=None,
                                           database=None, suppress_health_check=[HealthCheck.too_slow])
test_core_against_model_long = pytest.mark.slow(CoreModelLong.TestCase)


# ------------------------------------------------------------------------------- the seeded random driver
def run_scenario(seed: int, max_steps: int = 60) -> int:
    """One scenario of the World, its steps drawn by random.Random(seed) from the same rules as CoreModel (a
    failure names its seed: rerun it with `run_scenario(seed)`). Returns the number of steps."""
    rng = random.Random(seed)
    w = World(rng.choice((1, 2, 3, rng.randint(1, 50))), rng.random() < 0.5)  # short chains overflow more often
    steps = rng.randint(1, max_steps)
    for _ in range(steps):
        r = rng.random()
        if r < 0.25:
            w.write(rng.randint(1, 6))
        elif r < 0.30:
            w.late_write()
        elif r < 0.42:
            w.rotate(rng.random() < 0.3)
        elif r < 0.52:
            w.handle_rotated(rng.randint(0, 1000), rng.choice(HOW))
        elif r < 0.57:
            w.truncate()
        elif r < 0.77:
            w.do_pass()
        elif r < 0.85:
            w.retire()
        elif r < 0.93:
            w.checkpoint()
        else:
            w.crash()
        w.never_twice()
    w.finish()
    return steps


def run_scenarios(first_seed: int, count: int, max_steps: int = 60) -> None:
    for seed in range(first_seed, first_seed + count):
        try:
            run_scenario(seed, max_steps)
        except AssertionError as exc:
            raise AssertionError(f"scenario seed {seed} (max_steps {max_steps}): {exc}") from exc


def test_core_against_model_random() -> None:
    """3,000 seeded scenarios (a few seconds): fixed seeds, so a failure is reproducible."""
    run_scenarios(1, 3000)


@pytest.mark.slow
def test_core_against_model_random_long() -> None:
    run_scenarios(100_000, 100_000, max_steps=150)


if __name__ == "__main__":  # scenarios/s of both drivers: python tests/test_tail_core.py
    import time

    t0 = time.perf_counter()
    steps = sum(run_scenario(seed) for seed in range(1, 3001))
    dt = time.perf_counter() - t0
    print(f"random driver: 3000 scenarios ({steps} steps) in {dt:.2f} s: {3000 / dt:,.0f} scenarios/s")
    from hypothesis.stateful import run_state_machine_as_test

    t0 = time.perf_counter()
    run_state_machine_as_test(CoreModel, settings=CoreModel.TestCase.settings)
    dt = time.perf_counter() - t0
    print(f"hypothesis: 150 scenarios in {dt:.2f} s: {150 / dt:,.0f} scenarios/s")
