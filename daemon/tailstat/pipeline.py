"""Parse-pool runner: batches from the bounded queue go to the executor, results merge in submission order.

Merging in submission order keeps each file's offsets monotonic, so the committed offset is always the end of
a prefix of that file's bytes. A process pool that breaks (a worker died) is replaced and the batch retried
once; a batch that fails twice is counted as failed lines, never retried forever and never a hang.
"""

from __future__ import annotations

import asyncio
import operator
import time
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import structlog

from tailstat.aggregate import Store
from tailstat.formats import ParserSpec, timed_parse
from tailstat.partial import Partial
from tailstat.tail import Batch

WARN_INTERVAL = 10.0  # seconds between parse-error warnings: a bad file must not flood the journal


def parse_group(spec: ParserSpec, datas: list[bytes], keys: list[str] | None = None,
                ) -> tuple[Partial, list[tuple[int, int, int]], float]:
    """One executor call for several batches of one format (many files with a few new lines each, or in process
    mode several batches of one busy file): one partial for all of them, plus each batch's (lines, bytes,
    parsed) for its file's record. `keys` names each batch's file (default: every batch its own file).

    The batches are complete lines, so they are parsed as one buffer (per-call costs paid once). Only when that
    buffer has unparseable lines are the runs of one file's batches parsed one by one, to charge each file its
    own errors; within a run they are charged to its last batch (all of a group's commits are merged at once,
    so a file's record only ever shows the run's total)."""
    started = time.perf_counter()
    if len(datas) == 1:
        partial, _ = timed_parse(spec, datas[0])
        return partial, [(partial.lines, partial.bytes, partial.parsed)], time.perf_counter() - started
    partial, _ = timed_parse(spec, b"".join(datas))
    items = [(n, len(d), n) for d, n in zip(datas, map(operator.methodcaller("count", b"\n"), datas))]
    if partial.parsed == partial.lines:
        return partial, items, time.perf_counter() - started
    runs = _runs(keys if keys is not None else list(range(len(datas))))
    if len(runs) == 1:
        _charge_errors(items, len(datas) - 1, partial.lines - partial.parsed)
        return partial, items, time.perf_counter() - started
    total: Partial | None = None
    for first, stop in runs:
        one, _ = timed_parse(spec, b"".join(datas[first:stop]))
        _charge_errors(items, stop - 1, one.lines - one.parsed)
        if total is None:
            total = one
        else:
            total.absorb(one)
    assert total is not None
    return total, items, time.perf_counter() - started


def _runs(keys: list) -> list[tuple[int, int]]:
    """[first, stop) index ranges of consecutive equal keys."""
    runs, first = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[first]:
            runs.append((first, i))
            first = i
    return runs


def _charge_errors(items: list[tuple[int, int, int]], index: int, errors: int) -> None:
    lines, nbytes, _ = items[index]
    items[index] = (lines, nbytes, lines - errors)


def parse_group_compact(spec: ParserSpec, datas: list[bytes], keys: list[str], capacity: int,
                        ) -> tuple[Partial, list[tuple[int, int, int]], float]:
    """parse_group in a worker process: the partial goes back compacted (a Counter per dimension, a sketch past
    `capacity` values), so what crosses the pipe and what the main process merges grows with the distinct
    values of the group, not its lines."""
    partial, items, seconds = parse_group(spec, datas, keys)
    return partial.compact(capacity), items, seconds


# In process mode up to this many batches of one format go to a worker as one group (when that much is waiting):
# its compacted partial then costs the main process about 140-160 ns a line to merge instead of 400 (measured with
# parse_batch partials of bench/data's combined log; `python -m bench.run_cores --daemon` shows the effect).
PROCESS_GROUP_BATCHES = 4


def group_bytes(kind: str, batch_bytes: int) -> int:
    """How many bytes of consecutive batches become one executor call (see group_batches)."""
    return batch_bytes * (PROCESS_GROUP_BATCHES if kind == "process" else 1)


def group_batches(batches: list[Batch], group_bytes: int) -> list[list[Batch]]:
    """Consecutive batches of one format, up to group_bytes together, become one executor call: many files
    with a few new lines each cost one call, not one per file. Order is kept."""
    groups: list[list[Batch]] = []
    size = 0
    for batch in batches:
        last = groups[-1] if groups else None
        if last is not None and size + len(batch.data) <= group_bytes and (
                batch.spec is last[0].spec or batch.spec == last[0].spec):
            last.append(batch)
            size += len(batch.data)
        else:
            groups.append([batch])
            size = len(batch.data)
    return groups


def make_executor(kind: str, workers: int) -> Executor:
    if kind == "process":
        import multiprocessing

        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tailstat-parse")


class ParsePool:
    def __init__(self, kind: str, workers: int, store: Store, capacity: int = 10000) -> None:
        self.kind = kind
        self.workers = workers
        self.store = store
        self.capacity = capacity  # process mode: workers compact their partials to this (TAILSTAT_TOPK_CAPACITY)
        self.executor = make_executor(kind, workers)
        self.inflight: asyncio.Queue[tuple[Batch, asyncio.Future] | None] = asyncio.Queue(maxsize=workers * 2)
        self.parse_seconds = 0.0
        self.batches = 0
        self.failed_batches = 0
        self._last_warning = -WARN_INTERVAL
        self._unwarned = 0
        self.log = structlog.get_logger("tailstat.pipeline")

    async def submit_from(self, queue: asyncio.Queue[list[Batch] | None]) -> None:
        """Take groups of batches (see group_batches) until the None sentinel, one executor call each; hand the
        futures to the merger in order."""
        loop = asyncio.get_running_loop()
        while True:
            group = await queue.get()
            if group is None:
                await self.inflight.put(None)
                return
            await self.inflight.put((group, self._submit(loop, group)))

    def _submit(self, loop: asyncio.AbstractEventLoop, group: list[Batch]) -> asyncio.Future:
        try:
            datas, keys = [b.data for b in group], [b.key for b in group]
            if self.kind == "process":
                return loop.run_in_executor(self.executor, parse_group_compact, group[0].spec, datas, keys,
                                            self.capacity)
            return loop.run_in_executor(self.executor, parse_group, group[0].spec, datas, keys)
        except (BrokenProcessPool, RuntimeError) as exc:
            fut = loop.create_future()
            fut.set_exception(BrokenProcessPool(str(exc)))
            return fut

    async def merge_results(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self.inflight.get()
            if item is None:
                return
            group, fut = item
            try:
                partial, items, seconds = await fut
            except Exception as exc:  # noqa: BLE001 - a batch must never take the daemon down
                partial, items, seconds = await self._retry(loop, group, exc)
            self.parse_seconds += seconds
            self.batches += len(group)
            commits = [(b.key, b.end, lines, nbytes, lines - parsed) for b, (lines, nbytes, parsed) in zip(group, items)]
            self.store.merge(partial, commits=commits, cut_bytes=sum(b.cut for b in group))
            if partial.lines != partial.parsed:
                self._warn_parse_errors(group[0], partial)

    def _warn_parse_errors(self, batch: Batch, partial: Partial) -> None:
        """One warning per WARN_INTERVAL at most, with the count since the last one and a sample line."""
        self._unwarned += partial.lines - partial.parsed
        now = time.monotonic()
        if now - self._last_warning < WARN_INTERVAL:
            return
        self.log.warning("parse_errors", key=batch.key, format=batch.spec.format, count=self._unwarned,
                         reasons=dict(partial.errors), sample=partial.samples[0] if partial.samples else None)
        self._last_warning, self._unwarned = now, 0

    async def _retry(self, loop: asyncio.AbstractEventLoop, group: list[Batch],
                     exc: Exception) -> tuple[Partial, list[tuple[int, int, int]], float]:
        """A failed call is retried batch by batch (on a fresh pool if a worker died), so a batch that fails
        again is counted as failed on its own, not with the rest of its group."""
        where = [(b.key, b.start, b.end) for b in group]
        self.log.warning("batch_failed", batches=where, error=f"{type(exc).__name__}: {exc}", action="retry")
        if isinstance(exc, BrokenProcessPool):
            self._replace_executor()
        total: Partial | None = None
        items: list[tuple[int, int, int]] = []
        seconds = 0.0
        for batch in group:
            try:
                partial, (item,), took = await self._submit(loop, [batch])
            except Exception as again:  # noqa: BLE001
                if isinstance(again, BrokenProcessPool):
                    self._replace_executor()
                self.failed_batches += 1
                lines = batch.data.count(b"\n")
                self.log.error("batch_failed", batches=[(batch.key, batch.start, batch.end)], lines=lines,
                               error=f"{type(again).__name__}: {again}", action="counted_as_failed")
                partial = Partial(lines=lines, bytes=len(batch.data), errors=Counter({"parse_failed": lines}))
                item, took = (lines, len(batch.data), 0), 0.0
            items.append(item)
            seconds += took
            if total is None:
                total = partial
            else:
                total.absorb(partial)
        assert total is not None
        return total, items, seconds

    def _replace_executor(self) -> None:
        old = self.executor
        if isinstance(old, ProcessPoolExecutor) and getattr(old, "_broken", False) is False:
            return  # already replaced by an earlier failure of the same breakage
        self.log.warning("worker_pool_replaced", kind=self.kind, workers=self.workers)
        self.executor = make_executor(self.kind, self.workers)
        old.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)

    def abandon(self) -> None:
        """Past the shutdown deadline: cancel what is queued and stop worker processes mid-batch (a thread
        cannot be stopped; the CLI leaves with os._exit so it is not waited for)."""
        executor = self.executor
        if isinstance(executor, ProcessPoolExecutor):
            for process in list((getattr(executor, "_processes", None) or {}).values()):
                process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
