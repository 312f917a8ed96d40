"""Every format tags its batches with the window slots of its lines' own timestamps (eventtime.split_slots):
one slot for a batch inside one slot, one part per slot otherwise, the parts adding up to the whole batch;
lines without a time (and unparseable ones) count at ingestion time (slot None)."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace

import pytest

from tailstat.parse import build_spec, parse_batch

T0 = (int(time.time()) // 10 - 30) * 10  # 5 min ago, a multiple of 10: slot T0 // 10 starts here (tier 0)


def clf(t: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))


def combined(t: int, path: str) -> str:
    return f'10.0.0.1 - - [{clf(t)}] "GET {path} HTTP/1.1" 200 10 "-" "ua"\n'


def syslog_bsd(t: int, path: str) -> str:
    return time.strftime("%b %d %H:%M:%S", time.localtime(t)) + f" host {path}[1]: hello\n"


def syslog_5424(t: int, path: str) -> str:
    return f"<14>1 {time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t))}.5Z host {path} 1 - - hello\n"


FORMATS = {
    "combined": (lambda t, p: combined(t, p), ("path",), "path"),
    "json": (lambda t, p: json.dumps({"ts": t, "path": p}) + "\n", ("path",), "path"),
    "json_iso": (lambda t, p: json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S.250Z", time.gmtime(t)),
                                          "path": p}) + "\n", ("path",), "path"),
    "logfmt": (lambda t, p: f"ts={t} path={p}\n", ("path",), "path"),
    "regex": (lambda t, p: f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))} {p}\n", (), "path"),
    "syslog_bsd": (syslog_bsd, ("program",), "program"),
    "syslog_5424": (syslog_5424, ("program",), "program"),
}
REGEX = r"(?P<time>\S+) (?P<path>\S+)"


def spec_for(name: str, slot_seconds: float | None = 10.0):
    fmt = {"json_iso": "json", "syslog_bsd": "syslog", "syslog_5424": "syslog"}.get(name, name)
    _, group_by, _ = FORMATS[name]
    spec = build_spec(fmt, group_by, (), REGEX if fmt == "regex" else None)
    return replace(spec, slot_seconds=slot_seconds, reference_time=float(T0 + 3600))


def counts(dim) -> Counter:
    return Counter(dict(dim.items()))


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_batch_in_one_slot_is_tagged_with_it(name: str) -> None:
    line, _, _ = FORMATS[name]
    data = "".join(line(T0 + i % 10, f"p{i % 3}") for i in range(30)).encode()
    partial = parse_batch(spec_for(name), data)
    assert partial.parsed == 30 and partial.slots is None and partial.slot == T0 // 10
    assert parse_batch(spec_for(name, None), data).slot is None  # no windows (scan): nothing computed


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_batch_over_three_slots_is_split_into_parts_that_add_up(name: str) -> None:
    line, _, field = FORMATS[name]
    rows = [line(T0 + 10 * (i % 3) + i % 7, f"p{i % 3}") for i in range(60)]
    data = ("".join(rows[:30]) + "\x01 not a line\n" + "".join(rows[30:])).encode()
    partial = parse_batch(spec_for(name), data)
    assert partial.lines == 61 and partial.parsed == 60 and partial.slot is None
    parts = partial.slots
    assert set(parts) == {T0 // 10, T0 // 10 + 1, T0 // 10 + 2, None}
    for k in range(3):  # line i is in slot k = i % 3 and has value p{k}
        part = parts[T0 // 10 + k]
        assert part.lines == part.parsed == 20 and counts(part.dims[field]) == Counter({f"p{k}": 20})
        assert not part.errors
    assert parts[None].lines == 1 and parts[None].parsed == 0 and sum(parts[None].errors.values()) == 1
    assert sum(p.lines for p in parts.values()) == 61 and sum(p.bytes for p in parts.values()) == len(data)
    whole = parse_batch(spec_for(name, None), data)  # the same batch without windows: one aggregate
    total = Counter()
    for p in parts.values():
        if field in p.dims:
            total.update(counts(p.dims[field]))
    assert total == counts(whole.dims[field]) and not partial.dims  # the parts hold the aggregates
    minutes = Counter()
    for p in parts.values():
        minutes.update(p.minutes)
    assert minutes == whole.minutes and not partial.minutes


def test_lines_without_a_time_count_at_ingestion() -> None:
    data = b'{"path": "a"}\n{"path": "b", "ts": %d}\n' % (T0 + 3)
    partial = parse_batch(spec_for("json"), data)
    assert set(partial.slots) == {None, T0 // 10}
    assert counts(partial.slots[None].dims["path"]) == Counter({"a": 1})
    assert parse_batch(spec_for("json"), b'{"path": "a"}\n').slot is None


def test_a_batch_in_one_slot_with_a_bad_line_puts_the_bad_line_now() -> None:
    data = (combined(T0, "/a") + "junk\n").encode()
    partial = parse_batch(spec_for("combined"), data)
    assert set(partial.slots) == {T0 // 10, None}
    assert partial.slots[T0 // 10].lines == 1 and not partial.slots[T0 // 10].errors
    assert partial.slots[None].errors == Counter({"no_match": 1})
    assert partial.slots[T0 // 10].bytes + partial.slots[None].bytes == len(data)


def test_syslog_bsd_seconds_are_local_time() -> None:
    t = T0 + 7  # written in local time: the slot is that of the epoch second
    partial = parse_batch(replace(spec_for("syslog_bsd"), reference_time=float(t)), syslog_bsd(t, "x").encode())
    assert partial.slot == t // 10


def test_older_lines_split_by_the_ring_s_coarser_slots() -> None:
    """Past 16 minutes the ring keeps 1 min slots, past an hour 15 min ones, past 24.5 h none: a batch is split
    by those, not by 10 s (the lines of one coarse slot are one part)."""
    now = int(time.time())
    hour_ago = (now - 3 * 3600) // 900 * 900 + 5  # 3 h ago: a 15 min slot's start + 5 s
    data = "".join(combined(hour_ago + i * 60, "/q") for i in range(10)).encode()  # 10 min: one 15 min slot
    partial = parse_batch(spec_for("combined"), data)
    assert partial.slots is None and partial.slot == hour_ago // 900 * 90
    day_old = "".join(combined(now - 30 * 3600 + i * 100, "/d") for i in range(5)).encode()
    assert parse_batch(spec_for("combined"), day_old).slot == -1  # older than the ring: only in all
    future = "".join(combined(now + 3600 + i * 20, "/f") for i in range(5)).encode()
    assert parse_batch(spec_for("combined"), future).slot in (now // 10, now // 10 + 1)  # counted now
