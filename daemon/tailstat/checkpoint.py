"""Checkpoint stage: the whole state (file identities, committed offsets, aggregates) in one atomic file.

Written as temp file -> fsync -> rename -> fsync(directory), so a crash leaves either the old or the new state,
never a mix. A state file that cannot be used is moved aside and never causes a crash loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import structlog

from tailstat.aggregate import Store

FP_BYTES_MAX = 1 << 20  # sanity bound on a recorded fingerprint length


class StateCorrupt(Exception):
    """The state file exists but cannot be used (and TAILSTAT_STATE_ON_CORRUPT=fail)."""


def encode(state: dict[str, Any]) -> bytes:
    return orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS)


class _NewestWins:
    """Atomic replaces of one path land in the order they were asked for: a write asked for before the one
    that last landed is dropped, so a slow periodic snapshot never overwrites the final one. Each write has
    its own temp file, so concurrent writers never share (and corrupt) one."""

    def __init__(self) -> None:
        self._tickets = itertools.count(1)
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}
        self._landed: dict[Path, int] = {}

    def ticket(self) -> int:
        return next(self._tickets)

    def write(self, path: Path, data: bytes, durable: bool, ticket: int) -> bool:
        with self._guard:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:
            if self._landed.get(path, 0) > ticket:
                return False
            _replace(path, data, durable, ticket)
            self._landed[path] = ticket
            return True


_ORDER = _NewestWins()


def _replace(path: Path, data: bytes, durable: bool, ticket: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{ticket}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Synchronous atomic replace (one-shot commands, or an executor thread)."""
    _ORDER.write(path, data, durable, _ORDER.ticket())


async def write_atomic_async(path: Path, data: bytes, durable: bool = True) -> None:
    """The same without blocking the event loop: the write runs on a thread. Its place in the order is taken
    now, when it is asked for, so the newest document wins even if an older write finishes later."""
    ticket = _ORDER.ticket()
    await asyncio.get_running_loop().run_in_executor(None, _ORDER.write, path, data, durable, ticket)


def _fsync_dir(directory: Path) -> None:
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def check_file_records(state: dict[str, Any]) -> None:
    """Reject a state whose file records the tailer could not resume from (ValueError/KeyError/TypeError)."""
    files = state.get("files")
    if not isinstance(files, dict):
        raise TypeError("files is not an object")
    for key, rec in files.items():
        ident = rec["identity"]
        if not isinstance(rec["path"], str) or not os.path.isabs(rec["path"]):
            raise ValueError(f"file {key!r}: path {rec['path']!r} is not absolute")
        if int(rec["offset"]) < 0 or int(rec.get("size", 0)) < 0:
            raise ValueError(f"file {key!r}: negative offset or size")
        int(ident["dev"]), int(ident["inode"])
        if not isinstance(ident["fingerprint"], str) or not 0 <= int(ident["fingerprint_bytes"]) <= FP_BYTES_MAX:
            raise ValueError(f"file {key!r}: bad fingerprint")


def _remove_stale_temps(path: Path) -> None:
    """Temp files of writers that were killed mid-write (kill -9) are garbage."""
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        with contextlib.suppress(OSError):
            tmp.unlink()


def _move_aside(path: Path) -> Path | None:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for n in range(1000):
        aside = path.with_name(f"{path.name}.corrupt-{stamp}" + (f".{n}" if n else ""))
        if not aside.exists():
            try:
                os.replace(path, aside)
            except OSError:
                return None
            return aside
    return None


def load_into(store: Store, path: Path, on_corrupt: str) -> bool:
    """Load the state file into the store. Returns True when there was a usable state (not a first start).

    A corrupt, truncated, unreadable or unknown-schema file is moved to `<name>.corrupt-<timestamp>` and the
    daemon starts fresh, or StateCorrupt is raised (the file left in place) when on_corrupt == "fail"."""
    log = structlog.get_logger("tailstat.checkpoint")
    _remove_stale_temps(path)
    try:
        # json, not orjson: the same objects, 15 ms slower for 10,000 files, but orjson's parser holds about three
        # times what it builds while it parses (the restart's peak RSS; README, Performance)
        state = json.loads(path.read_bytes())
        if not isinstance(state, dict):
            raise TypeError("state is not an object")
        check_file_records(state)
        store.load_state(state, owned=True)
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if on_corrupt == "fail":
            log.error("state_corrupt", path=str(path), error=reason, action="refuse to start")
            raise StateCorrupt(f"state file {path} is unusable ({reason}); TAILSTAT_STATE_ON_CORRUPT=fail") from None
        aside = _move_aside(path)
        log.error("state_corrupt", path=str(path), moved_to=str(aside) if aside else None, error=reason,
                  action="start fresh")
        return False
    log.info("state_loaded", path=str(path), files=len(state.get("files", {})))
    return True
