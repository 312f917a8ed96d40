"""The multiline quiet-flush timer (service.py's QUIET task) runs only when some source can hold back a
multiline event: a real Service, started in-process on real files until ready, then stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tailstat.config import load_config
from tailstat.service import EXIT_OK, Service


def running_tasks(tmp_path: Path, env: dict[str, str]) -> tuple[set[str], int]:
    """The names of the tasks running once the Service is ready, and its exit code after a stop."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_text("2026-12-01 10:00:00,000 INFO [main] com.example.App: started\n")
    cfg = load_config({"TAILSTAT_STATE_DIR": str(tmp_path / "state"), "TAILSTAT_HTTP_ADDR": "off",
                       "TAILSTAT_WORKERS": "1", **{k: v.replace("{logs}", str(tmp_path / "logs"))
                                                   for k, v in env.items()}})

    async def scenario() -> tuple[set[str], int]:
        service, stop = Service(cfg), asyncio.Event()
        run = asyncio.create_task(service.run(stop))
        await asyncio.wait_for(service.ready.wait(), 60)
        names = {task.get_name() for task in asyncio.all_tasks()}
        stop.set()
        return names, await asyncio.wait_for(run, 60)

    return asyncio.run(scenario())


@pytest.mark.parametrize(("env", "quiet"), [
    ({"TAILSTAT_PATHS": "{logs}/*.log", "TAILSTAT_FORMAT": "text"}, True),
    ({"TAILSTAT_PATHS": "{logs}/*.log"}, True),  # auto: may detect text
    ({"TAILSTAT_PATHS": "{logs}/*.log", "TAILSTAT_FORMAT": "text", "TAILSTAT_MULTILINE": "off"}, False),
    ({"TAILSTAT_PATHS": "{logs}/*.log", "TAILSTAT_FORMAT": "json"}, False),
    ({"TAILSTAT_PATHS": "{logs}/*.log", "TAILSTAT_FORMAT": "logfmt"}, False),
    ({"TAILSTAT_SOURCES": "web,app", "TAILSTAT_SOURCE_WEB_PATHS": "{logs}/*.json",
      "TAILSTAT_SOURCE_WEB_FORMAT": "json", "TAILSTAT_SOURCE_APP_PATHS": "{logs}/*.log",
      "TAILSTAT_SOURCE_APP_FORMAT": "text"}, True),  # one source that can hold one is enough
])
def test_quiet_timer_runs_only_where_an_event_can_be_held(tmp_path: Path, env: dict[str, str], quiet: bool) -> None:
    names, code = running_tasks(tmp_path, env)
    assert {"tail", "rescan", "checkpoint"} <= names  # the service did start its background tasks
    assert ("quiet" in names) is quiet
    assert code == EXIT_OK
