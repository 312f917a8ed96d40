"""The reader's line-cutting hook: a per-source "where does the last complete unit end" function holds back a
trailing incomplete unit the way an unterminated line is held back (for the multiline grouping to come)."""

from __future__ import annotations

import re

from tailstat.config import load_config
from tailstat.tail.reader import Batch, LineCutter, Tracked, last_line_end


def event_end(buf: bytes) -> int:
    """Toy multiline rule: an event is a line and the indented lines after it; the last event is complete only
    once the next event's first line has begun (a new unindented line after a newline)."""
    starts = [m.start() + 1 for m in re.finditer(rb"\n(?=[^ \n])", buf)]
    return starts[-1] if starts else 0


def feed(cutter: LineCutter, t: Tracked, chunks: list[bytes]) -> list[Batch]:
    out: list[Batch] = []
    for chunk in chunks:
        t.pos += len(chunk)
        cutter.cut(t, chunk, out)
    return out


def make(tmp_path) -> tuple[LineCutter, Tracked]:
    cfg = load_config({"TAILSTAT_PATHS": f"{tmp_path}/*.log", "TAILSTAT_FORMAT": "json",
                       "TAILSTAT_STATE_DIR": str(tmp_path / "state")})
    cutter = LineCutter(cfg, lambda reason, n: None, lambda t, data: None)
    t = Tracked(key="f1", path=str(tmp_path / "a.log"), origin=str(tmp_path / "a.log"), source=cfg.sources[0],
                dev=1, ino=1, spec=cfg.sources[0].spec)
    return cutter, t


def test_default_unit_is_a_line(tmp_path) -> None:
    cutter, t = make(tmp_path)
    out = feed(cutter, t, [b"a\nb", b"\nc"])
    assert [(b.start, b.end, b.data) for b in out] == [(0, 2, b"a\n"), (2, 4, b"b\n")]
    assert (t.line_start, t.pending) == (4, b"c")
    assert last_line_end(b"x\ny") == 2 and last_line_end(b"xy") == 0


def test_a_source_unit_end_holds_back_the_trailing_event(tmp_path) -> None:
    cutter, t = make(tmp_path)
    cutter.set_unit_end(t.source.name, event_end)
    data = [b"E1 start\n  more\n", b"E2 start\n  x\n  y\n", b"E3", b" start\n"]
    out = feed(cutter, t, data)
    # E1 is complete once E2 began; E2 once E3 began; E3 is held back (it may still get continuation lines)
    assert [(b.start, b.end, b.data) for b in out] == [(0, 16, b"E1 start\n  more\n"),
                                                      (16, 33, b"E2 start\n  x\n  y\n")]
    assert (t.line_start, t.pending) == (33, b"E3 start\n")  # a crash re-reads from the event's first line
    flushed: list[Batch] = []
    cutter.flush(t, flushed)  # a finished file (or a quiet timeout): the held-back event counts
    assert [(b.start, b.end, b.data) for b in flushed] == [(33, 42, b"E3 start\n")]
