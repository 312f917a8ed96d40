"""Parsers on hand-written lines: syslog (3164/5424), logfmt, nginx log_format, timing fields, detection, and
every kind of bad input counted by reason, never a crash."""

from __future__ import annotations

import calendar
import dataclasses
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailstat.config import ConfigError
from tailstat.formats import build_spec, detect, parse_batch, parse_logfmt_line
from tailstat.logformat import LogFormatError, compile_log_format, log_format_fields
from tailstat.partial import Partial
from tailstat.syslog import bsd_minute


def parse(fmt: str, data: bytes, dims: tuple[str, ...] = (), measures: tuple[str, ...] = (),
          regex: str | None = None, log_format: str | None = None, now: float | None = None) -> Partial:
    spec = build_spec(fmt, dims, measures, regex, log_format=log_format)
    if now is not None:
        spec = dataclasses.replace(spec, reference_time=now)
    return parse_batch(spec, data)


def dims(p: Partial) -> dict[str, dict[str, int]]:
    return {k: dict(v) for k, v in p.dims.items()}


def local_minute(y: int, mo: int, d: int, h: int, mi: int) -> int:
    return int(time.mktime((y, mo, d, h, mi, 0, 0, 0, -1))) // 60


# ------------------------------------------------------------------------------------------------- syslog
SYSLOG_ALL = ("host", "program", "pid", "facility", "severity", "message", "msgid")


def test_syslog_3164_fields() -> None:
    p = parse("syslog", b"<38>Jun 14 15:16:01 web1 sshd[2231]: Accepted publickey for deploy\n", SYSLOG_ALL)
    assert (p.lines, p.parsed, dict(p.errors)) == (1, 1, {})
    assert dims(p) == {"host": {"web1": 1}, "program": {"sshd": 1}, "pid": {"2231": 1},
                       "facility": {"auth": 1}, "severity": {"info": 1},  # 38 = auth(4) * 8 + info(6)
                       "message": {"Accepted publickey for deploy": 1}}


@pytest.mark.parametrize(("line", "program", "pid", "message"), [
    (b"Jun 14 15:16:01 h (sd-pam)[990]: closed", "(sd-pam)", "990", "closed"),
    (b"Jun 14 15:16:01 h org.gnome.Shell.desktop[2221]: hi", "org.gnome.Shell.desktop", "2221", "hi"),
    (b"Jun 14 15:16:01 h postfix/smtpd[4410]: connect", "postfix/smtpd", "4410", "connect"),
    (b"Jun 14 15:16:01 h /usr/sbin/cron[77]: job", "/usr/sbin/cron", "77", "job"),
    (b"Jun 14 15:16:01 h systemd-logind[5]: New session", "systemd-logind", "5", "New session"),
    (b"Jun 14 15:16:01 h kernel: [ 12.5] eth0: up", "kernel", None, "[ 12.5] eth0: up"),
    (b"Jun  4 15:16:01 h sudo:    alice : TTY=pts/0", "sudo", None, "   alice : TTY=pts/0"),
    (b"Jun 14 15:16:01 h -- MARK --", None, None, "-- MARK --"),
])
def test_syslog_3164_program_names(line: bytes, program: str | None, pid: str | None, message: str) -> None:
    p = parse("syslog", line + b"\n", ("pid", "message"))
    assert p.parsed == 1
    assert dims(p).get("program") == ({program: 1} if program else None)
    assert dims(p).get("pid") == ({pid: 1} if pid else None)
    assert dims(p)["message"] == {message: 1}


def test_syslog_5424_fields_nil_values_and_sd() -> None:
    data = (b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 77 ID47 '
            b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 '
            b'class="high"] An application event log entry\n'
            b'<13>1 - - - - - -\n'
            b'<14>1 2003-10-11T22:14:15Z host app - - [a@1 v="x \\] y \\" z \\\\"] \xef\xbb\xbfwith a BOM\n')
    p = parse("syslog", data, SYSLOG_ALL)
    assert (p.lines, p.parsed, dict(p.errors)) == (3, 3, {})
    assert dims(p) == {
        "host": {"mymachine.example.com": 1, "host": 1}, "program": {"evntslog": 1, "app": 1}, "pid": {"77": 1},
        "facility": {"local4": 1, "user": 2}, "severity": {"notice": 2, "info": 1}, "msgid": {"ID47": 1},
        "message": {"An application event log entry": 1, "with a BOM": 1},
    }
    utc = calendar.timegm((2003, 10, 11, 22, 14, 0)) // 60
    assert dict(p.minutes) == {(utc, "notice"): 1, (utc, "info"): 1}  # the nil timestamp has no minute


@pytest.mark.parametrize(("line", "reason"), [
    (b'<14>1 2025-06-14T13:20:09Z h app 1 ID [m@1 region="eu" env=prod] unquoted', "broken_structured_data"),
    (b'<14>1 2025-06-14T13:20:09Z h app 1 ID [m@1 region="eu] unterminated', "broken_structured_data"),
    (b"<14>1 2025-06-14T13:20:09Z h app 1 ID [] empty element", "broken_structured_data"),
    (b"<14>1 2025-06-14T13:20:09Z h app 1 ID [m@1 a=\"1\"]no space before msg", "broken_structured_data"),
    (b"<192>Jun 14 15:16:01 h p: too high", "bad_priority"),
    (b"<013>Jun 14 15:16:01 h p: leading zero", "bad_priority"),
    (b"<>Jun 14 15:16:01 h p: empty", "bad_priority"),
    (b"<13>2 2025-06-14T13:20:09Z h app 1 ID - version 2", "no_match"),
    (b"Jux 14 15:16:01 h p: bad month", "no_match"),
    (b"just text", "no_match"),
    (b"", "empty_line"),
])
def test_syslog_bad_lines_are_counted_by_reason(line: bytes, reason: str) -> None:
    p = parse("syslog", b"Jun 14 15:16:01 ok p: fine\n" + line + b"\n", ("message",))
    assert (p.lines, p.parsed, dict(p.errors)) == (2, 1, {reason: 1})
    assert dims(p)["host"] == {"ok": 1}


def test_syslog_3164_year_and_december_rollover() -> None:
    jan_5 = calendar.timegm((2026, 1, 5, 12, 0, 0))
    # read in January: a December line is last year's, a January line this year's
    assert bsd_minute("Dec 31 23:59", 2026, jan_5) == local_minute(2025, 12, 31, 23, 59)
    assert bsd_minute("Jan  5 11:00", 2026, jan_5) == local_minute(2026, 1, 5, 11, 0)
    # up to a day ahead (clock skew between hosts) stays this year
    assert bsd_minute("Jan  6 10:00", 2026, jan_5) == local_minute(2026, 1, 6, 10, 0)
    assert bsd_minute("Jun 14 15:16", 2026, jan_5) == local_minute(2025, 6, 14, 15, 16)
    # Feb 29 only exists in leap years: in 2025 it is read as 2024's
    mar_2025 = calendar.timegm((2025, 3, 10, 0, 0, 0))
    assert bsd_minute("Feb 29 10:00", 2025, mar_2025) == local_minute(2024, 2, 29, 10, 0)
    p = parse("syslog", b"<11>Dec 31 23:59:59 h p: x\n<11>Jan  1 00:00:01 h p: y\n", now=jan_5)
    assert dict(p.minutes) == {(local_minute(2025, 12, 31, 23, 59), "err"): 1,
                               (local_minute(2026, 1, 1, 0, 0), "err"): 1}


def test_syslog_crlf_invalid_utf8_and_nul() -> None:
    p = parse("syslog", b"Jun 14 15:16:01 h\xff p[1]: caf\xc3\xa9 \x00\r\n<13>1 - h a - - -\r\n", ("message",))
    assert (p.lines, p.parsed, dict(p.errors)) == (2, 2, {})
    assert dims(p)["host"] == {"h\ufffd": 1, "h": 1}
    assert dims(p)["message"] == {"caf\u00e9 \x00": 1}


# ------------------------------------------------------------------------------------------------- logfmt
def test_logfmt_line() -> None:
    assert parse_logfmt_line('level=info msg="say \\"hi\\" \\\\ now" dur=1.5 cached empty= q=""') == {
        "level": "info", "msg": 'say "hi" \\ now', "dur": "1.5", "cached": True, "empty": "", "q": ""}
    assert parse_logfmt_line("a=1 b=2 url=/x?y=1") == {"a": "1", "b": "2", "url": "/x?y=1"}
    assert parse_logfmt_line('msg="unterminated') is None
    assert parse_logfmt_line("plain words only") is None  # no key=value at all
    assert parse_logfmt_line('a=1 "stray"') is None
    assert parse_logfmt_line("=1") is None


def test_logfmt_dimensions_measures_and_minutes() -> None:
    data = (b'time=2025-10-10T13:55:36Z level=error service=auth http.status=500 dur=12.5\r\n'
            b'ts=1760104536 lvl=INFO service=auth dur="7"\n'
            b'level=chatty service=x dur=fast\n'
            b'nothing here\n')
    p = parse("logfmt", data, ("service", "http.status"), ("dur",))
    assert (p.lines, p.parsed, dict(p.errors)) == (4, 3, {"invalid_logfmt": 1})
    assert dims(p) == {"level": {"error": 1, "chatty": 1}, "service": {"auth": 2, "x": 1},
                       "http.status": {"500": 1}}
    assert p.measures["dur"].summary()["sum"] == 19.5  # "7" quoted is a number too
    assert dict(p.skipped) == {"not_a_number:dur": 1}
    minute = calendar.timegm((2025, 10, 10, 13, 55, 0)) // 60
    assert dict(p.minutes) == {(minute, "error"): 1, (1760104536 // 60, "info"): 1}


# ------------------------------------------------------------------------------------------ nginx formats
def test_nginx_log_format_fields_and_renames() -> None:
    fmt = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
           '"$http_user_agent" $request_time $upstream_response_time "$http_x_forwarded_for" $request_id')
    assert log_format_fields(fmt) == (
        "client", "user", "method", "path", "protocol", "status", "bytes_sent", "referer", "user_agent",
        "request_time", "upstream_time", "http_x_forwarded_for", "request_id")
    line = (b'10.0.0.1 - bob [10/Oct/2025:13:55:36 +0000] "GET /a?q=1 HTTP/1.1" 502 0 "-" "curl/8" 0.250 '
            b'0.100, 0.140 : 0.002 "203.0.113.9, 10.0.0.1" 5f1c\n')
    p = parse("nginx", line, ("user", "protocol", "referer", "user_agent", "http_x_forwarded_for",
                              "request_id"), log_format=fmt)
    assert (p.lines, p.parsed) == (1, 1)
    assert dims(p) == {"status": {"502": 1}, "method": {"GET": 1}, "path": {"/a": 1}, "client": {"10.0.0.1": 1},
                       "user": {"bob": 1}, "protocol": {"HTTP/1.1": 1}, "referer": {"-": 1},
                       "user_agent": {"curl/8": 1}, "http_x_forwarded_for": {"203.0.113.9, 10.0.0.1": 1},
                       "request_id": {"5f1c": 1}}
    assert p.measures["upstream_time"].summary()["max"] == 0.1  # the first of the list
    assert p.measures["request_time"].summary()["max"] == 0.25
    assert dict(p.minutes) == {(calendar.timegm((2025, 10, 10, 13, 55, 0)) // 60, "5xx"): 1}


def test_nginx_log_format_iso_time_msec_and_pasted_quotes() -> None:
    pasted = """'$remote_addr [$time_iso8601] $status '\n   '"$request" $request_length';"""
    assert log_format_fields(pasted) == ("client", "status", "method", "path", "protocol", "request_length")
    p = parse("nginx", b'::1 [2025-10-10T15:55:36+02:00] 404 "GET / HTTP/2.0" 120\n', ("request_length",),
              log_format=pasted)
    assert dims(p)["request_length"] == {"120": 1}
    assert dict(p.minutes) == {(calendar.timegm((2025, 10, 10, 13, 55, 0)) // 60, "4xx"): 1}
    p = parse("nginx", b"1760104536.123 GET\n", log_format="$msec $request_method")
    assert dict(p.minutes) == {(1760104536 // 60, ""): 1}
    assert dims(p) == {"method": {"GET": 1}}


@pytest.mark.parametrize(("fmt", "message"), [
    ("$remote_addr $geoip_country_code", "uses $geoip_country_code, which is not supported"),
    ("$remote_addr$remote_user", "has $remote_addr and $remote_user with nothing between them"),
    ("$status $status", "logs field 'status' twice"),
    ('"$request" $request_method', "logs field 'method' twice ($request and $request_method)"),
    ("cost $ 5", "has a '$' without a variable name"),
    ("${status", "has a '$' without a variable name"),
    ("no variables", "has no $variable"),
    ("   ", "is empty"),
])
def test_nginx_log_format_unsupported_constructs(fmt: str, message: str) -> None:
    with pytest.raises(LogFormatError) as err:
        compile_log_format(fmt)
    assert message in str(err.value)
    with pytest.raises(ConfigError) as cfg_err:
        build_spec("nginx", (), (), None, log_format=fmt, log_format_var="TAILSTAT_SOURCE_WEB_NGINX_LOG_FORMAT")
    assert str(cfg_err.value) == f"TAILSTAT_SOURCE_WEB_NGINX_LOG_FORMAT={fmt!r} {err.value}"


def test_nginx_braced_variable_and_strict_end() -> None:
    p = parse("nginx", b"a.b 200 x\na.b 200\n", log_format="${remote_addr} ${status}")
    assert (p.parsed, dict(p.errors)) == (1, {"no_match": 1})  # a user format matches whole lines only


# ------------------------------------------------------------------------------------------ access timing
def test_combined_timed_dash_and_comma_lists() -> None:
    head = b'1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "c" '
    p = parse("combined_timed", head + b"0.100 -\r\n" + head + b"0.200 0.050, 0.120 : 0.300\n" + head + b"- -\n")
    assert (p.lines, p.parsed) == (3, 3)
    assert p.measures["request_time"].summary()["count"] == 2
    assert p.measures["upstream_time"].summary()["sum"] == 0.05
    assert dict(p.skipped) == {"missing:request_time": 1, "missing:upstream_time": 2}


def test_common_dash_bytes_is_zero_and_garbage_requests() -> None:
    data = (b'1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "GET /a HTTP/1.0" 304 -\n'
            b'1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "-" 400 0\n'
            b'1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "\\x16\\x03\\x01" 400 150\n')
    p = parse("common", data)
    assert (p.parsed, dims(p)["method"], dims(p)["status"]) == (3, {"GET": 1}, {"304": 1, "400": 2})
    assert p.measures["bytes_sent"].summary()["count"] == 3


# ------------------------------------------------------------------------------------ bad input, counted
def test_json_bad_input_counted_by_reason() -> None:
    deep = b"[" * 2000 + b"]" * 2000
    nested_value = b'{"level": ' + b"[" * 300 + b"]" * 300 + b', "d": 1}'
    data = b"\n".join([b"[1, 2]", b'"text"', deep, b"{broken", b"", nested_value,
                       b'{"level": "info", "d": "12.5", "e": "x"}', b'{"d": true, "e": null}', b'{"d": "-"}']) + b"\n"
    p = parse("json", data, (), ("d", "e"))
    assert (p.lines, p.parsed) == (9, 4)
    assert dict(p.errors) == {"not_an_object": 2, "too_deep": 1, "invalid_json": 1, "empty_line": 1}
    assert dims(p) == {"level": {"(too deep)": 1, "info": 1}}  # a value nested past orjson's writer limit
    assert p.measures["d"].summary()["sum"] == 13.5  # 1 and "12.5"
    assert dict(p.skipped) == {"not_a_number:d": 1, "not_a_number:e": 1, "missing:d": 1}


def test_regex_partial_and_no_match() -> None:
    p = parse("regex", b"a=1\nxx a=2\nnothing\na=3\r\n", (), ("v",), regex=r"a=(?P<v>\d+)")
    assert (p.lines, p.parsed, dict(p.errors)) == (4, 2, {"partial_match": 1, "no_match": 1})
    assert p.measures["v"].summary()["sum"] == 4


def test_regex_group_names_are_checked() -> None:
    with pytest.raises(ConfigError) as err:
        build_spec("regex", ("lvl",), (), r"(?P<level>\w+)")
    assert str(err.value) == ("TAILSTAT_GROUP_BY names 'lvl', which is not a named group of TAILSTAT_REGEX; "
                              "accepted: level")


def test_unknown_field_for_a_fixed_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        build_spec("combined", ("stauts",), (), None)
    assert str(err.value).startswith("TAILSTAT_GROUP_BY names 'stauts', which format combined does not have; "
                                     "accepted: client, ident, user")
    with pytest.raises(ConfigError) as err:
        build_spec("syslog", (), ("latency",), None, measures_var="TAILSTAT_SOURCE_SYS_MEASURES")
    assert "TAILSTAT_SOURCE_SYS_MEASURES names 'latency'" in str(err.value)


# ----------------------------------------------------------------------------------------------- detection
@pytest.mark.parametrize(("head", "fmt"), [
    (b'{"level": "info"}\n{"level": "warn"}\n', "json"),
    (b"Jun 14 15:16:01 h sshd[1]: a=b c=d\n<13>1 - h a - - - x\n", "syslog"),
    (b'1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "c" 0.1 0.1\n', "combined_timed"),
    (b'1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "c"\n', "combined"),
    (b'1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "GET / HTTP/1.1" 200 5\n', "common"),
    (b'time=2025-10-10T13:55:36Z level=info msg="x"\nlevel=warn y=1\n', "logfmt"),
    (b"hello world\nsecond line\n", "text:ts=-,skip=,level=-,logger=-"),  # no header: one event per line
    (b"", None),
    # no known format fits most lines: the text format, not a guess
    (b'{"a": 1}\nnot json\nnot json either\n', "text:ts=-,skip=,level=-,logger=-"),
    (b"2026-12-01 10:00:00,123 INFO [main] com.example.Foo: started\n", "text:ts=iso/0,skip=,level=word,logger=bc"),
    # key=value pairs inside messages do not make a logcat file logfmt
    ((b"03-17 16:13:38.819  1702  8671 D PowerManagerService: acquire lock=233570404, flags=0x1\n"
     b"03-17 16:13:38.820  1702  8671 I PowerManagerService: ready=true,policy=3\n"),
     "text:ts=mmdd/0,skip=dd,level=letter,logger=c"),
])
def test_detect(head: bytes, fmt: str | None) -> None:
    assert detect(head) == fmt


# ---------------------------------------------------------------------------------- batch independence
LINES = [
    b'1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "c"',
    b'2.2.2.2 - bob [10/Oct/2025:13:56:01 +0000] "POST /b?x=1 HTTP/1.1" 500 - "-" "d"',
    b"garbage",
    b"",
    b"Jun 14 15:16:01 h sshd[1]: x",
    b"<13>1 2025-06-14T13:20:09Z h app 1 ID [m@1 a=\"x\"] msg",
    b'level=info svc=a dur=3',
    b'{"level": "warn", "dur": 2}',
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=40), st.integers(min_value=0, max_value=40),
       st.sampled_from(["combined", "syslog", "logfmt", "json"]))
def test_splitting_a_batch_never_changes_the_counts(lines: list[bytes], cut: int, fmt: str) -> None:
    """parse(A + B) == parse(A) absorbed with parse(B): the pool may cut batches anywhere between lines."""
    cut = min(cut, len(lines))
    spec = dataclasses.replace(build_spec(fmt, (), ("dur",) if fmt in ("logfmt", "json") else (), None),
                               reference_time=calendar.timegm((2025, 6, 20, 0, 0, 0)))
    whole = parse_batch(spec, b"".join(ln + b"\n" for ln in lines))
    left = parse_batch(spec, b"".join(ln + b"\n" for ln in lines[:cut]))
    left.absorb(parse_batch(spec, b"".join(ln + b"\n" for ln in lines[cut:])))
    assert (left.lines, left.parsed, left.errors, left.minutes, left.skipped) == (
        whole.lines, whole.parsed, whole.errors, whole.minutes, whole.skipped)
    assert {k: +v for k, v in left.dims.items()} == {k: +v for k, v in whole.dims.items()}
    assert {k: v.to_dict()["positive"] for k, v in left.measures.items()} == {
        k: v.to_dict()["positive"] for k, v in whole.measures.items()}


def test_absorbing_many_batches_counts_them_all_and_leaves_each_batch_as_it_was() -> None:
    """A process worker folds a whole byte range of batches into one partial before it crosses the pipe."""
    from tailstat.partial import Partial

    spec = build_spec("combined", (), (), None)
    batches = [parse_batch(spec, (
        f'10.0.0.{k} - - [10/Oct/2025:13:55:36 +0000] "GET /p{i} HTTP/1.1" 200 5 "-" "ua"\n' * (i + 1)).encode())
        for i, k in enumerate((1, 2, 1, 3))]
    total = Partial()
    for batch in batches:
        total.absorb(batch)
    assert (total.lines, total.parsed) == (10, 10)
    assert dict(total.dims["client"]) == {"10.0.0.1": 4, "10.0.0.2": 2, "10.0.0.3": 4}
    assert dict(total.dims["path"]) == {"/p0": 1, "/p1": 2, "/p2": 3, "/p3": 4}
    assert [dict(b.dims["path"]) for b in batches] == [{"/p0": 1}, {"/p1": 2}, {"/p2": 3}, {"/p3": 4}]
    # a worker's sketch for a dimension, then a raw column of the next batch
    from tailstat.partial import Column, FieldSketch

    sketched = Partial(dims={"x": FieldSketch.of(Counter(a=2))})
    sketched.absorb(Partial(dims={"x": Column(("b", "a"))}))
    assert (sketched.dims["x"].topk.top(5), sketched.dims["x"].distinct.count()) == ([("a", 3), ("b", 1)], 2)


def test_an_escaped_quote_in_the_request_still_parses_the_line() -> None:
    """Apache writes a quote inside %r as \\"; such a request is not split into method and path, but the line
    (status, client, bytes) still counts, as does the same escape in the user agent."""
    spec = build_spec("combined", (), (), None)
    data = (b'1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] "GET /a\\"b HTTP/1.1" 404 5 "-" "ua"\n'
            b'1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] "GET /ok HTTP/1.1" 200 7 "-" "a \\"quoted\\" ua"\n')
    partial = parse_batch(spec, data)
    assert (partial.lines, partial.parsed, dict(partial.errors)) == (2, 2, {})
    assert (dict(partial.dims["status"]), dict(partial.dims["path"])) == ({"404": 1, "200": 1}, {"/ok": 1})
