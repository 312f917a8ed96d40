"""Watch stage: which paths may have changed. watchfiles on the glob directories (non-recursive), re-armed
when the set of existing directories changes; the periodic rescan in the service is the safety net for inotify
overflow, directories created later and file systems without inotify."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import structlog
import watchfiles


class Watcher:
    def __init__(self, dirs: Callable[[], set[str]], on_change: Callable[[set[str]], None], poll: bool,
                 poll_delay_ms: int = 300) -> None:
        self._dirs = dirs
        self._on_change = on_change
        self._poll = poll
        self._poll_delay_ms = poll_delay_ms
        self._rearm = asyncio.Event()
        self._stop = asyncio.Event()
        self.armed = asyncio.Event()
        self.watching: tuple[str, ...] = ()
        self.log = structlog.get_logger("tailstat.watch")

    def existing_dirs(self) -> tuple[str, ...]:
        return tuple(sorted(d for d in self._dirs() if os.path.isdir(d)))

    def maybe_rearm(self) -> None:
        """Called by the rescan: start watching directories that appeared (or stop those that vanished)."""
        if self.existing_dirs() != self.watching:
            self._rearm.set()

    def stop(self) -> None:
        self._stop.set()
        self._rearm.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            self._rearm.clear()
            self.watching = self.existing_dirs()
            if not self.watching:
                self.armed.set()
                await self._rearm.wait()
                continue
            self.log.info("watching", directories=list(self.watching), mode="poll" if self._poll else "inotify")
            self.armed.set()
            try:
                async for changes in watchfiles.awatch(
                    *self.watching, watch_filter=None, recursive=False, debounce=50, step=10,
                    stop_event=self._rearm, force_polling=self._poll, poll_delay_ms=self._poll_delay_ms,
                ):
                    self._on_change({path for _, path in changes})
            except (FileNotFoundError, OSError) as exc:
                # a watched directory vanished: the rescan notices and re-arms
                self.log.warning("watch_failed", error=str(exc))
                await asyncio.sleep(0.5)
