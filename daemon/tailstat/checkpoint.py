"""Checkpoint stage: the whole state (file identities, committed offsets, aggregates) in one atomic file.

Written as temp file -> fsync -> rename -> fsync(directory), so a crash leaves either the old or the new state,
never a mix. A state file that cannot be used is moved aside and never causes a crash loop.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os
import orjson
import structlog

from tailstat.aggregate import Store


_serial = itertools.count()


class StateCorrupt(Exception):
    """The state file exists but cannot be used (and TAILSTAT_STATE_ON_CORRUPT=fail)."""


def encode(state: dict[str, Any]) -> bytes:
    return orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS)


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Synchronous atomic replace (used from an executor thread and by one-shot commands)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
    if durable:
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


async def write_atomic_async(path: Path, data: bytes, durable: bool = True) -> None:
    """The same, without blocking the event loop: aiofiles runs each step on a thread."""
    await aiofiles.os.makedirs(path.parent, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{next(_serial)}")
    try:
        async with aiofiles.open(tmp, "wb") as fh:
            await fh.write(data)
            if durable:
                await fh.flush()
                await aiofiles.os.wrap(os.fsync)(fh.fileno())
        await aiofiles.os.replace(tmp, path)
        if durable:
            await aiofiles.os.wrap(_fsync_dir)(path.parent)
    except BaseException:
        try:
            await aiofiles.os.remove(tmp)
        except OSError:
            pass
        raise


def _fsync_dir(directory: Path) -> None:
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def load_into(store: Store, path: Path, on_corrupt: str) -> bool:
    """Load the state file into the store. Returns True when there was a usable state (not a first start).

    A corrupt, truncated or unknown-schema file is moved to `<name>.corrupt-<timestamp>` and the daemon
    starts fresh, or StateCorrupt is raised when on_corrupt == "fail"."""
    log = structlog.get_logger("tailstat.checkpoint")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return False
    try:
        state = orjson.loads(raw)
        if not isinstance(state, dict):
            raise ValueError("state is not an object")
        store.load_state(state)
    except (ValueError, KeyError, TypeError, AttributeError, orjson.JSONDecodeError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if on_corrupt == "fail":
            raise StateCorrupt(f"state file {path} is unusable ({reason}); TAILSTAT_STATE_ON_CORRUPT=fail") from None
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        os.replace(path, aside)
        log.error("state_corrupt", path=str(path), moved_to=str(aside), error=reason)
        return False
    log.info("state_loaded", path=str(path), files=len(state.get("files", {})))
    return True
