"""Shared fixtures. The helpers themselves (Daemon, wait_until, clean_env) live in helpers.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import Daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Factory: `daemon(paths, start=True, **TAILSTAT_env)` -> a started helpers.Daemon in tmp_path (state in
    tmp_path/"state", ready once its first stats.json exists). Every daemon still running at teardown gets
    SIGTERM."""
    made: list[Daemon] = []

    def make(paths: str, start: bool = True, **env: str) -> Daemon:
        d = Daemon(tmp_path, paths, **env)
        made.append(d)
        return d.start() if start else d

    yield make
    for d in made:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
