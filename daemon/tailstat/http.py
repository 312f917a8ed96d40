"""HTTP API (placeholder until the live-stats work lands)."""

from __future__ import annotations

import asyncio
from typing import Any


def start_http_tasks(service: Any, tg: asyncio.TaskGroup, stop: asyncio.Event) -> list[asyncio.Task]:
    return []
