"""Multiline `text` events in the daemon: the reader cuts batches only between events (parse/multiline.py
through tail/reader.py's unit hook), holds the last event until the next one starts or its writer is quiet,
and commits only complete events, so a kill -9 re-reads a held event from its first line."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

from helpers import Daemon, wait_until

LEVELS = ("INFO", "WARN", "ERROR", "DEBUG")


def event(i: int, level: str | None = None) -> str:
    level = level or LEVELS[i % 4]
    head = f"2026-12-01 10:{i // 60 % 60:02d}:{i % 60:02d},{i % 1000:03d} {level} [w-{i % 3}] com.example.App: job {i} done\n"
    if level != "ERROR":
        return head
    return head + (f"java.lang.IllegalStateException: job {i}\n"
                   f"\tat com.example.App.run(App.java:{i % 90})\n"
                   "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
                   f"Caused by: java.io.IOException: disk {i % 7}\n"
                   "\t... 12 more\n")


def levels_of(doc: dict) -> dict:
    return dict(map(tuple, doc["fields"]["level"]["top"]))


def test_events_split_by_no_batch_boundary(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    text = "".join(event(i) for i in range(3000))
    log.write_text(text)
    lines = text.count("\n")
    d = Daemon(tmp_path, str(logs / "*.log"), TAILSTAT_BATCH_BYTES="4KiB", TAILSTAT_MULTILINE_TIMEOUT="3600").start()
    try:
        wait_until(lambda: d.stats()["totals"]["lines"] >= lines - 1, 60, what="all complete events")
        doc = d.stats()
        # the last event is held back until another starts (or its writer is quiet): 2999 of them so far
        assert (doc["totals"]["lines"], doc["totals"]["events"]) == (lines - 1, 2999)
        assert levels_of(doc) == {"info": 750, "warn": 750, "error": 750, "debug": 749}
        pattern = dict(map(tuple, doc["fields"]["pattern"]["top"]))
        assert pattern == {"job <*> done": 2999}
    finally:
        assert d.stop() == 0


def test_a_quiet_writer_completes_its_last_event(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_text(event(1) + event(2, "ERROR"))
    # no rescan in the test's time: the quiet timer alone completes the held event
    d = Daemon(tmp_path, str(logs / "*.log"), TAILSTAT_MULTILINE_TIMEOUT="0.3",
               TAILSTAT_RESCAN_INTERVAL="3600").start()
    try:
        wait_until(lambda: d.stats()["totals"]["events"] == 2, 30, what="the held error event flushed")
        doc = d.stats()
        assert (doc["totals"]["lines"], doc["totals"]["events"]) == (7, 2)
        assert levels_of(doc) == {"warn": 1, "error": 1}
        (record,) = doc["files"]
        assert record["offset"] == log.stat().st_size
    finally:
        assert d.stop() == 0


def test_kill_9_inside_an_event_reads_it_again_from_its_first_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    before = "".join(event(i) for i in range(1, 6))  # INFO... the 4 first complete, the 5th held
    error = event(6, "ERROR").splitlines(keepends=True)
    log.write_text(before + "".join(error[:3]))  # the error and 2 of its 5 continuation lines
    env = {"TAILSTAT_MULTILINE_TIMEOUT": "3600", "TAILSTAT_CHECKPOINT_INTERVAL": "0.1"}
    d = Daemon(tmp_path, str(logs / "*.log"), **env).start()
    try:
        # everything up to the error's first line is complete and committed; the error event is held
        event_start = len(before.encode())
        wait_until(lambda: d.stats()["totals"]["events"] == 5, 30, what="5 events")
        wait_until(lambda: d.state()["files"] and next(iter(d.state()["files"].values()))["offset"] == event_start,
                   30, what="the offset committed at the error's first line")
        assert d.stats()["totals"]["lines"] == len(before.splitlines())
    finally:
        d.kill()
    with log.open("a") as fh:
        fh.write("".join(error[3:]) + event(7) + event(8))
    d2 = Daemon(tmp_path, str(logs / "*.log"), **env).start()
    try:
        wait_until(lambda: d2.stats()["totals"]["events"] == 7, 30, what="7 events")
        doc = d2.stats()
        text = log.read_text()
        assert doc["totals"]["lines"] == text.count("\n") - 1  # the last event (INFO 8) is held
        heads = [ln for ln in text.splitlines() if ln[:4] == "2026"][:-1]
        assert levels_of(doc) == dict(Counter({"INFO": "info", "WARN": "warn", "ERROR": "error", "DEBUG": "debug"}[
            ln.split()[2]] for ln in heads))
        assert dict(map(tuple, doc["fields"]["pattern"]["top"])) == {"job <*> done": 7}
    finally:
        assert d2.stop(signal.SIGTERM) == 0


def test_process_mode_daemon_counts_the_same_events_and_templates(tmp_path: Path) -> None:
    messages = ("job {i} done", "cache users refreshed in {i} ms", "connection to 10.0.3.{n}:5432 lost")
    text = "".join(event(i).replace(f"job {i} done", messages[i % 3].format(i=i, n=i % 250), 1)
                   for i in range(2000))
    docs = {}
    for kind in ("thread", "process"):
        logs = tmp_path / kind / "logs"
        logs.mkdir(parents=True)
        (logs / "app.log").write_text(text)
        d = Daemon(tmp_path / kind, str(logs / "*.log"), TAILSTAT_EXECUTOR=kind, TAILSTAT_WORKERS="2",
                   TAILSTAT_BATCH_BYTES="8KiB", TAILSTAT_MULTILINE_TIMEOUT="0.3",
                   TAILSTAT_RESCAN_INTERVAL="0.2").start()
        try:
            wait_until(lambda d=d: d.stats()["totals"]["events"] == 2000, 90, what=f"2000 events ({kind})")
            docs[kind] = d.stats()
        finally:
            assert d.stop() == 0
    thread, process = docs["thread"], docs["process"]
    assert thread["totals"]["lines"] == process["totals"]["lines"] == text.count("\n")
    assert levels_of(thread) == levels_of(process) == {"info": 500, "warn": 500, "error": 500, "debug": 500}
    shown = [[(e["id"], e["template"], e["count"]) for e in doc["patterns"]] for doc in (thread, process)]
    assert shown[0] == shown[1]
    assert sorted((t, n) for _, t, n in shown[0]) == [
        ("cache users refreshed in <*> ms", 667), ("connection to <*> lost", 666), ("job <*> done", 667)]
