"""Fitting text output to the terminal: the file table of `stats` / `scan`, measure lines and `stats --follow`
lines fit 80 columns by default and use the whole width of a wider terminal ($COLUMNS, else the terminal's
size, else 80). Paths are cut in the middle with an ellipsis, keeping their start and their file name."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

DEFAULT_WIDTH = 80
MIN_WIDTH = 40
ELLIPSIS = "\u2026"


def terminal_width() -> int:
    """$COLUMNS when set, else the terminal's width, else 80 (a pipe or a file)."""
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def cut_middle(text: str, width: int) -> str:
    """`text` in at most `width` characters: the start and the (longer) end kept, an ellipsis between."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head = (width - 1) // 3
    tail = text[len(text) - (width - 1 - head):]
    slash = tail.find("/")
    if 0 < slash < len(tail) - 1:  # start the end part at a directory boundary; the start gets the rest
        tail = tail[slash:]
        head = width - 1 - len(tail)
    return text[:head] + ELLIPSIS + tail


def cut_end(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + ELLIPSIS


def file_table(files: list[dict[str, Any]], width: int,
               note: Callable[[dict[str, Any]], str] | None = None) -> list[str]:
    """The header and one row per file: path, format, lines, bytes, lag. The path column takes what the
    others leave (never more than the longest path needs); a `note` (a few characters) follows the format."""
    formats = [f.get("format") or "-" for f in files]
    if note is not None:
        formats = [fmt + note(f) for fmt, f in zip(formats, files, strict=True)]
    columns = [("lines", [f"{f['lines']:,}" for f in files]), ("bytes", [f"{f['bytes']:,}" for f in files]),
               ("lag", [f"{f.get('lag_bytes', 0):,}" for f in files])]
    fmt_w = max(len("format"), *(len(x) for x in formats))
    num_w = [max(len(head), *(len(v) for v in values)) for head, values in columns]
    fixed = fmt_w + sum(num_w) + 1 + len(columns)  # the columns after the path, one space before each
    longest = max(len("file"), *(len(f["path"]) for f in files))
    path_w = max(len("file"), min(longest, width - fixed))
    out = [f"{'file':<{path_w}} {'format':<{fmt_w}}" + "".join(f" {h:>{w}}" for (h, _), w in zip(
        columns, num_w, strict=True))]
    for i, f in enumerate(files):
        out.append(f"{cut_middle(f['path'], path_w):<{path_w}} {formats[i]:<{fmt_w}}" + "".join(
            f" {values[i]:>{w}}" for (_, values), w in zip(columns, num_w, strict=True)))
    return out


def fit_parts(parts: list[str], optional: list[str], width: int, sep: str = "  ") -> str:
    """`parts` joined (cut at `width` if they alone are too long), then each of `optional`, in order, that
    still fits (one too long is left out, a shorter one after it may still fit)."""
    line = sep.join(parts)
    if len(line) > width:
        return cut_end(line, width)
    for extra in optional:
        if len(line) + len(sep) + len(extra) <= width:
            line += sep + extra
    return line


def measure_line(name: str, stats: list[tuple[str, str]], droppable: list[str], width: int) -> str:
    """`name: count …  p50 …  …`, leaving out the `droppable` statistics (in that order) until it fits."""
    shown = list(stats)

    def render(items: list[tuple[str, str]]) -> str:
        return f"{name}: " + "  ".join(f"{k} {v}" for k, v in items)

    line = render(shown)
    for key in droppable:
        if len(line) <= width:
            break
        shown = [(k, v) for k, v in shown if k != key]
        line = render(shown)
    return cut_end(line, width)
