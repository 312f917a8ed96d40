"""The multiline joiner (parse/multiline.py): however a file's lines arrive in chunks, the events it emits
are exactly the file's events, and no chunk it emits starts inside an event."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tailstat.parse import build_spec, detect, parse_batch
from tailstat.parse.multiline import Joiner

LEVELS = ("INFO", "WARN", "ERROR", "DEBUG")
CONTINUATIONS = ("\tat com.example.A.run(A.java:{n})", "Caused by: java.io.IOException: reset {n}", "\t... {n} more",
                 "  File \"app.py\", line {n}, in main", "java.lang.IllegalStateException: state {n}")

events_strategy = st.lists(st.tuples(st.sampled_from(LEVELS), st.integers(0, 99), st.integers(0, 6)),
                           min_size=1, max_size=40)


def render(events: list[tuple[str, int, int]]) -> bytes:
    lines = []
    for i, (level, n, extra) in enumerate(events):
        lines.append(f"2026-12-01 10:{i // 60 % 60:02d}:{i % 60:02d},000 {level} [main] com.example.App: job {n} done")
        lines.extend(CONTINUATIONS[(n + j) % len(CONTINUATIONS)].format(n=n + j) for j in range(extra))
    return ("\n".join(lines) + "\n").encode()


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut after the given line numbers (complete lines only, as readers hand them over)."""
    lines = data.splitlines(keepends=True)
    points = sorted({c % (len(lines) + 1) for c in cuts} | {0, len(lines)})
    return [b"".join(lines[a:b]) for a, b in itertools.pairwise(points)]


SPEC_HEAD = render([("INFO", 1, 0), ("WARN", 2, 1)])
SPEC = build_spec("auto", (), (), None).resolved(detect(SPEC_HEAD))


@settings(max_examples=150, deadline=None)
@given(events_strategy, st.lists(st.integers(0, 400), max_size=12))
def test_emitted_chunks_hold_whole_events_and_add_up_to_the_input(events, cuts) -> None:
    data = render(events)
    joiner = Joiner.for_spec(SPEC, data)
    assert joiner is not None
    out: list[bytes] = []
    for chunk in chunks(data, cuts):
        out.append(joiner.feed(chunk))
        assert joiner.held <= len(data)
    out.append(joiner.flush())  # the end of the file (or the writer's quiet timeout)
    assert b"".join(out) == data
    assert joiner.held == 0
    pieces = [p for p in out if p]
    assert all(p[:4] == b"2026" for p in pieces)  # every emitted chunk starts at an event's first line
    whole = parse_batch(SPEC, data)
    total = None
    for p in pieces:
        part = parse_batch(SPEC, p)
        if total is None:
            total = part
        else:
            total.absorb(part)
    assert total is not None
    assert (total.lines, total.events) == (whole.lines, whole.events) == (data.count(b"\n"), len(events))
    canonical = {"INFO": "info", "WARN": "warn", "ERROR": "error", "DEBUG": "debug"}
    expected = Counter(canonical[level] for level, _, _ in events)
    assert Counter(total.dims["level"]) == Counter(whole.dims["level"]) == expected
    assert Counter(total.dims["pattern"]) == Counter(whole.dims["pattern"])


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 60), st.integers(2, 12), st.lists(st.integers(0, 100), max_size=8))
def test_bounded_events_are_cut_where_the_parser_cuts_them(extra, max_lines, cuts) -> None:
    spec = build_spec("auto", (), (), None, multiline_max_lines=max_lines).resolved(detect(SPEC_HEAD))
    data = render([("ERROR", 7, 0)]) + b"".join(f"\tat a.B.c(B.java:{i})\n".encode() for i in range(extra))
    data += render([("INFO", 8, 0)]).replace(b"10:00:00", b"10:00:01")
    joiner = Joiner.for_spec(spec, data)
    assert joiner is not None
    out = [joiner.feed(c) for c in chunks(data, cuts)] + [joiner.flush()]
    assert b"".join(out) == data
    events = sum(parse_batch(spec, p).events for p in out if p)
    # the error and its stack lines: one event per max_lines lines; then the INFO event
    assert events == parse_batch(spec, data).events == -(-(1 + extra) // max_lines) + 1


def test_no_joiner_without_multiline_or_for_other_formats() -> None:
    assert Joiner.for_spec(build_spec("combined", (), (), None)) is None
    off = build_spec("auto", (), (), None, multiline=False).resolved(detect(SPEC_HEAD))
    assert Joiner.for_spec(off) is None


def test_held_bytes_are_what_a_reader_must_not_commit() -> None:
    data = render([("ERROR", 1, 3), ("INFO", 2, 0)])
    joiner = Joiner.for_spec(SPEC, data)
    assert joiner is not None
    lines = data.splitlines(keepends=True)
    first = joiner.feed(b"".join(lines[:3]))  # the error and 2 of its 3 stack lines
    assert (first, joiner.held) == (b"", len(b"".join(lines[:3])))
    second = joiner.feed(b"".join(lines[3:]))  # the last stack line and the next event
    assert second == b"".join(lines[:4])
    assert joiner.held == len(lines[4])
    assert joiner.flush() == lines[4]


@settings(max_examples=100, deadline=None)
@given(events_strategy, st.lists(st.integers(0, 400), max_size=12), st.integers(0, 30))
def test_unit_end_hook_cuts_where_feed_does(events, cuts, partial_tail) -> None:
    """The stateless hook a reader calls with its held-back bytes plus what it read: the same cuts as `feed`."""
    data = render(events)
    joiner = Joiner.for_spec(SPEC, data)
    assert joiner is not None
    pending, emitted = b"", []
    for chunk in chunks(data, cuts):
        buf = pending + chunk + data[:partial_tail].replace(b"\n", b" ")  # an unterminated line may follow
        end = joiner.unit_end(buf)
        assert 0 <= end <= buf.rfind(b"\n") + 1
        emitted.append(buf[:end])
        pending = (pending + chunk)[end:]
    emitted.append(pending)
    assert b"".join(emitted) == data
    assert all(p[:4] == b"2026" for p in emitted if p)
