"""Composition root: builds the stages, runs them in one TaskGroup, and shuts them down in order.

    watch -> tail (I/O thread) -> bounded queue -> parse pool -> store (lock) -> snapshot / checkpoint / HTTP

Signals only set the stop event. Shutdown flows downstream under TAILSTAT_SHUTDOWN_TIMEOUT: stop watching,
stop reading, let queued batches parse and merge, join the workers, write the final checkpoint, exit 0.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import structlog

from tailstat import __version__
from tailstat.aggregate import Store
from tailstat.checkpoint import encode, load_into, write_atomic_async
from tailstat.config import Config
from tailstat.globs import missing_directories
from tailstat.http import StartupError, start_http  # imported before the loop runs: aiohttp's import is slow
from tailstat.logsetup import LogSink
from tailstat.notify import Notifier
from tailstat.parse.multiline import may_hold
from tailstat.pipeline import ParsePool, group_batches, group_bytes
from tailstat.tail import Batch, Tailer, pass_budget
from tailstat.watch import Watcher
from tailstat.window import Ring, with_window_slots

RESCAN = "\0rescan"
QUIET = "\0quiet"  # held-back multiline events of quiet writers are due (TAILSTAT_MULTILINE_TIMEOUT)
MISSING_AFTER = 1000  # parsed lines of a source after which a GROUP_BY name none of them had is logged
IDLE_REWRITE = 10.0  # seconds between snapshot rewrites while nothing changes
EXIT_OK, EXIT_TIMEOUT, EXIT_CRASH = 0, 1, 1


class Service:
    def __init__(self, cfg: Config, notifier: Notifier | None = None, log_sink: LogSink | None = None) -> None:
        cfg = self.cfg = with_window_slots(cfg)  # the parse functions tag lines with their window slots
        self.log_sink = log_sink
        self.notifier = notifier or Notifier()
        self.store = Store(cfg.topk_capacity, cfg.event_minutes,
                           Ring(cfg.window_slot, cfg.window_topk, cfg.topk_capacity), patterns_max=cfg.patterns_max)
        for src in cfg.sources:  # GROUP_BY names no line of the source has are reported (log and document)
            self.store.expect_fields(src.name, src.spec.extra_dimensions)
        self._missing_reported: set[tuple[str, str]] = set()
        # groups of batches (one executor call each), each at most TAILSTAT_BATCH_BYTES (4x in process mode)
        self.queue: asyncio.Queue[list[Batch] | None] = asyncio.Queue(maxsize=cfg.queue_batches)
        self.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tailstat-io")
        self.dirty: set[str] = set()
        self.wake = asyncio.Event()
        self.ready = asyncio.Event()
        self.stopping = False
        self.tailer: Tailer | None = None
        self.pool: ParsePool | None = None
        self.watcher: Watcher | None = None
        self.last_checkpoint_ok: bool | None = None
        self._checkpoint_lock = asyncio.Lock()
        self._suspect_timer = False
        self._snapshot_version, self._snapshot_at = -1, 0.0
        self._checkpoint_version = -1
        self.log = structlog.get_logger("tailstat.service")

    # ------------------------------------------------------------------------------------------- wiring
    def mark_dirty(self, paths: set[str]) -> None:
        self.dirty.update(paths)
        self.wake.set()

    async def _enqueue(self, batches: list[Batch]) -> None:
        for group in group_batches(batches, group_bytes(self.cfg.executor, self.cfg.batch_bytes)):
            await self.queue.put(group)  # blocks when parsing lags: backpressure, flat memory

    async def _io(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.io, func, *args)

    async def tail_loop(self) -> None:
        assert self.tailer is not None and self.watcher is not None
        budget = pass_budget(self.cfg)
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.stopping:
                return
            paths = dict.fromkeys(self.dirty)  # ordered, no duplicates
            self.dirty.clear()
            out: list[Batch] = []
            if RESCAN in paths:
                del paths[RESCAN]
                paths.update(dict.fromkeys(await self._io(self.tailer.rescan, out)))
                self.watcher.maybe_rearm()
            if QUIET in paths:
                del paths[QUIET]
                await self._io(self.tailer.flush_quiet, out)
            left = await self._io(self.tailer.cycle, list(paths), out, budget)
            await self._enqueue(out)
            if self.tailer.suspects and not self._suspect_timer:
                self._suspect_timer = True
                asyncio.get_running_loop().call_later(0.5, self._recheck_suspects)
            if left:
                self.dirty.update(left)
                self.wake.set()

    def _recheck_suspects(self) -> None:
        self._suspect_timer = False
        if self.tailer is not None and self.tailer.suspects:
            self.mark_dirty(set(self.tailer.suspects))

    async def periodic(self, interval: float, func: Any) -> None:
        while True:
            await asyncio.sleep(interval)
            await func()

    async def _rescan(self) -> None:
        self.mark_dirty({RESCAN})

    async def _quiet(self) -> None:
        self.mark_dirty({QUIET})

    # ---------------------------------------------------------------------------------------- outputs
    def document(self, **kwargs: Any) -> dict[str, Any]:
        self._refresh_health()  # readers between snapshot writes (HTTP) see current queue depth, open files
        doc = self.store.snapshot(**kwargs)
        doc["daemon"] = {"pid": os.getpid(), "version": __version__, "http": self.cfg.http_addr}
        return doc

    def _refresh_health(self) -> None:
        tailer, pool = self.tailer, self.pool
        self.store.set_health(
            queue_depth=self.queue.qsize(), queue_capacity=self.queue.maxsize,
            open_files=tailer.open_files if tailer else 0,
            tracked_files=len(tailer.by_key) if tailer else 0,
            parse_seconds=pool.parse_seconds if pool else 0.0, batches=pool.batches if pool else 0,
            failed_batches=pool.failed_batches if pool else 0,
            log_lines_dropped=self.log_sink.dropped if self.log_sink else 0,
        )

    async def write_snapshot(self, force: bool = False) -> None:
        """The stats.json snapshot. While nothing changes it is only touched (its mtime says the daemon is
        alive) and rewritten every IDLE_REWRITE seconds for the decaying rates: an idle daemon with
        thousands of files costs almost nothing."""
        version = self.store.version
        now = time.monotonic()
        path = self.cfg.snapshot_file
        try:
            if not force and version == self._snapshot_version and now - self._snapshot_at < IDLE_REWRITE:
                os.utime(path)
                return
            self._refresh_health()
            doc = self.document()
            await write_atomic_async(path, orjson.dumps(doc), durable=False)
            self._snapshot_version, self._snapshot_at = version, now
            self._report_missing(doc.get("group_by_missing", ()))
        except (OSError, TypeError, orjson.JSONEncodeError) as exc:  # a bad value must not stop ingestion
            self.log.warning("snapshot_failed", path=str(path), error=str(exc))

    def _report_missing(self, missing: Any) -> None:
        """Log each TAILSTAT_GROUP_BY name that none of its source's first MISSING_AFTER lines had, once."""
        for m in missing:
            key = (m["source"], m["field"])
            if m["parsed_lines"] >= MISSING_AFTER and key not in self._missing_reported:
                self._missing_reported.add(key)
                self.log.warning("group_by_field_missing", source=m["source"], field=m["field"],
                                 parsed_lines=m["parsed_lines"],
                                 hint="no parsed line of this source has this field: check TAILSTAT_GROUP_BY")

    async def checkpoint(self) -> bool:
        async with self._checkpoint_lock:  # the periodic and the final checkpoint never interleave
            return await self._checkpoint()

    async def _checkpoint(self, force: bool = False) -> bool:
        version = self.store.version
        if not force and version == self._checkpoint_version and self.last_checkpoint_ok:
            return True  # nothing changed since the last good checkpoint
        state = self.store.export_state()
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(None, encode, state)
            await write_atomic_async(self.cfg.state_file, data)
        except (OSError, TypeError, orjson.JSONEncodeError) as exc:
            reason = f"{exc.strerror or exc}: {exc.filename or ''}".strip() if isinstance(exc, OSError) else str(exc)
            self.store.set_checkpoint_status(False, reason)
            if self.last_checkpoint_ok is not False:
                self.log.error("checkpoint_failed", path=str(self.cfg.state_file), error=str(exc),
                               action="keep ingesting, retry every interval")
            self.last_checkpoint_ok = False
            return False
        self.store.set_checkpoint_status(True)
        self._checkpoint_version = version
        if self.last_checkpoint_ok is False:
            self.log.info("checkpoint_recovered", path=str(self.cfg.state_file))
        self.last_checkpoint_ok = True
        return True

    async def _status(self) -> None:
        b = self.store.brief()
        self.notifier.status(
            f"files={b['files']} lines={b['lines']} lines/s={b['lines_per_s']:.0f} "
            f"errors={b['parse_errors']} checkpoint={'ok' if b['checkpoint_ok'] else 'failing'}")

    async def _watchdog(self) -> None:
        self.notifier.watchdog()

    # ------------------------------------------------------------------------------------------- run
    async def run(self, stop: asyncio.Event) -> int:
        cfg = self.cfg
        loop = asyncio.get_running_loop()
        for d in (cfg.state_dir, cfg.runtime_dir):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.log.error("directory_unwritable", path=str(d), error=str(exc))
        had_state = await loop.run_in_executor(self.io, load_into, self.store, cfg.state_file, cfg.state_on_corrupt)
        self.tailer = Tailer(cfg, self.store, first_start=not had_state)
        self.pool = ParsePool(cfg.executor, cfg.workers, self.store, cfg.topk_capacity)
        self.watcher = Watcher(self.tailer.watch_dirs, self.mark_dirty, poll=cfg.watch == "poll")
        self.log.info("started", version=__version__, pid=os.getpid(), sources=[s.name for s in cfg.sources],
                      globs=[g for s in cfg.sources for g in s.globs], workers=cfg.workers, executor=cfg.executor,
                      max_open_files=cfg.max_open_files,
                      state_file=str(cfg.state_file), resumed=had_state)
        for name, pattern, directory in missing_directories(cfg.sources):  # a typo, or not installed yet
            self.log.warning("glob_directory_missing", path=directory, glob=pattern, source=name,
                             note="nothing is read from it until it exists; then its files are picked up")
        code = EXIT_OK
        try:
            async with asyncio.TaskGroup() as tg:
                merger = tg.create_task(self.pool.merge_results(), name="merge")
                submitter = tg.create_task(self.pool.submit_from(self.queue), name="submit")
                serving = await self.extra_tasks(tg, stop)  # bind first: a taken address stops us before tailing
                restored: list[Batch] = []
                left = await self._io(self.tailer.restore, restored)
                watch_task = tg.create_task(self.watcher.run(), name="watch")
                await self.watcher.armed.wait()
                await self._enqueue(restored)
                self.mark_dirty(set(left))
                tailer_task = tg.create_task(self.tail_loop(), name="tail")
                background = [
                    tg.create_task(self.periodic(cfg.rescan_interval, self._rescan), name="rescan"),
                    tg.create_task(self.periodic(cfg.checkpoint_interval, self.checkpoint), name="checkpoint"),
                    tg.create_task(self.periodic(cfg.snapshot_interval, self.write_snapshot), name="snapshot"),
                    tg.create_task(self.periodic(5.0, self._status), name="status"),
                ]
                if quiet_timer_needed(cfg):  # a quiet writer's last multiline event completes after the timeout
                    background.append(tg.create_task(
                        self.periodic(max(0.1, min(1.0, cfg.multiline_timeout / 2)), self._quiet), name="quiet"))
                if self.notifier.watchdog_interval:
                    background.append(tg.create_task(
                        self.periodic(self.notifier.watchdog_interval, self._watchdog), name="watchdog"))
                background.extend(serving)
                await self.checkpoint()  # from now on this is not a first start: new files read from byte 0
                await self.write_snapshot()
                self.ready.set()
                self.notifier.ready(f"watching {len(self.tailer.by_key)} files")
                self.log.info("ready", files=len(self.tailer.by_key), directories=list(self.watcher.watching))
                await stop.wait()
                self.notifier.stopping()
                self.log.info("stopping", queued_batches=self.queue.qsize())
                code = await self.shutdown(watch_task, tailer_task, submitter, merger)
                for task in background:
                    task.cancel()
        except* StartupError:
            code = EXIT_CRASH  # logged where it happened; nothing was tailed, so nothing to checkpoint
        except* Exception as group:
            for exc in group.exceptions:
                self.log.error("crashed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
            try:
                await self._final_checkpoint()
            except Exception as exc:  # noqa: BLE001 - already crashing: report, exit non-zero, systemd restarts
                self.log.error("final_checkpoint_failed", error=f"{type(exc).__name__}: {exc}")
            code = EXIT_CRASH
        finally:
            self.io.shutdown(wait=False, cancel_futures=True)
            self.notifier.close()
        return code

    async def extra_tasks(self, tg: asyncio.TaskGroup, stop: asyncio.Event) -> list[asyncio.Task]:
        """Hook for the HTTP server: binds before readiness (READY=1 implies the API answers), then serves."""
        return await start_http(self, tg, stop)

    async def shutdown(self, watch_task: asyncio.Task, tailer_task: asyncio.Task, submitter: asyncio.Task,
                       merger: asyncio.Task) -> int:
        assert self.watcher is not None and self.pool is not None and self.tailer is not None
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.cfg.shutdown_timeout):
                self.watcher.stop()
                await watch_task
                self.stopping = True
                self.wake.set()
                await tailer_task
                await self.queue.put(None)
                await submitter
                await merger
                await asyncio.get_running_loop().run_in_executor(None, self.pool.shutdown)
        except TimeoutError:
            abandoned = self.queue.qsize() + self.pool.inflight.qsize()
            for task in (watch_task, tailer_task, submitter, merger):
                task.cancel()
            self.pool.abandon()
            self.log.error("shutdown_timeout", timeout=self.cfg.shutdown_timeout, abandoned_batches=abandoned,
                           note="abandoned bytes are not committed and will be read again at next start")
            await self._final_checkpoint()
            return EXIT_TIMEOUT
        await self._io(self.tailer.close_all)
        ok = await self._final_checkpoint()
        totals = self.store.snapshot(top=0)["totals"]
        self.log.info("stopped", seconds=round(time.monotonic() - started, 3), lines=totals["lines"],
                      checkpoint_ok=ok)
        return EXIT_OK

    async def _final_checkpoint(self) -> bool:
        ok = await self.checkpoint()
        await self.write_snapshot(force=True)
        return ok


def quiet_timer_needed(cfg: Config) -> bool:
    """Whether any source can hold back a multiline event (tail/ keeps a Joiner for its files), which then
    completes once its writer has been quiet for TAILSTAT_MULTILINE_TIMEOUT: only then does the QUIET timer
    run."""
    return any(may_hold(source.spec) for source in cfg.sources)


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT/SIGHUP only set the stop event (SIGHUP: the terminal of a foreground daemon went away;
    there is no configuration to reload); a second SIGINT forces an immediate exit."""
    loop = asyncio.get_running_loop()

    def on_term() -> None:
        stop.set()

    def on_int() -> None:
        if stop.is_set():
            try:
                os.write(2, b"tailstat: second interrupt, exiting now\n")
            except OSError:
                pass  # stderr closed: exit all the same
            os._exit(130)
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, on_term)
    loop.add_signal_handler(signal.SIGHUP, on_term)
    loop.add_signal_handler(signal.SIGINT, on_int)


async def serve(cfg: Config, stop: asyncio.Event | None = None, log_sink: LogSink | None = None) -> int:
    """The daemon process's service. The cyclic garbage collector is paused from here until ready: start-up
    allocates the restored state and one record per tracked file, and each automatic full collection on the
    way traverses all of it again (with 10,000 files, several of 0.1 s each before ready). At ready what
    exists is moved out of the collector's generations (gc.freeze, which takes no time: no later collection
    traverses it again, and each of it is still freed by its reference count), then collection resumes. A
    collection there would block the loop for 0.1 s; what it would have freed (measured: about 200 objects,
    the import's cycles) is kept instead."""
    stop = stop or asyncio.Event()
    install_signal_handlers(stop)
    service = Service(cfg, log_sink=log_sink)
    gc.disable()
    resume = asyncio.create_task(_freeze_when_ready(service.ready), name="gc")
    try:
        return await service.run(stop)
    finally:
        resume.cancel()
        gc.enable()


async def _freeze_when_ready(ready: asyncio.Event) -> None:
    await ready.wait()
    gc.freeze()
    gc.enable()
