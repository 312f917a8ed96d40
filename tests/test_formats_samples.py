"""sample_logs/: every sample parsed with its format, against counts checked by hand (and by independent
split-based scripts, not by the parsers' regexes). Every documented field is checked on at least one line."""

from __future__ import annotations

import calendar
import dataclasses
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tailstat.formats import ParserSpec, build_spec, detect, parse_batch
from tailstat.partial import Partial

SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"
# sample_logs/regex/app_python.log is a Python `logging` file; this is the README's TAILSTAT_REGEX for it
PYTHON_LOG_REGEX = (r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<level>[A-Z]+) \[(?P<thread>[^\]]+)\] "
                    r"(?P<logger>[\w.]+): (?P<msg>.*?)(?: in (?P<duration_ms>[\d.]+)ms)?")
# sample_logs/nginx_custom.log: a common "timing" log_format (README's TAILSTAT_NGINX_LOG_FORMAT example)
NGINX_TIMING_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                       '"$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" '
                       'urt="$upstream_response_time" host=$host')
JUNE_2025 = calendar.timegm((2025, 6, 20, 12, 0, 0))  # "now" for the year of the RFC 3164 samples


def parse(spec: ParserSpec, name: str) -> Partial:
    return parse_batch(spec, (SAMPLES / name).read_bytes())


def top(partial: Partial, dim: str, n: int = 100) -> list[tuple[str, int]]:
    # ties by value, so the expected lists are deterministic
    return sorted(partial.dims[dim].items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def summary(partial: Partial, measure: str) -> tuple:
    s = partial.measures[measure].summary()
    return s["count"], s["sum"], s["min"], s["max"]


def local_minute(y: int, mo: int, d: int, h: int, mi: int) -> int:
    return int(time.mktime((y, mo, d, h, mi, 0, 0, 0, -1))) // 60


def utc_minute(y: int, mo: int, d: int, h: int, mi: int, offset_minutes: int = 0) -> int:
    return calendar.timegm((y, mo, d, h, mi, 0)) // 60 - offset_minutes


@pytest.mark.parametrize(("name", "fmt"), [
    ("nginx_access.log", "combined"), ("nginx_timed.log", "combined_timed"), ("apache_common.log", "common"),
    ("app.json.log", "json"), ("app_logfmt.log", "logfmt"), ("syslog_bsd.log", "syslog"),
    ("syslog_5424.log", "syslog"),
])
def test_auto_detects_each_sample(name: str, fmt: str) -> None:
    assert detect((SAMPLES / name).read_bytes()[:65536]) == fmt


def test_regex_sample_reads_as_text_and_custom_nginx_reads_as_combined() -> None:
    # no known format fits the Python logging sample: `auto` learns its header as `text` (no regex needed)
    data = (SAMPLES / "regex/app_python.log").read_bytes()
    fmt = detect(data)
    assert fmt == "text:ts=iso/0,skip=,level=word,logger=bc"
    p = parse_batch(build_spec("auto", (), (), None).resolved(fmt), data)
    lines = data.decode().splitlines()
    heads = [ln for ln in lines if ln[:4].isdigit()]  # its traceback lines belong to the event before
    by_split = {"INFO": "info", "DEBUG": "debug", "WARNING": "warn", "WARN": "warn", "ERROR": "error"}
    assert dict(p.dims["level"]) == dict(Counter(by_split[ln.split()[2]] for ln in heads))
    assert dict(p.dims["logger"]) == dict(Counter(ln.split()[4].rstrip(":") for ln in heads))
    assert (p.lines, p.parsed, p.events, len(heads)) == (34, 34, 30, 30)
    assert detect((SAMPLES / "nginx_custom.log").read_bytes()) == "combined"  # a combined line + extra fields


def test_nginx_access_combined() -> None:
    p = parse(build_spec("combined", ("user", "protocol", "referer", "user_agent", "ident"), (), None),
              "nginx_access.log")
    assert (p.lines, p.parsed, dict(p.errors)) == (401, 400, {"no_match": 1})
    assert p.samples == ["this line is not an access log line"]
    assert top(p, "status", 5) == [("200", 293), ("404", 24), ("304", 18), ("401", 15), ("500", 15)]
    assert top(p, "method", 4) == [("GET", 278), ("POST", 55), ("PUT", 29), ("HEAD", 20)]
    assert top(p, "path", 2) == [("/api/v1/orders/1842", 38), ("/static/app.css", 38)]
    assert len(p.dims["path"]) == 12
    assert top(p, "client", 1) == [("203.0.113.4", 17)]
    assert len(p.dims["client"]) == 41
    assert top(p, "user") == [("-", 250), ("alice", 76), ("bob", 74)]
    assert top(p, "ident") == [("-", 400)]
    assert top(p, "protocol") == [("HTTP/1.1", 400)]
    assert top(p, "referer") == [("-", 154), ("https://www.google.com/", 129), ("https://www.example.com/", 117)]
    assert top(p, "user_agent", 1) == [("curl/8.5.0", 99)]
    assert len(p.dims["user_agent"]) == 5
    assert summary(p, "bytes_sent") == (400, 9246575, 0, 49870)
    assert sum(p.minutes.values()) == 400
    # first line: [10/Oct/2025:13:55:36 +0000] ... 200
    assert p.minutes[(utc_minute(2025, 10, 10, 13, 55), "2xx")] >= 1


def test_nginx_timed() -> None:
    p = parse(build_spec("combined_timed", (), (), None), "nginx_timed.log")
    assert (p.lines, p.parsed, dict(p.errors), dict(p.skipped)) == (400, 400, {}, {})
    assert top(p, "status", 1) == [("200", 293)]
    assert summary(p, "bytes_sent") == (400, 9246575, 0, 49870)
    count, total, _, high = summary(p, "request_time")
    assert (count, round(total, 3), high) == (400, 30.792, 0.949)
    count, total, _, _ = summary(p, "upstream_time")
    assert (count, round(total, 3)) == (400, 30.392)


def test_apache_common() -> None:
    p = parse(build_spec("common", ("user", "protocol"), (), None), "apache_common.log")
    assert (p.lines, p.parsed, dict(p.errors)) == (200, 200, {})
    assert top(p, "status", 4) == [("200", 145), ("404", 13), ("304", 12), ("401", 8)]
    assert top(p, "method", 2) == [("GET", 138), ("POST", 32)]
    assert top(p, "path", 1) == [("/login", 24)]
    assert top(p, "user") == [("-", 130), ("alice", 37), ("bob", 33)]
    assert top(p, "protocol") == [("HTTP/1.0", 200)]
    assert len(p.dims["client"]) == 41
    assert summary(p, "bytes_sent") == (200, 4728303, 0, 49522)


def test_app_json() -> None:
    p = parse(build_spec("json", ("service", "http.status", "http.method"), ("duration_ms",), None), "app.json.log")
    assert (p.lines, p.parsed, dict(p.errors)) == (301, 300, {"invalid_json": 1})
    assert p.samples == ["not json at all"]
    assert top(p, "level") == [("info", 208), ("warn", 59), ("debug", 17), ("error", 16)]
    assert top(p, "service") == [("auth", 109), ("checkout", 101), ("search", 90)]
    assert top(p, "http.status") == [("200", 182), ("500", 61), ("404", 57)]
    assert top(p, "http.method") == [("POST", 154), ("GET", 146)]
    count, total, low, high = summary(p, "duration_ms")
    assert (count, round(total, 2), low, high) == (300, 10430.8, 0.64, 384.11)
    assert sum(p.minutes.values()) == 300
    assert p.minutes[(utc_minute(2025, 10, 10, 13, 55), "info")] >= 2  # "2025-10-10T13:55:36.312Z" info


def test_app_logfmt() -> None:
    p = parse(build_spec("logfmt", ("service", "status", "cached", "err"), ("duration_ms",), None),
              "app_logfmt.log")
    assert (p.lines, p.parsed) == (45, 42)
    assert dict(p.errors) == {"invalid_logfmt": 2, "empty_line": 1}
    assert p.samples[:2] == ["panic: runtime error: index out of range [3] with length 3",
                             'time=2025-10-10T13:58:10.000Z level=error msg="unterminated quote']
    assert top(p, "level") == [("info", 27), ("debug", 6), ("warn", 6), ("error", 3)]
    assert top(p, "service") == [("checkout", 25), ("auth", 11), ("search", 6)]
    assert top(p, "status") == [("200", 21), ("500", 11), ("404", 9), ("401", 1)]
    assert top(p, "cached") == [("true", 13)]  # a bare key
    assert top(p, "err") == [('upstream "payments" timed out', 8)]  # a quoted value with \" escapes
    count, total, low, high = summary(p, "duration_ms")
    assert (count, round(total, 1), low, high) == (40, 1136.1, 1.8, 160.4)
    assert dict(p.skipped) == {"not_a_number:duration_ms": 1, "missing:duration_ms": 1}
    assert sum(p.minutes.values()) == 42
    assert p.minutes[(utc_minute(2025, 10, 10, 13, 55), "warn")] == 1  # 13:55:36.558Z level=warn


def test_syslog_bsd() -> None:
    spec = dataclasses.replace(build_spec("syslog", ("pid", "facility"), (), None), reference_time=JUNE_2025)
    p = parse(spec, "syslog_bsd.log")
    assert (p.lines, p.parsed) == (47, 44)
    assert dict(p.errors) == {"no_match": 1, "bad_priority": 1, "empty_line": 1}
    assert p.samples == ["    at com.example.Worker.run(Worker.java:42)",
                         "<200>Jun 14 15:19:02 router dnsmasq[512]: bad priority"]
    assert top(p, "program") == [
        ("sshd", 16), ("CRON", 7), ("systemd-logind", 5), ("systemd", 4), ("sudo", 3), ("(sd-pam)", 2),
        ("dnsmasq", 2), ("kernel", 2), ("postfix/smtpd", 2), ("org.gnome.Shell.desktop", 1)]
    assert top(p, "host") == [("web1", 33), ("db1", 9), ("router", 2)]
    # only the two forwarded lines carry a priority: <30> daemon.info and <28> daemon.warning
    assert top(p, "severity") == [("info", 1), ("warning", 1)]
    assert top(p, "facility") == [("daemon", 2)]
    assert len(p.dims["pid"]) == 35
    assert top(p, "pid", 2) == [("1", 4), ("512", 2)]
    assert sum(p.minutes.values()) == 44
    # "Jun  4 03:10:02 db1 CRON[812]" (space-padded day), local time, this (2025) year
    assert p.minutes[(local_minute(2025, 6, 4, 3, 10), "")] == 1
    assert p.minutes[(local_minute(2025, 6, 14, 15, 17), "info")] == 1  # <30>Jun 14 15:17:09 router
    # rsyslog's high-precision timestamp keeps its own offset
    assert p.minutes[(utc_minute(2025, 6, 14, 15, 18, offset_minutes=120), "")] == 1


def test_syslog_5424() -> None:
    p = parse(build_spec("syslog", ("pid", "facility", "msgid", "message"), (), None), "syslog_5424.log")
    assert (p.lines, p.parsed) == (36, 33)
    assert dict(p.errors) == {"broken_structured_data": 2, "no_match": 1}  # and version 2 is no_match
    assert top(p, "program") == [("checkout", 17), ("auth", 10), ("search", 5)]
    assert top(p, "host") == [("app1.example.com", 17), ("app2.example.com", 15)]  # one line has a nil host
    assert top(p, "severity") == [("info", 14), ("err", 6), ("warning", 6), ("notice", 4), ("debug", 3)]
    assert top(p, "facility") == [("user", 14), ("local0", 12), ("local1", 6), ("local4", 1)]
    assert top(p, "msgid") == [("PAY", 10), ("ORDER", 7), ("LOGIN", 5)]
    assert len(p.dims["pid"]) == 14 and p.dims["pid"]["2231"] == 1
    # the escaped \" and \] inside structured data parse; the BOM before the message is dropped
    assert p.dims["message"]["BOM before the message"] == 1
    assert top(p, "message", 2) == [("query took 812ms", 9), ("order placed id=1842", 6)]
    assert sum(p.minutes.values()) == 32  # one line has the nil timestamp
    # <165>1 2025-06-14T13:20:01.000+02:00 -> local4.notice at 11:20 UTC
    assert p.minutes[(utc_minute(2025, 6, 14, 11, 20), "notice")] == 1


def test_regex_python_logging() -> None:
    p = parse(build_spec("regex", ("level", "logger", "thread"), ("duration_ms",), PYTHON_LOG_REGEX),
              "regex/app_python.log")
    assert (p.lines, p.parsed) == (34, 30)
    assert dict(p.errors) == {"no_match": 3, "partial_match": 1}  # a traceback; a line with colour codes
    assert top(p, "level") == [("INFO", 17), ("DEBUG", 5), ("WARNING", 5), ("ERROR", 3)]
    assert top(p, "logger") == [("worker", 10), ("checkout.api", 7), ("checkout.db", 7), ("auth", 6)]
    assert top(p, "thread") == [("worker-4", 12), ("worker-2", 7), ("worker-3", 6), ("worker-1", 5)]
    count, total, low, high = summary(p, "duration_ms")
    assert (count, round(total, 1), low, high) == (19, 686.2, 4.4, 149.4)
    assert sum(p.minutes.values()) == 30  # "time" is an event-time key; no zone: UTC
    assert p.minutes[(utc_minute(2025, 10, 10, 13, 55), "info")] == 2


def test_nginx_log_format_sample() -> None:
    spec = build_spec("nginx", ("host", "user_agent"), ("upstream_connect_time",), None,
                      log_format=NGINX_TIMING_FORMAT)
    assert spec.dimensions == ("status", "method", "path", "client", "host", "user_agent")
    assert spec.measures == ("bytes_sent", "request_time", "upstream_time", "upstream_connect_time")
    p = parse(spec, "nginx_custom.log")
    assert (p.lines, p.parsed, dict(p.errors)) == (42, 41, {"no_match": 1})  # one line lacks host=
    assert top(p, "status") == [("200", 26), ("304", 7), ("404", 4), ("201", 2), ("400", 1), ("502", 1)]
    assert top(p, "method") == [("GET", 27), ("POST", 10), ("DELETE", 3)]  # the TLS probe has none
    assert top(p, "path") == [("/static/app.js", 9), ("/login", 8), ("/api/v1/cart", 7), ("/health", 7),
                              ("/api/v1/orders/1842", 5), ("/api/v1/orders", 4)]
    assert top(p, "client") == [("2001:db8::17", 16), ("203.0.113.8", 15), ("198.51.100.23", 8),
                                ("203.0.113.7", 1), ("\\x16\\x03\\x01", 1)]
    assert top(p, "host") == [("api.example.com", 22), ("shop.example.com", 18), ("_", 1)]
    assert top(p, "user_agent", 1) == [("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", 16)]
    assert summary(p, "bytes_sent") == (41, 858311, 0, 49062)
    count, total, low, high = summary(p, "request_time")
    assert (count, round(total, 3), low, high) == (41, 3.296, 0.0, 0.666)
    count, total, _, high = summary(p, "upstream_time")  # "-" skipped, "0.036, 0.045" -> 0.036
    assert (count, round(total, 3), high) == (26, 2.454, 0.6)
    assert summary(p, "upstream_connect_time")[:1] == (26,)
    assert dict(p.skipped) == {"missing:upstream_time": 15, "missing:upstream_connect_time": 15}
    assert sum(p.minutes.values()) == 41
    # [10/Oct/2025:13:55:36 +0200] POST /login 200
    assert p.minutes[(utc_minute(2025, 10, 10, 11, 55), "2xx")] == 2


def test_scan_of_every_sample_detects_and_counts(tmp_path: Path) -> None:
    """End to end: `tailstat scan --json` with TAILSTAT_FORMAT=auto over the auto-detectable samples."""
    names = ["nginx_access.log", "nginx_timed.log", "apache_common.log", "app.json.log", "app_logfmt.log",
             "syslog_bsd.log", "syslog_5424.log"]
    result = subprocess.run(
        [sys.executable, "-m", "tailstat", "scan", "--json", *[str(SAMPLES / n) for n in names]],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "TAILSTAT_WORKERS": "1"})
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    formats = {Path(f["path"]).name: f["format"] for f in doc["files"]}
    assert formats == {"nginx_access.log": "combined", "nginx_timed.log": "combined_timed",
                       "apache_common.log": "common", "app.json.log": "json", "app_logfmt.log": "logfmt",
                       "syslog_bsd.log": "syslog", "syslog_5424.log": "syslog"}
    assert doc["totals"]["lines"] == 401 + 400 + 200 + 301 + 45 + 47 + 36
    assert doc["totals"]["parse_errors"] == 1 + 0 + 0 + 1 + 3 + 3 + 3
    assert doc["errors"] == {"no_match": 1 + 1 + 1, "invalid_json": 1, "invalid_logfmt": 2, "empty_line": 1 + 1,
                             "bad_priority": 1, "broken_structured_data": 2}
    # dimensions of different formats meet in one document: status from the access logs only
    assert dict(map(tuple, doc["fields"]["status"]["top"]))["200"] == 293 + 293 + 145
    assert doc["fields"]["level"]["top"][0] == ["info", 208 + 27]
    assert doc["fields"]["program"]["top"][:2] == [["checkout", 17], ["sshd", 16]]  # 5424 + 3164 programs
