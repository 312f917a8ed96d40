"""Property: the Tailer counts every complete line exactly once, whatever happens to the files.

The Tailer runs in-process on real files: its batches go through `parse_batch` and `Store.merge` as in the
daemon; a checkpoint is `export_state()`; a crash drops the batches not merged yet and resumes a new Store and
Tailer from the last checkpoint. Each line carries a unique id and the store groups by it, so the test sees
exactly how often each line was counted.

The model decides which lines are unrecoverable, and the test demands that exactly those are missing:
- truncating or deleting a file loses the lines the tailer had not read yet, unless it holds the deleted
  file's descriptor (it does for every file it saw at its last pass, an empty one too) -- then they are drained;
- a crash loses the lines that neither the checkpoint counted nor any file on disk still holds.
Every other complete line must be counted exactly once. A copytruncate here is atomic (logrotate's own
window between copy and truncate is measured by the daemon-level test instead), so it loses nothing.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tailstat.aggregate import Store
from tailstat.config import load_config
from tailstat.formats import parse_batch
from tailstat.tail import Batch, Tailer

MAX_ROTATED = 3
ID_END = len('{"id":"000000"')  # a partial line always holds its id, so heads of different files differ


def line(i: int) -> bytes:
    return b'{"id":"%06d","p":"%s"}\n' % (i, b"x" * (i * 7 % 23))


@dataclass
class File:
    path: str | None  # None once deleted
    ids: list[int] = field(default_factory=list)  # complete lines, in order
    seen: bool = False  # there at the tailer's last pass (empty or not): it holds a descriptor
    renamed: bool = False  # a rotated file the writer may still append to


class Harness:
    def __init__(self, root: Path) -> None:
        self.dir = root / "logs"
        self.dir.mkdir()
        self.live = str(self.dir / "app.log")
        self.cfg = load_config({
            "TAILSTAT_PATHS": f"{self.dir}/app.log*", "TAILSTAT_FORMAT": "json", "TAILSTAT_GROUP_BY": "id",
            "TAILSTAT_READ_FROM": "beginning", "TAILSTAT_ROTATED_GRACE": "3600", "TAILSTAT_BATCH_BYTES": "4096",
            "TAILSTAT_MAX_OPEN_FILES": "64", "TAILSTAT_STATE_DIR": str(root / "state"),
            "TAILSTAT_HTTP_ADDR": "off"})
        self.files: list[File] = []
        self.current: File | None = None  # at app.log
        self.rotated: list[File] = []  # app.log.1, app.log.2, ...
        self.partial: tuple[File, int, bytes] | None = None  # file, id, bytes still to write
        self.next_id = 1
        self.completed: set[int] = set()
        self.read: set[int] = set()  # the tailer has consumed these (queued or merged)
        self.lost: set[int] = set()
        self.draining: list[File] = []  # deleted while the tailer held their descriptor
        self.touched: set[str] = set()  # what watchfiles would report
        self.checkpoint: tuple[dict, set[int]] | None = None
        self.inflight: list[Batch] = []
        self.start(None)

    # --------------------------------------------------------------------------------- the tailer side
    def start(self, state: dict | None) -> None:
        self.store = Store(topk_capacity=100_000)
        if state is not None:
            self.store.load_state(orjson.loads(orjson.dumps(state)))
        self.tailer = Tailer(self.cfg, self.store, first_start=state is None)
        out: list[Batch] = []
        left = self.tailer.restore(out)
        self.drive(left, out)
        self.inflight = out
        self.after_pass()

    def drive(self, dirty: list[str], out: list[Batch]) -> None:
        for _ in range(1000):
            if not dirty:
                return
            dirty = self.tailer.cycle(dirty, out, 1 << 16)
        raise AssertionError("the tailer never caught up")

    def sync(self, merge_fraction: float) -> None:
        out: list[Batch] = []
        dirty = list(self.touched)
        dirty += [p for p in self.tailer.rescan(out) if p not in self.touched]
        self.drive(dirty, out)
        self.touched.clear()
        self.inflight += out
        self.merge(int(len(self.inflight) * merge_fraction))
        self.after_pass()

    def merge(self, n: int) -> None:
        for b in self.inflight[:n]:
            self.store.merge(parse_batch(b.spec, b.data), b.key, b.end)
        del self.inflight[:n]

    def after_pass(self) -> None:
        """The tailer has now read every complete line on disk and drained every deleted file it held."""
        for f in self.on_disk() + self.draining:
            self.read.update(f.ids)
        self.draining.clear()
        for f in self.on_disk():
            f.seen = True

    def take_checkpoint(self) -> None:
        state = self.store.export_state()
        counted = {int(k) for k, n in state["topk"].get("id", {"counts": {}})["counts"].items() if n}
        self.checkpoint = (state, counted)

    def crash(self) -> None:
        state, counted = self.checkpoint or (None, set())
        self.tailer.close_all()
        on_disk = {i for f in self.on_disk() for i in f.ids}
        self.lost |= self.completed - counted - on_disk
        self.draining.clear()
        self.read = set(counted)
        self.start(state)

    # --------------------------------------------------------------------------------- the writer side
    def on_disk(self) -> list[File]:
        return [f for f in self.files if f.path is not None]

    def write(self, f: File, data: bytes) -> None:
        with open(f.path, "ab") as fh:
            fh.write(data)
        self.touched.add(f.path)

    def finish_partial(self) -> None:
        if self.partial is not None:
            f, i, rest = self.partial
            self.partial = None
            if f.path is not None:
                self.write(f, rest)
                f.ids.append(i)
                self.completed.add(i)

    def ensure_current(self) -> File:
        if self.current is None:
            self.current = File(self.live)
            self.files.append(self.current)
            Path(self.live).touch()
            self.touched.add(self.live)
        return self.current

    def append(self, n: int) -> None:
        self.finish_partial()
        f = self.ensure_current()
        ids = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        self.write(f, b"".join(map(line, ids)))
        f.ids += ids
        self.completed.update(ids)

    def start_partial(self, cut: int) -> None:
        self.finish_partial()
        f = self.ensure_current()
        i = self.next_id
        self.next_id += 1
        data = line(i)
        cut = ID_END + cut % (len(data) - ID_END)
        self.write(f, data[:cut])
        self.partial = (f, i, data[cut:])

    def late(self) -> None:
        """The writer has not reopened yet: one more line into the file just renamed away."""
        if self.rotated and self.rotated[0].renamed:
            self.finish_partial()
            i = self.next_id
            self.next_id += 1
            self.write(self.rotated[0], line(i))
            self.rotated[0].ids.append(i)
            self.completed.add(i)

    def shift(self) -> None:
        """Make room for a new app.log.1: the oldest goes away (deleted or compressed), the rest move up."""
        if len(self.rotated) == MAX_ROTATED:
            self.remove(self.rotated[-1], compress=len(self.completed) % 2 == 0)
        for n in range(len(self.rotated), 0, -1):
            f = self.rotated[n - 1]
            new = f"{self.live}.{n + 1}"
            os.rename(f.path, new)
            self.touched.update((f.path, new))
            f.path = new

    def rotate(self) -> None:
        self.finish_partial()
        if self.current is None:
            return
        self.shift()
        f = self.current
        os.rename(self.live, f"{self.live}.1")
        f.path, f.renamed = f"{self.live}.1", True
        self.touched.update((self.live, f.path))
        self.rotated.insert(0, f)
        self.current = None
        self.ensure_current()

    def copytruncate(self) -> None:
        self.finish_partial()
        if self.current is None:
            return
        self.shift()
        copy = File(f"{self.live}.1", ids=list(self.current.ids))
        shutil.copyfile(self.live, copy.path)
        os.truncate(self.live, 0)
        self.current.ids = []
        self.files.append(copy)
        self.rotated.insert(0, copy)
        self.touched.update((self.live, copy.path))

    def truncate(self) -> None:
        self.finish_partial()
        if self.current is not None:
            self.lost.update(i for i in self.current.ids if i not in self.read)
            os.truncate(self.live, 0)
            self.current.ids = []
            self.touched.add(self.live)

    def remove(self, f: File, compress: bool = False) -> None:
        if compress:  # what logrotate's `compress` does: a .gz appears, the text file goes
            Path(f"{f.path}.gz").write_bytes(gzip.compress(Path(f.path).read_bytes()))
        os.unlink(f.path)
        self.touched.add(f.path)
        f.path = None
        if f.seen:
            self.draining.append(f)
        else:
            self.lost.update(i for i in f.ids if i not in self.read)
        if f in self.rotated:
            self.rotated.remove(f)

    def delete(self) -> None:
        self.finish_partial()
        if self.current is not None:
            self.remove(self.current)
            self.current = None

    # ------------------------------------------------------------------------------------------ check
    def finish(self) -> None:
        self.finish_partial()
        self.sync(1.0)
        self.sync(1.0)
        counts = {int(k): n for k, n in self.store.export_state()["topk"].get("id", {"counts": {}})["counts"]
                  .items()}
        twice = {i: n for i, n in counts.items() if n > 1}
        assert not twice, f"counted more than once: {twice}"
        unknown = set(counts) - self.completed
        assert not unknown, f"counted but never written: {unknown}"
        missing = self.completed - self.lost - set(counts)
        assert not missing, f"never counted: {sorted(missing)}"
        resurrected = self.lost & set(counts)
        assert not resurrected, f"lost lines counted: {sorted(resurrected)}"
        totals = self.store.snapshot(top=0)["totals"]
        assert totals["lines"] == totals["parsed"] == len(self.completed - self.lost)
        assert self.tailer.open_files <= self.cfg.max_open_files
        for t in self.tailer.by_key.values():  # every tracked file is where the tailer thinks it is
            st = os.stat(t.path)
            assert (st.st_dev, st.st_ino) == (t.dev, t.ino), t


OPS = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 5)),
    st.tuples(st.just("partial"), st.integers(0, 1000)),
    st.tuples(st.just("late"), st.just(0)),
    st.tuples(st.just("rotate"), st.just(0)),
    st.tuples(st.just("copytruncate"), st.just(0)),
    st.tuples(st.just("truncate"), st.just(0)),
    st.tuples(st.just("delete"), st.just(0)),
    st.tuples(st.just("sync"), st.sampled_from([0.0, 0.5, 1.0])),
    st.tuples(st.just("sync"), st.just(1.0)),
    st.tuples(st.just("checkpoint"), st.just(0)),
    st.tuples(st.just("crash"), st.just(0)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=10, max_size=60))
def test_every_complete_line_counted_exactly_once(ops: list[tuple[str, float]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(Path(tmp))
        try:
            for op, arg in ops:
                if op == "append":
                    h.append(int(arg))
                elif op == "partial":
                    h.start_partial(int(arg))
                elif op == "sync":
                    h.sync(float(arg))
                elif op == "checkpoint":
                    h.take_checkpoint()
                else:
                    getattr(h, op)()
            h.finish()
        finally:
            h.tailer.close_all()
