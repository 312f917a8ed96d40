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


def parse_group(spec: ParserSpec, datas: list[bytes]) -> tuple[Partial, list[tuple[int, int, int]], float]:
    """One executor call for several small batches of one format (e.g. many files with a few new lines each):
    one partial for all of them, plus each batch's (lines, bytes, parsed) for its file's record.

    The batches are complete lines, so they are parsed as one buffer (per-call costs paid once); only when
    that buffer has unparseable lines are the batches parsed one by one, to charge each file its own errors."""
    started = time.perf_counter()
    if len(datas) == 1:
        partial, _ = timed_parse(spec, datas[0])
        return partial, [(partial.lines, partial.bytes, partial.parsed)], time.perf_counter() - started
    partial, _ = timed_parse(spec, b"".join(datas))
    if partial.parsed == partial.lines:
        items = [(n, len(d), n) for d, n in zip(datas, map(operator.methodcaller("count", b"\n"), datas))]
        return partial, items, time.perf_counter() - started
    total: Partial | None = None
    items = []
    for data in datas:
        one, _ = timed_parse(spec, data)
        items.append((one.lines, one.bytes, one.parsed))
        if total is None:
            total = one
        else:
            total.absorb(one)
    assert total is not None
    return total, items, time.perf_counter() - started


def parse_group_compact(spec: ParserSpec, datas: list[bytes], capacity: int,
                        ) -> tuple[Partial, list[tuple[int, int, int]], float]:
    """parse_group in a worker process: the partial goes back compacted (a Counter per dimension, a sketch past
    `capacity` values), so what crosses the pipe and what the main process merges grows with the distinct
    values of the group, not its lines."""
    partial, items, seconds = parse_group(spec, datas)
    return partial.compact(capacity), items, seconds


# In process mode up to this many batches of one format go to a worker as one group (when that much is waiting):
# its compacted partial then costs the main process about 160 ns a line to merge instead of 400 (bench/README).
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
            datas = [b.data for b in group]
            if self.kind == "process":
                return loop.run_in_executor(self.executor, parse_group_compact, group[0].spec, datas, self.capacity)
            return loop.run_in_executor(self.executor, parse_group, group[0].spec, datas)
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
            self.store.merge(partial, commits=commits)
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
        where = [(b.key, b.start, b.end) for b in group]
        self.log.warning("batch_failed", batches=where, error=f"{type(exc).__name__}: {exc}", action="retry")
        if isinstance(exc, BrokenProcessPool):
            self._replace_executor()
        try:
            return await self._submit(loop, group)
        except Exception as again:  # noqa: BLE001
            if isinstance(again, BrokenProcessPool):
                self._replace_executor()
            self.failed_batches += len(group)
            items = [(b.data.count(b"\n"), len(b.data), 0) for b in group]
            lines = sum(n for n, _, _ in items)
            self.log.error("batch_failed", batches=where, lines=lines, error=f"{type(again).__name__}: {again}",
                           action="counted_as_failed")
            failed = Partial(lines=lines, bytes=sum(b for _, b, _ in items), errors=Counter({"parse_failed": lines}))
            return failed, items, 0.0

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
