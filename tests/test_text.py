"""The `text` format and message patterns: samples in the shapes of common logs, written here, with every
expected count computed independently (by splitting lines), never by the parser's own regexes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from helpers import Daemon, wait_until
from tailstat.aggregate import Store
from tailstat.config import ConfigError, load_config
from tailstat.parse import build_spec, detect, parse_batch
from tailstat.parse.mask import mask_messages
from tailstat.partial import Column, Partial
from tailstat.patterns import OTHER, PatternRegistry

SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"
CANON = {"INFO": "info", "Info": "info", "notice": "info", "NOTICE": "info", "I": "info", "DEBUG": "debug",
         "D": "debug", "WARN": "warn", "WARNING": "warn", "Warning": "warn", "W": "warn", "ERROR": "error",
         "Error": "error", "error": "error", "E": "error", "SEVERE": "error", "FATAL": "critical",
         "CRITICAL": "critical", "F": "critical", "TRACE": "trace", "V": "trace"}


def text_spec(data: bytes, **kw: object):
    fmt = detect(data[:65536])
    assert fmt is not None and fmt.startswith("text:"), fmt
    return build_spec("auto", (), (), None, **kw).resolved(fmt)


def parse(data: bytes, **kw: object) -> Partial:
    return parse_batch(text_spec(data, **kw), data)


# (name, sample, index of the level token in a header line split on whitespace, is a header line)
LOG4J = """2026-12-01 10:00:00,123 INFO [main] com.example.Foo: started in 812 ms
2026-12-01 10:00:01,124 WARN [main] com.example.Foo: slow request 123 ms
2026-12-01 10:00:02,125 ERROR [pool-1] com.example.Bar: failed to connect to 10.0.0.1:5432
java.net.ConnectException: Connection refused
\tat java.net.Socket.connect(Socket.java:589)
\tat com.example.Bar.open(Bar.java:42)
Caused by: java.io.IOException: reset
\t... 12 more
2026-12-01 10:01:00,000 INFO [main] com.example.Foo: started in 90 ms
2026-12-01 10:01:03,500 FATAL [main] com.example.Main: giving up
2026-12-01 10:01:04,000 DEBUG [worker-2] com.example.Bar: pool size 8
"""
LOGBACK = """2026-12-01 10:00:00.123 [main] INFO  c.e.Foo - started
2026-12-01 10:00:00.124 [main] DEBUG c.e.Foo - value 12
2026-12-01 10:00:00.125 [http-1] WARN  c.e.Web - slow 340ms
2026-12-01 10:00:00.126 [http-2] ERROR c.e.Web - request failed
2026-12-01 10:00:00.127 [http-1] TRACE c.e.Web - header x-id=7
"""
PYTHON = """2026-12-01 10:00:00,123 - app.db - ERROR - failed 3 times
Traceback (most recent call last):
  File "app/db.py", line 12, in connect
    sock.connect(addr)
ConnectionRefusedError: [Errno 111] Connection refused
2026-12-01 10:00:01,001 - app.db - INFO - connected
2026-12-01 10:00:02,002 - app.web - WARNING - slow request 2.5 s
2026-12-01 10:00:03,003 - app.web - CRITICAL - out of memory
"""
GO = """2009/11/10 23:00:00 listening on :8080
2009/11/10 23:00:01 request from 10.0.0.2
2009/11/10 23:00:02 request from 10.0.0.3
"""
LOGCAT = """03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs opening app wtoken = AppWindowToken{9f4ef63}
03-17 16:13:38.819  1702  8671 D PowerManagerService: acquire lock=233570404, flags=0x1, uid=10037
03-17 16:13:38.839  1702  2113 V WindowManager: Skipping AppWindowToken{df0798e} -- going to hide
03-17 16:13:38.935  1702  3697 W ActivityManager: getRunningAppProcesses: caller 10113 does not hold REAL_GET_TASKS
03-17 16:13:38.954  2227  2227 I PhoneStatusBar: cancelAutohide
03-17 16:13:39.010  1702  2639 E AndroidRuntime: FATAL EXCEPTION: main
03-17 16:13:39.011  1702  2639 F libc: Fatal signal 11 (SIGSEGV)
"""
APACHE = """[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties
[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6
[Sun Dec 04 04:51:08 2005] [notice] jk2_init() Found child 6725 in scoreboard slot 10
[Sun Dec 04 04:51:09 2005] [notice] jk2_init() Found child 6726 in scoreboard slot 8
[Sun Dec 04 04:51:18 2005] [error] mod_jk child workerEnv in error state 7
"""
BGL = """- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected
- 1117842440 2005.06.03 R23-M0-NE-C:J05-U01 2005-06-03-16.47.20.730545 R23-M0-NE-C:J05-U01 RAS KERNEL INFO 63543 double-hummer alignment exceptions
APPREAD 1117869872 2005.06.04 R04-M1-N4-I:J18-U11 2005-06-04-00.24.32.432192 R04-M1-N4-I:J18-U11 RAS APP FATAL ciod: failed to read message prefix on control stream
- 1117955341 2005.06.05 R25-M0-N7-C:J02-U01 2005-06-05-00.09.01.903373 R25-M0-N7-C:J02-U01 RAS KERNEL INFO generating core.2275
- 1117984246 2005.06.05 R30-M1-N3-C:J02-U01 2005-06-05-08.10.46.344235 R30-M1-N3-C:J02-U01 RAS KERNEL FATAL force load/store alignment...............0
"""
SYSLOG_WRAPPED = """Jun 14 15:16:01 web1 shop[2231]: INFO order 17 placed
Jun 14 15:16:02 web1 shop[2231]: ERROR payment failed for order 17
Jun 14 15:16:03 web1 shop[2231]: WARN retrying payment for order 17
Jun 14 15:16:04 web1 shop[2231]: INFO order 18 placed
"""


def header_levels(sample: str, level_at: int, is_header) -> Counter:
    return Counter(CANON[ln.split()[level_at].strip("[]")] for ln in sample.splitlines() if is_header(ln))


def dated(ln: str) -> bool:
    return ln[:1].isdigit()


@pytest.mark.parametrize(("sample", "level_at", "is_header", "loggers"), [
    (LOG4J, 2, dated, {"com.example.Foo": 3, "com.example.Bar": 2, "com.example.Main": 1}),
    (LOGBACK, 3, dated, {"c.e.Foo": 2, "c.e.Web": 3}),
    (PYTHON, 5, dated, {"app.db": 2, "app.web": 2}),
    (LOGCAT, 4, dated, {"WindowManager": 2, "PowerManagerService": 1, "ActivityManager": 1, "PhoneStatusBar": 1,
                        "AndroidRuntime": 1, "libc": 1}),
    ((SAMPLES / "windows_cbs.log").read_text(), 2, dated, {"CBS": 10, "CSI": 2}),
    (APACHE, 5, lambda ln: ln.startswith("["), {}),
    ((SAMPLES / "hdfs_datanode.log").read_text(), 3, dated,
     {"dfs.DataNode$PacketResponder": 12, "dfs.FSNamesystem": 6, "dfs.DataNode$DataXceiver": 12}),
    (BGL, 8, lambda ln: True, {"KERNEL": 4, "APP": 1}),
    ((SAMPLES / "java_app.log").read_text(), 2, dated,
     {"com.example.shop.OrderService": 15, "com.example.shop.CartController": 5, "com.example.shop.PaymentClient": 10,
      "com.example.shop.Cache": 5, "com.example.shop.Reports": 5}),
], ids=["log4j", "logback", "python", "logcat", "windows_cbs", "apache_error", "hdfs", "bluegene", "java_traces"])
def test_level_and_logger_counts_equal_the_logs_own(sample: str, level_at: int, is_header, loggers: dict) -> None:
    lines = sample.splitlines()
    p = parse(sample.encode())
    expected = header_levels(sample, level_at, is_header)
    assert dict(p.dims["level"]) == dict(expected)
    assert sum(p.dims["level_raw"].values()) == sum(expected.values())
    assert dict(p.dims.get("logger", {})) == loggers
    events = sum(1 for ln in lines if is_header(ln))
    assert (p.lines, p.parsed, p.events, dict(p.errors)) == (len(lines), len(lines), events, {})


def test_raw_level_spelling_is_kept_beside_the_canonical_level() -> None:
    p = parse((SAMPLES / "windows_cbs.log").read_bytes())
    assert dict(p.dims["level_raw"]) == {"Info": 9, "Warning": 1, "Error": 2}
    assert dict(p.dims["level"]) == {"info": 9, "warn": 1, "error": 2}
    p = parse(LOGCAT.encode())
    assert dict(p.dims["level_raw"]) == {"D": 2, "V": 1, "W": 1, "I": 1, "E": 1, "F": 1}


def test_go_log_without_level_is_one_event_per_line_with_event_minutes() -> None:
    p = parse(GO.encode())
    assert (p.lines, p.parsed, p.events) == (3, 3, 3)
    assert "level" not in p.dims
    assert dict(p.dims["pattern"]) == {"listening on <*>": 1, "request from <*>": 2}
    minute = 1257894000 // 60  # 2009-11-10 23:00 UTC
    assert dict(p.minutes) == {(minute, ""): 3}


def test_event_minutes_carry_the_canonical_level() -> None:
    p = parse(LOG4J.encode())
    m0 = 1796119200 // 60  # 2026-12-01 10:00 UTC
    assert dict(p.minutes) == {(m0, "info"): 1, (m0, "warn"): 1, (m0, "error"): 1, (m0 + 1, "info"): 1,
                               (m0 + 1, "critical"): 1, (m0 + 1, "debug"): 1}


def test_syslog_wrapped_app_lines() -> None:
    data = SYSLOG_WRAPPED.encode()
    assert detect(data) == "syslog"  # auto keeps the syslog fast path: program, host, severity
    p = parse_batch(build_spec("syslog", ("program",), (), None), data)
    assert dict(p.dims["program"]) == {"shop": 4}
    # TAILSTAT_FORMAT=text reads the application's own level after the syslog header
    p = parse_batch(build_spec("text", (), (), None), data)
    assert dict(p.dims["level"]) == dict(header_levels(SYSLOG_WRAPPED, 5, dated.__class__ and (lambda ln: True)))
    assert dict(p.dims["level"]) == {"info": 2, "error": 1, "warn": 1}
    assert dict(p.dims["pattern"]) == {"order <*> placed": 2, "payment failed for order <*>": 1,
                                       "retrying payment for order <*>": 1}


def test_syslog_program_names_may_hold_spaces() -> None:
    data = (b"Jul  1 09:00:55 mac Microsoft Word[1234]: Saved document\n"
            b"Jul  1 09:00:56 mac Google Chrome Helper[99]: renderer exited\n"
            b"Jul  1 09:00:57 mac kernel[0]: ARPT: wake\n"
            b"Jul  1 09:00:58 mac CRON: (root) CMD (run-parts /etc/cron.hourly)\n")
    p = parse_batch(build_spec("syslog", ("program", "pid", "message"), (), None), data)
    assert dict(p.dims["program"]) == {"Microsoft Word": 1, "Google Chrome Helper": 1, "kernel": 1, "CRON": 1}
    assert dict(p.dims["pid"]) == {"1234": 1, "99": 1, "0": 1}
    assert dict(p.dims["message"])["(root) CMD (run-parts /etc/cron.hourly)"] == 1


# ------------------------------------------------------------------------------------------------ patterns
def templates(store: Store) -> dict[str, int]:
    return {e["template"]: e["count"] for e in store.snapshot()["patterns"]}


def test_pattern_groups_of_a_java_log_are_exact() -> None:
    data = (SAMPLES / "java_app.log").read_bytes()
    store = Store()
    store.merge(parse(data))
    assert templates(store) == {
        "order <*> placed by <*> total <*> EUR": 15, "cart <*> has <*> items": 5,
        "payment gateway slow: <*> ms for order <*>": 5, "cache refreshed in <*> ms": 5,
        "payment failed for order <*>": 5, "report daily-<*> written to <*>": 5,
    }
    doc = store.snapshot()
    assert doc["fields"]["pattern"]["top"][0] == ["order <*> placed by <*> total <*> EUR", 15]
    assert [e["id"] for e in doc["patterns"]][:2] == ["default#1", "default#2"]
    assert all(e["source"] == "default" and e["first_seen"] > 0 for e in doc["patterns"])


def test_hdfs_patterns_group_by_template() -> None:
    store = Store()
    store.merge(parse((SAMPLES / "hdfs_datanode.log").read_bytes()))
    assert templates(store) == {
        "PacketResponder <*> for block blk_<*> terminating": 6,
        "Received block blk_<*> of size <*> from <*>": 6,
        "BLOCK* NameSystem.addStoredBlock: blockMap updated: <*> is added to blk_<*> size <*>": 6,
        "Receiving block blk_<*> src: <*> dest: <*>": 6,
        "<*> exception while serving blk_<*> to <*>": 6,
    }


def test_masking_shapes() -> None:
    assert mask_messages([
        "connect to 10.0.0.1:5432 failed after 3 tries",
        "user=bob id=42 path /var/log/app.log",
        'said "hello world" to 5e0c0ba4-1f2b-4c55-9d3e-2f0f1a0a9d11',
        "blk_-6952295868487656571 at 0x7fed806eb5d",
        "fetched https://example.com/a?b=1 in 12ms",
        "plain words only",
    ]) == [
        "connect to <*> failed after <*> tries",
        "user=<*> id=<*> path <*>",
        "said <*> to <*>",
        "blk_<*> at <*>",
        "fetched <*> in <*>",
        "plain words only",
    ]


def test_similar_shapes_merge_into_one_template_with_a_stable_id() -> None:
    reg = PatternRegistry()
    a = reg.assign("user alice logged in from web")
    b = reg.assign("user bob logged in from web")
    c = reg.assign("disk full on /")
    assert (a, b, c) == (1, 1, 2)
    assert reg.template(1) == "user <*> logged in from web"
    restored = PatternRegistry.from_dict(json.loads(json.dumps(reg.to_dict())))
    assert restored.assign("user carol logged in from web") == 1
    assert restored.assign("user alice logged in from web") == 1
    assert restored.assign("cache cleared") == 3


def test_templates_are_bounded_under_a_flood_of_distinct_messages() -> None:
    rng = random.Random(3)
    words = {"".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12)) for _ in range(30000)}
    shapes = sorted(words)  # one-word messages without digits: nothing to mask, nothing similar
    store = Store(patterns_max=50)
    for i in range(0, len(shapes), 5000):
        store.merge(Partial(lines=5000, parsed=5000, dims={"pattern": Column(tuple(shapes[i:i + 5000]))}))
    doc = store.snapshot()
    assert len(doc["patterns"]) == 51  # 50 templates and `other`
    assert {e["count"] for e in doc["patterns"] if e["template"] != "other"} == {1}
    other = [e for e in doc["patterns"] if e["template"] == "other"]
    assert other[0]["count"] == len(shapes) - 50 and other[0]["id"] == f"default#{OTHER}"
    assert sum(e["count"] for e in doc["patterns"]) == len(shapes)
    assert doc["fields"]["pattern"]["total"] == len(shapes)
    saved = store.export_state()["patterns"]["default"]
    assert len(saved["templates"]) == 50
    assert len(saved["cache"]) <= min(PatternRegistry(50).cache_size, 4096)  # the shape cache is bounded too


def test_patterns_survive_a_checkpoint_with_their_ids_and_first_appearance() -> None:
    data = (SAMPLES / "java_app.log").read_bytes()
    store = Store()
    store.merge(parse(data))
    before = {e["template"]: (e["id"], e["first_seen"]) for e in store.snapshot()["patterns"]}
    restored = Store()
    restored.load_state(json.loads(json.dumps(store.export_state())))
    restored.merge(parse(data))
    after = {e["template"]: (e["id"], e["first_seen"], e["count"]) for e in restored.snapshot()["patterns"]}
    assert {t: v[:2] for t, v in after.items()} == before
    assert after["order <*> placed by <*> total <*> EUR"][2] == 30


def test_patterns_are_per_source() -> None:
    store = Store()
    for key, source in (("k1", "web"), ("k2", "jobs")):
        store.upsert_file(key, path=f"/{key}", source=source)
        p = Partial(lines=2, parsed=2, dims={"pattern": Column(("job <*> done", "job <*> done"))})
        store.merge(p, key, 10)
    doc = store.snapshot()
    assert sorted((e["id"], e["source"], e["count"]) for e in doc["patterns"]) == [
        ("jobs#1", "jobs", 2), ("web#1", "web", 2)]
    assert doc["fields"]["pattern"]["top"] == [["job <*> done", 2], ["job <*> done", 2]]


# ----------------------------------------------------------------------------------------------- multiline
def test_multiline_events_are_the_same_whatever_the_batch_cut_between_events() -> None:
    data = (SAMPLES / "java_app.log").read_bytes()
    spec = text_spec(data)
    whole = parse_batch(spec, data)
    lines = data.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln[:1].isdigit()]
    for cut in starts[1:]:  # every cut at an event's first line
        first, second = parse_batch(spec, b"".join(lines[:cut])), parse_batch(spec, b"".join(lines[cut:]))
        first.absorb(second)
        assert (first.lines, first.events) == (whole.lines, whole.events) == (65, 40)
        assert dict(first.dims["level"]) == dict(whole.dims["level"])
        assert Counter(first.dims["pattern"]) == Counter(whole.dims["pattern"])


def test_a_batch_starting_inside_an_event_counts_its_continuation_lines_as_one_event() -> None:
    data = LOG4J.encode()
    spec = text_spec(data)
    lines = data.splitlines(keepends=True)
    head, tail = parse_batch(spec, b"".join(lines[:4])), parse_batch(spec, b"".join(lines[4:]))
    assert (head.events, tail.events) == (3, 4)  # the 4 stack lines at tail's start: one event, no level
    assert sum(tail.dims["level"].values()) == 3


def test_multiline_off_makes_every_line_an_event() -> None:
    data = LOG4J.encode()
    p = parse(data, multiline=False)
    assert (p.lines, p.events) == (11, 11)
    assert dict(p.dims["level"]) == {"info": 2, "warn": 1, "error": 1, "critical": 1, "debug": 1}
    assert "java.net.ConnectException: Connection refused" in p.dims["pattern"]


def test_multiline_events_are_bounded_by_lines() -> None:
    data = ("2026-12-01 10:00:00,123 ERROR [main] a.B: boom\n" + "\tat x.Y.z(Y.java:1)\n" * 25).encode()
    p = parse(data, multiline_max_lines=10)
    assert (p.lines, p.events) == (26, 3)  # 10 + 10 + 6 lines
    assert dict(p.dims["level"]) == {"error": 1}


def test_blank_lines_are_counted_not_events() -> None:
    p = parse(b"2026-12-01 10:00:00,123 INFO [main] a.B: one\n\n   \n2026-12-01 10:00:01,123 INFO [main] a.B: two\n")
    assert (p.lines, p.parsed, p.events, dict(p.errors)) == (4, 2, 2, {"empty_line": 2})


# ------------------------------------------------------------------------------------------- configuration
@pytest.mark.parametrize(("env", "message"), [
    ({"TAILSTAT_PATTERNS_MAX": "0"}, "TAILSTAT_PATTERNS_MAX='0' is out of range; accepted: 1..1000000"),
    ({"TAILSTAT_MULTILINE": "maybe"}, "TAILSTAT_MULTILINE='maybe' is not valid; accepted: on, off"),
    ({"TAILSTAT_MULTILINE_MAX_LINES": "1"}, "TAILSTAT_MULTILINE_MAX_LINES='1' is out of range; accepted: 2..100000"),
    ({"TAILSTAT_FORMAT": "text", "TAILSTAT_MEASURES": "pid"},
     "TAILSTAT_MEASURES names 'pid', but format text has no numeric fields"),
    ({"TAILSTAT_FORMAT": "text", "TAILSTAT_GROUP_BY": "levle"},
     "TAILSTAT_GROUP_BY names 'levle', which format text does not have; accepted: level, level_raw, logger"),
])
def test_bad_settings_name_the_variable(env: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"TAILSTAT_PATHS": "/var/log/x/*.log", **env})
    assert message in str(err.value)


def test_settings_reach_the_parser_spec() -> None:
    cfg = load_config({"TAILSTAT_PATHS": "/var/log/x/*.log", "TAILSTAT_MULTILINE": "off",
                       "TAILSTAT_MULTILINE_MAX_LINES": "40", "TAILSTAT_PATTERNS_MAX": "300"})
    spec = cfg.sources[0].spec
    assert (spec.multiline, spec.multiline_max_lines, spec.source, cfg.patterns_max) == (False, 40, "default", 300)


# ------------------------------------------------------------------------------ scan, process mode, merge
def write_app_log(path: Path, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        level = rng.choice(["INFO", "INFO", "WARN", "ERROR", "DEBUG"])
        msg = rng.choice([f"order {rng.randint(1, 10**6)} placed by user{rng.randint(1, 50)}",
                          f"payment for order {rng.randint(1, 10**6)} took {rng.randint(1, 900)} ms",
                          f"cache {rng.choice(['users', 'items', 'prices'])} refreshed in {rng.randint(1, 90)} ms",
                          f"connection to 10.0.{rng.randint(0, 9)}.{rng.randint(1, 250)}:5432 lost"])
        lines.append(f"2026-12-01 1{i // 36000 % 10}:{i // 600 % 60:02d}:{i // 10 % 60:02d},{i % 1000:03d} "
                     f"{level} [w-{i % 4}] com.example.App: {msg}")
        if level == "ERROR":
            lines.extend(["java.lang.IllegalStateException: boom", "\tat com.example.App.run(App.java:10)"])
    path.write_text("\n".join(lines) + "\n")
    return lines


def scan(path: Path, *extra: str, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "tailstat", "scan", "--json", *extra, str(path)], capture_output=True,
                         text=True, timeout=300, check=False,
                         env={"PATH": os.environ["PATH"], "TAILSTAT_WORKERS": "2", **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_process_mode_gives_the_same_patterns_as_thread_mode(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = write_app_log(log, 30000, 5)
    docs = {kind: scan(log, TAILSTAT_EXECUTOR=kind, TAILSTAT_BATCH_BYTES="64KiB") for kind in ("thread", "process")}
    heads = [ln for ln in lines if ln[:1].isdigit()]
    for doc in docs.values():
        assert doc["totals"]["lines"] == len(lines)
        assert doc["totals"]["events"] == len(heads)
        levels = dict(map(tuple, doc["fields"]["level"]["top"]))
        assert levels == dict(Counter(CANON[ln.split()[2]] for ln in heads))

    def shown(doc: dict) -> list:
        return [(e["id"], e["template"], e["count"]) for e in doc["patterns"]]

    assert shown(docs["thread"]) == shown(docs["process"])
    assert sorted(t for _, t, _ in shown(docs["thread"])) == [
        "cache <*> refreshed in <*> ms", "connection to <*> lost", "order <*> placed by <*>", "payment for order <*> took <*> ms"]


def test_merge_combines_the_patterns_of_two_documents(tmp_path: Path) -> None:
    for name, seed in (("a", 1), ("b", 2)):
        write_app_log(tmp_path / f"{name}.log", 2000, seed)
        doc = scan(tmp_path / f"{name}.log", "--mergeable")
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("a", "b"))
    out = subprocess.run([sys.executable, "-m", "tailstat", "merge", "a.json", "b.json"], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path, check=False, env={"PATH": os.environ["PATH"]})
    assert out.returncode == 0, out.stderr
    merged = json.loads(out.stdout)

    def counts(doc: dict) -> Counter:
        return Counter({e["template"]: e["count"] for e in doc["patterns"]})

    assert counts(merged) == counts(a) + counts(b)
    assert len(merged["patterns"]) == 4
    top = dict(map(tuple, merged["fields"]["pattern"]["top"]))
    assert top == dict(counts(a) + counts(b))


# ----------------------------------------------------------------------------------------------- the daemon
def test_daemon_keeps_template_ids_across_kill_9_and_counts_each_event_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    first = (SAMPLES / "java_app.log").read_text()
    log.write_text(first)
    d = Daemon(tmp_path, str(logs / "*.log"), TAILSTAT_CHECKPOINT_INTERVAL="0.1").start()
    try:
        doc = d.wait_lines(65)
        ids = {e["template"]: e["id"] for e in doc["patterns"]}
        assert doc["totals"]["events"] == 40
        wait_until(lambda: d.state()["files"] and next(iter(d.state()["files"].values()))["offset"] == log.stat().st_size,
                   20, what="checkpointed offset")
    finally:
        d.kill()
    with log.open("a") as fh:
        fh.write(first)
    d2 = Daemon(tmp_path, str(logs / "*.log")).start()
    try:
        doc = d2.wait_lines(130)
        wait_until(lambda: d2.stats()["totals"]["events"] == 80, 20, what="80 events")
        doc = d2.stats()
        assert doc["totals"]["lines"] == 130
        after = {e["template"]: (e["id"], e["count"]) for e in doc["patterns"]}
        assert {t: i for t, (i, _) in after.items()} == ids
        assert after["order <*> placed by <*> total <*> EUR"][1] == 30
        levels = dict(map(tuple, doc["fields"]["level"]["top"]))
        assert levels == {"info": 50, "debug": 10, "warn": 10, "error": 10}
    finally:
        assert d2.stop(signal.SIGTERM) == 0


def test_group_by_field_that_no_line_has_is_reported(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.json.log"
    log.write_text("".join(json.dumps({"level": ["info", "warn"][i % 2], "msg": f"m{i}"}) + "\n" for i in range(1200)))
    d = Daemon(tmp_path, str(logs / "*.log"), TAILSTAT_GROUP_BY="user,level").start()
    try:
        d.wait_lines(1200)
        wait_until(lambda: d.log_events("group_by_field_missing"), 20, what="group_by_field_missing logged")
        doc = d.stats()
        assert doc["group_by_missing"] == [{"source": "default", "field": "user", "parsed_lines": 1200}]
        assert dict(map(tuple, doc["fields"]["level"]["top"])) == {"info": 600, "warn": 600}
        (event,) = d.log_events("group_by_field_missing")
        assert (event["source"], event["field"], event["parsed_lines"]) == ("default", "user", 1200)
    finally:
        assert d.stop() == 0


def test_pid_and_thread_are_fields_on_request() -> None:
    data = LOGCAT.encode()
    p = parse_batch(build_spec("auto", ("pid", "thread"), (), None).resolved(detect(data)), data)
    lines = LOGCAT.splitlines()
    assert dict(p.dims["pid"]) == dict(Counter(ln.split()[2] for ln in lines))
    assert dict(p.dims["thread"]) == dict(Counter(ln.split()[3] for ln in lines))
    p = parse(LOG4J.encode())
    assert "thread" not in p.dims  # not a default dimension
    p = parse_batch(build_spec("auto", ("thread",), (), None).resolved(detect(LOG4J.encode())), LOG4J.encode())
    assert dict(p.dims["thread"]) == {"main": 4, "pool-1": 1, "worker-2": 1}


def test_window_slots_keep_each_event_whole() -> None:
    """With the daemon's window slots (spec.slot_seconds, set by the daemon), every line of an event counts in
    the slot of its event's time: the stack trace of a 10:00:02 error stays in the 10:00 slot."""
    import dataclasses
    import time

    # the last two minutes: the ring keeps 1-minute slots there (older lines share coarser slots)
    m0 = int(time.time() // 60) - 2
    recent = (LOG4J.replace("2026-12-01 10:00:", time.strftime("%Y-%m-%d %H:%M:", time.gmtime(m0 * 60)))
              .replace("2026-12-01 10:01:", time.strftime("%Y-%m-%d %H:%M:", time.gmtime(m0 * 60 + 60))))
    spec = dataclasses.replace(text_spec(recent.encode()), slot_seconds=60.0)
    p = parse_batch(spec, recent.encode())
    assert p.slots is not None and sorted(k for k in p.slots if k is not None) == [m0, m0 + 1]
    assert p.slots.get(None) is None or p.slots[None].lines == 0  # no line counts at ingestion time
    first, second = p.slots[m0], p.slots[m0 + 1]
    assert (first.lines, first.events, second.lines, second.events) == (8, 3, 3, 3)
    assert dict(first.dims["level"]) == {"info": 1, "warn": 1, "error": 1}
    assert dict(second.dims["level"]) == {"info": 1, "critical": 1, "debug": 1}
    assert Counter(first.dims["pattern"]) + Counter(second.dims["pattern"]) == Counter(p.dims["pattern"])
    assert (p.lines, p.events) == (11, 6)
    # the window documents count events as the all-time one does (also through a checkpointed ring)
    from tailstat.aggregate import Store
    from tailstat.window import Ring

    store = Store(ring=Ring(slot_seconds=60.0))
    store.merge(p)
    for window in ("all", "5m", "15m"):
        totals = store.snapshot(window=window)["totals"]
        assert (totals["lines"], totals["parsed"], totals["events"]) == (11, 11, 6), window
    restored = Store(ring=Ring(slot_seconds=60.0))
    restored.load_state(store.export_state())
    assert restored.snapshot(window="5m")["totals"]["events"] == 6


def test_scan_since_until_keeps_whole_events(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(LOG4J)
    doc = scan(log, "--since", "2026-12-01T10:00:02Z", "--until", "2026-12-01T10:01:01Z")
    # the 10:00:02 error with its 5 stack lines and the 10:01:00 info: 2 events, 7 lines
    assert (doc["totals"]["lines"], doc["totals"]["events"]) == (7, 2)
    assert dict(map(tuple, doc["fields"]["level"]["top"])) == {"error": 1, "info": 1}


def test_scan_table_shows_events_beside_lines() -> None:
    out = subprocess.run([sys.executable, "-m", "tailstat", "scan", str(SAMPLES / "java_app.log")], capture_output=True,
                         text=True, timeout=60, check=False, env={"PATH": os.environ["PATH"], "COLUMNS": "100"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "lines 65 (40 events)  parsed 65  parse errors 0  bytes 5,967"
    assert "            15   37.5%  order <*> placed by <*> total <*> EUR" in out.stdout.splitlines()
