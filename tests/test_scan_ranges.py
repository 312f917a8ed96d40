"""`tailstat scan` reads files in pieces (thread mode: _chunks) or byte ranges (process mode: read_range): every
line must land in exactly one piece, whole, whatever the piece size, line lengths and final newline."""

from __future__ import annotations

import tempfile
from itertools import pairwise
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tailstat.scan import _chunks, read_range

LINES = st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x")), max_size=30)


def write(lines: list[bytes], final_newline: bool) -> tuple[Path, bytes]:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    fd, name = tempfile.mkstemp(prefix="tailstat-ranges-")
    with open(fd, "wb") as fh:
        fh.write(data)
    return Path(name), data


def as_lines(data: bytes) -> list[bytes]:
    """What a reader must see: every line newline-terminated, the unterminated last one too."""
    return [ln + b"\n" for ln in data.split(b"\n")[: -1 if data.endswith(b"\n") else None]] if data else []


@settings(max_examples=200, deadline=None)
@given(LINES, st.booleans(), st.integers(min_value=1, max_value=64))
def test_chunks_cover_every_line_once_with_their_end_offsets(lines: list[bytes], final_newline: bool,
                                                            size: int) -> None:
    path, data = write(lines, final_newline)
    try:
        pieces = list(_chunks(str(path), size))
    finally:
        path.unlink()
    assert as_lines(b"".join(p for _, p in pieces)) == as_lines(data)
    assert all(p.endswith(b"\n") for _, p in pieces)
    ends = [end for end, _ in pieces]
    assert ends == sorted(ends) and (not ends or ends[-1] == len(data))
    # each piece ends where its bytes end in the file (the last one may carry an added newline)
    position = 0
    for end, piece in pieces:
        assert data[position:end] in (piece, piece[:-1]), (position, end)
        position = end


@settings(max_examples=200, deadline=None)
@given(LINES, st.booleans(), st.lists(st.integers(min_value=0, max_value=1300), max_size=5),
       st.integers(min_value=1, max_value=64))
def test_byte_ranges_give_every_line_to_exactly_one_range(lines: list[bytes], final_newline: bool,
                                                          cuts: list[int], batch: int) -> None:
    path, data = write(lines, final_newline)
    bounds = [0, *sorted({min(c, len(data)) for c in cuts}), len(data)]
    try:
        got = [b for start, end in pairwise(bounds) for b in read_range(str(path), start, end, batch)]
    finally:
        path.unlink()
    assert as_lines(b"".join(got)) == as_lines(data)
    assert all(b.endswith(b"\n") for b in got)


@settings(max_examples=200, deadline=None)
@given(LINES, st.booleans(), st.lists(st.integers(min_value=0, max_value=1300), max_size=5),
       st.integers(min_value=1, max_value=64))
def test_parsed_ranges_add_up_to_the_file(lines: list[bytes], final_newline: bool, cuts: list[int],
                                           batch: int) -> None:
    """What process-mode workers return for their ranges sums to the file's lines and bytes exactly (a newline
    added to a final unterminated line is not counted; a range that begins inside a line returns nothing)."""
    from tailstat.formats import build_spec
    from tailstat.scan import parse_range

    path, data = write(lines, final_newline)
    bounds = [0, *sorted({min(c, len(data)) for c in cuts}), len(data)]
    spec = build_spec("logfmt", (), (), None)
    try:
        parts = [parse_range(spec, str(path), start, end, batch, 10000, 1 << 20)
                 for start, end in pairwise(bounds)]
    finally:
        path.unlink()
    assert sum(p.lines for p, _ in parts) == len(as_lines(data))
    assert sum(p.bytes for p, _ in parts) == len(data)
    assert all(cut == 0 for _, cut in parts)
