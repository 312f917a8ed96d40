"""Parse-pool runner: batches from the bounded queue go to the executor, results merge in submission order.

Merging in submission order keeps each file's offsets monotonic, so the committed offset is always the end of
a prefix of that file's bytes. A process pool that breaks (a worker died) is replaced and the batch retried
once; a batch that fails twice is counted as failed lines, never retried forever and never a hang.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import structlog

from tailstat.aggregate import Store
from tailstat.formats import ParserSpec, parse_batch
from tailstat.partial import Partial
from tailstat.tail import UNKNOWN_FORMAT, Batch

WARN_INTERVAL = 10.0  # seconds between parse-error warnings: a bad file must not flood the journal


def timed_parse(spec: ParserSpec, data: bytes) -> tuple[Partial, float]:
    started = time.perf_counter()
    if spec.format == UNKNOWN_FORMAT:
        lines = data.count(b"\n")
        partial = Partial(lines=lines, bytes=len(data), errors=Counter({"format_unknown": lines}))
    else:
        partial = parse_batch(spec, data)
    return partial, time.perf_counter() - started


def make_executor(kind: str, workers: int) -> Executor:
    if kind == "process":
        import multiprocessing

        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tailstat-parse")


class ParsePool:
    def __init__(self, kind: str, workers: int, store: Store) -> None:
        self.kind = kind
        self.workers = workers
        self.store = store
        self.executor = make_executor(kind, workers)
        self.inflight: asyncio.Queue[tuple[Batch, asyncio.Future] | None] = asyncio.Queue(maxsize=workers * 2)
        self.parse_seconds = 0.0
        self.batches = 0
        self.failed_batches = 0
        self._last_warning = -WARN_INTERVAL
        self._unwarned = 0
        self.log = structlog.get_logger("tailstat.pipeline")

    async def submit_from(self, queue: asyncio.Queue[Batch | None]) -> None:
        """Take batches until the None sentinel, submit each, hand the futures to the merger in order."""
        loop = asyncio.get_running_loop()
        while True:
            batch = await queue.get()
            if batch is None:
                await self.inflight.put(None)
                return
            fut = self._submit(loop, batch)
            await self.inflight.put((batch, fut))

    def _submit(self, loop: asyncio.AbstractEventLoop, batch: Batch) -> asyncio.Future:
        try:
            return loop.run_in_executor(self.executor, timed_parse, batch.spec, batch.data)
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
            batch, fut = item
            try:
                partial, seconds = await fut
            except Exception as exc:  # noqa: BLE001 - a batch must never take the daemon down
                partial, seconds = await self._retry(loop, batch, exc)
            self.parse_seconds += seconds
            self.batches += 1
            self.store.merge(partial, batch.key, batch.end)
            if partial.lines != partial.parsed:
                self._warn_parse_errors(batch, partial)

    def _warn_parse_errors(self, batch: Batch, partial: Partial) -> None:
        """One warning per WARN_INTERVAL at most, with the count since the last one and a sample line."""
        self._unwarned += partial.lines - partial.parsed
        now = time.monotonic()
        if now - self._last_warning < WARN_INTERVAL:
            return
        self.log.warning("parse_errors", key=batch.key, format=batch.spec.format, count=self._unwarned,
                         reasons=dict(partial.errors), sample=partial.samples[0] if partial.samples else None)
        self._last_warning, self._unwarned = now, 0

    async def _retry(self, loop: asyncio.AbstractEventLoop, batch: Batch, exc: Exception) -> tuple[Partial, float]:
        self.log.warning("batch_failed", key=batch.key, start=batch.start, end=batch.end,
                         error=f"{type(exc).__name__}: {exc}", action="retry")
        if isinstance(exc, BrokenProcessPool):
            self._replace_executor()
        try:
            return await self._submit(loop, batch)
        except Exception as again:  # noqa: BLE001
            if isinstance(again, BrokenProcessPool):
                self._replace_executor()
            self.failed_batches += 1
            lines = batch.data.count(b"\n")
            self.log.error("batch_failed", key=batch.key, start=batch.start, end=batch.end, lines=lines,
                           error=f"{type(again).__name__}: {again}", action="counted_as_failed")
            return Partial(lines=lines, bytes=len(batch.data), errors=Counter({"parse_failed": lines})), 0.0

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
