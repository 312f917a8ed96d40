"""The daemon's JSON log lines (logsetup.JsonRenderer, the one-processor fast path): the fields, the level names
and the timestamp format structlog's own chain wrote, and an exception rendered as text."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import orjson
import structlog

from tailstat.logsetup import LogSink, configure_logging


def lines_logged(tmp_path: Path, log_calls) -> list[dict]:
    out = tmp_path / "log.jsonl"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        configure_logging("debug", "json", LogSink(fd))
        log_calls(structlog.get_logger("tailstat.test"))
    finally:
        os.close(fd)
        structlog.reset_defaults()
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_json_log_lines_have_event_level_and_an_iso_utc_timestamp(tmp_path: Path) -> None:
    before = datetime.now(timezone.utc)

    def calls(log) -> None:
        log.info("file_opened", path="/var/log/app.log", offset=0, inode=12)
        log.warning("slow")
        log.warn("old_name")
        log.debug("detail", n=1)

    events = lines_logged(tmp_path, calls)
    after = datetime.now(timezone.utc)
    assert [(e["event"], e["level"]) for e in events] == [
        ("file_opened", "info"), ("slow", "warning"), ("old_name", "warning"), ("detail", "debug")]
    assert {k: v for k, v in events[0].items() if k != "timestamp"} == {
        "event": "file_opened", "level": "info", "path": "/var/log/app.log", "offset": 0, "inode": 12}
    for e in events:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e["timestamp"]), e["timestamp"]
        assert before <= datetime.fromisoformat(e["timestamp"]) <= after


def test_an_exception_is_logged_as_error_with_its_traceback(tmp_path: Path) -> None:
    def calls(log) -> None:
        try:
            raise ValueError("bad value 7")
        except ValueError as exc:
            log.error("crashed", error=str(exc), exc_info=exc)
            log.exception("caught")

    crashed, caught = lines_logged(tmp_path, calls)
    assert (crashed["event"], crashed["level"], crashed["error"]) == ("crashed", "error", "bad value 7")
    assert "exc_info" not in crashed
    assert crashed["exception"].startswith("Traceback (most recent call last):")
    assert crashed["exception"].rstrip().endswith("ValueError: bad value 7")
    assert (caught["event"], caught["level"]) == ("caught", "error")
    assert caught["exception"].rstrip().endswith("ValueError: bad value 7")
