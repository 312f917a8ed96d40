"""`tailstat top`: a live, full-screen view of the running daemon's stats (rich), `q` quits.

Each refresh fetches one stats document; rates come from the difference to the previous one (per file and in
total), so the view shows what is happening now, not since start. The layout is budgeted to the terminal's
height (80x24 fits) and every row is cut, never wrapped. When stdout is not a terminal, plain snapshots are
printed instead.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from datetime import datetime
from typing import Any, Self

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tailstat.client import Source, Unreachable
from tailstat.hints import waiting_hint, window_hint
from tailstat.layout import DEFAULT_WIDTH, cut_middle, fit_parts
from tailstat.windowview import DEFAULT_TOP_WINDOW, chosen, footer, rate_line

MAX_FILE_ROWS = 4
MAX_MEASURE_ROWS = 3
MAX_FIELD_ROWS = 10


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def short_number(n: float | None) -> str:
    if n is None:
        return "-"
    if abs(n) >= 1e6:
        return f"{n / 1e6:.1f}M"
    if abs(n) >= 1e4:
        return f"{n / 1e3:.1f}k"
    return f"{n:.0f}" if float(n).is_integer() or abs(n) >= 100 else f"{n:.2f}"


def _uptime(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 86400}d {s % 86400 // 3600:02}:{s % 3600 // 60:02}" if s >= 86400 else \
        f"{s // 3600}:{s % 3600 // 60:02}:{s % 60:02}"


class Rates:
    """Per-second rates between two consecutive documents (total and per file key)."""

    def __init__(self, doc: dict[str, Any], prev: dict[str, Any] | None) -> None:
        if doc.get("window", "all") != "all":  # a window's own averages (its totals are not cumulative)
            span = doc.get("window_seconds") or 1.0
            t = doc["totals"]
            self.lines, self.errors, self.bytes = t["lines"] / span, t["parse_errors"] / span, t["bytes"] / span
            self.files = {f.get("key"): f["lines"] / span for f in doc["files"]}
            return
        if prev is not None and prev.get("window", "all") != "all":
            prev = None  # just switched from a window: no cumulative difference yet
        seconds = doc["generated_at"] - prev["generated_at"] if prev else 0.0
        if prev is None or seconds <= 0:
            one = doc["rates"]["1m"]  # first frame: the daemon's own 1-minute rate
            self.lines, self.errors, self.bytes = one["lines"], one["parse_errors"], one["bytes"]
            self.files: dict[str, float] = {}
            return
        t, p = doc["totals"], prev["totals"]
        self.lines = (t["lines"] - p["lines"]) / seconds
        self.errors = (t["parse_errors"] - p["parse_errors"]) / seconds
        self.bytes = (t["bytes"] - p["bytes"]) / seconds
        before = {f.get("key"): f["lines"] for f in prev["files"]}
        self.files = {f.get("key"): (f["lines"] - before.get(f.get("key"), 0)) / seconds for f in doc["files"]}


def _budget(doc: dict[str, Any], height: int | None, top: int, error: bool) -> tuple[int, int, int]:
    """(file rows, measure rows, values per dimension) that fit in `height` lines (None: no limit)."""
    files = len(doc["files"])
    measures = sum(1 for m in doc["measures"].values() if m.get("count"))
    if height is None:
        return files, measures, top
    file_rows = min(files, MAX_FILE_ROWS)
    measure_rows = min(measures, MAX_MEASURE_ROWS)
    used = 2 + 1 + error + (waiting_hint(doc) is not None)  # header lines, footer, the error line, the hint
    used += window_hint(doc, "") is not None  # lines read but timed before the window
    used += 1 + 1 + file_rows + (1 if files > file_rows else 0)  # blank, table header, rows, "more"
    used += (1 + 1 + measure_rows) if measure_rows else 0
    pairs = (len(doc["fields"]) + 1) // 2
    per_value = (height - used) // pairs - 2 if pairs else 0  # blank + title per pair of dimensions
    return file_rows, measure_rows, max(1, min(top, per_value, MAX_FIELD_ROWS))


def _header(doc: dict[str, Any], rates: Rates, where: str, error: str | None,
            keys: bool = True) -> list[RenderableType]:
    daemon = doc.get("daemon", {})
    t = doc["totals"]
    h = doc.get("health", {})
    ck = doc.get("checkpoint", {})
    clock = datetime.now().strftime("%H:%M:%S")
    line1 = Text.assemble(("tailstat ", "bold"), f"{daemon.get('version', '')}  pid {daemon.get('pid', '?')}  "
                          f"up {_uptime(doc.get('uptime', 0))}  {where}  {clock}", no_wrap=True, overflow="ellipsis")
    ck_text = "checkpoint ok" if ck.get("ok") else ("checkpoint FAILING" if ck.get("ok") is False else "checkpoint -")
    line2 = Text.assemble(
        ("lines ", "dim"), (f"{t['lines']:,}", "bold"), f" {rates.lines:,.1f}/s  ",
        ("errors ", "dim"), (f"{t['parse_errors']:,}", "bold red" if t["parse_errors"] else "bold"),
        f" {rates.errors:,.1f}/s  ", ("in ", "dim"), f"{human_bytes(rates.bytes)}/s  ",
        ("queue ", "dim"), f"{h.get('queue_depth', 0)}/{h.get('queue_capacity', 0)}  ",
        (ck_text, "green" if ck.get("ok") else "red"),
        (f"  unreadable {h['unreadable_files']}" if h.get("unreadable_files") else "", "bold red"),
        no_wrap=True, overflow="ellipsis")
    out: list[RenderableType] = [line1, line2]
    if error:
        out.append(Text(error, style="bold red", no_wrap=True, overflow="ellipsis"))
    hint = waiting_hint(doc, short=True)
    if hint:  # files only waiting for new lines (first start, TAILSTAT_READ_FROM=end): say why they show 0
        out.append(Text(hint, style="yellow", no_wrap=True, overflow="ellipsis"))
    late = window_hint(doc, "press 6 for all" if keys else "--window all", short=True)
    if late:  # windows count event time: an old backlog shows in `all` only
        out.append(Text(late, style="yellow", no_wrap=True, overflow="ellipsis"))
    return out


def _files_table(doc: dict[str, Any], rates: Rates, rows: int, width: int) -> Table:
    table = Table(box=None, padding=(0, 1), pad_edge=False, expand=True, header_style="bold")
    table.add_column("FILE", ratio=1, no_wrap=True, overflow="ellipsis")
    for name in ("LINES", "LINES/S", "LAG", "ERRORS", "ROT"):
        table.add_column(name, justify="right", no_wrap=True)
    files = sorted(doc["files"], key=lambda f: (-rates.files.get(f.get("key"), 0.0), -f.get("lag_bytes", 0),
                                                f["path"]))
    room = max(16, width - 40)  # what the number columns leave; a path keeps its end (the file name)
    for f in files[:rows]:
        path = f["path"]
        table.add_row(Text(cut_middle(path, room), no_wrap=True),
                      f"{f['lines']:,}", f"{rates.files.get(f.get('key'), 0.0):,.1f}",
                      human_bytes(f.get("lag_bytes", 0)), f"{f.get('parse_errors', 0):,}", str(f.get("rotations", 0)))
    if len(files) > rows:
        table.add_row(Text(f"\u2026 {len(files) - rows} more files", style="dim"))
    return table


def _field_table(name: str, field: dict[str, Any], values: int) -> Table:
    total = field.get("total") or 1
    est = "~" if field.get("distinct_is_estimate") else ""
    table = Table(box=None, padding=(0, 1), pad_edge=False, expand=True, show_header=True, header_style="bold")
    table.add_column(f"{name} ({est}{field['distinct']:,} distinct)", ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("COUNT", justify="right", no_wrap=True)
    table.add_column("SHARE", justify="right", no_wrap=True)
    for value, count in field["top"][:values]:
        table.add_row(str(value), f"{count:,}", f"{100 * count / total:.1f}%")
    return table


def _fields_grid(doc: dict[str, Any], values: int) -> Table:
    grid = Table.grid(expand=True, padding=(0, 2))
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    tables = [_field_table(n, f, values) for n, f in doc["fields"].items()]
    for i in range(0, len(tables), 2):
        if i:
            grid.add_row("", "")
        grid.add_row(*tables[i:i + 2], *([""] if i + 1 == len(tables) else []))
    return grid


def _measures_table(doc: dict[str, Any], rows: int) -> Table:
    table = Table(box=None, padding=(0, 1), pad_edge=False, expand=True, header_style="bold")
    table.add_column("MEASURE", ratio=1, no_wrap=True, overflow="ellipsis")
    for name in ("COUNT", "MEAN", "P50", "P90", "P99", "P99.9", "MAX"):
        table.add_column(name, justify="right", no_wrap=True)
    shown = [(n, m) for n, m in doc["measures"].items() if m.get("count")][:rows]
    for name, m in shown:
        table.add_row(name, short_number(m["count"]), *(short_number(m[k]) for k in
                                                         ("mean", "p50", "p90", "p99", "p99.9", "max")))
    return table


def view(doc: dict[str, Any], rates: Rates, where: str, *, width: int = 80, height: int | None = None,
         top: int = 5, error: str | None = None, footer: bool = True,
         series: dict[str, Any] | None = None) -> RenderableType:
    spark = rate_line(series, width)
    file_rows, measure_rows, values = _budget(doc, None if height is None else height - (spark is not None),
                                              top, error is not None)
    parts: list[RenderableType] = _header(doc, rates, where, error, keys=footer)
    if spark is not None:
        parts.append(Text(spark, no_wrap=True, overflow="ellipsis"))
    parts += [Text(""), _files_table(doc, rates, file_rows, width)]
    if doc["fields"]:
        parts += [Text(""), _fields_grid(doc, values)]
    if measure_rows:
        parts += [Text(""), _measures_table(doc, measure_rows)]
    if footer:
        parts.append(Text(_footer(doc.get("window", "all")), style="dim", no_wrap=True, overflow="ellipsis"))
    return Group(*parts)


class _Keys:
    """Single keystrokes from a terminal stdin (cbreak mode, restored on exit); inert when stdin is no TTY."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno() if sys.stdin and sys.stdin.isatty() else None
        self.saved: list | None = None

    def __enter__(self) -> Self:
        if self.fd is not None:
            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None and self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def wait(self, seconds: float) -> bytes:
        """Keys pressed within `seconds` (sleeps the whole time when there is no terminal)."""
        if self.fd is None:
            time.sleep(max(0.0, seconds))
            return b""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, seconds))
        if not ready:
            return b""
        return os.read(self.fd, 64) or b"q"  # end of input (terminal gone) quits like q


_footer = footer  # view()'s keyword of the same name hides it


def _fetch(source: Source, top: int, fields: tuple[str, ...] | None,
           window: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A window's document and its lines/s series (a snapshot-file source has the cumulative stats only)."""
    if not hasattr(source, "series"):
        return source.fetch(top, fields), None
    doc = source.fetch(top, fields, window)
    return doc, None if window == "all" else source.series(window)


def run_top(source: Source, *, interval: float = 1.0, top: int = 5, fields: tuple[str, ...] | None = None,
            iterations: int | None = None, window: str = DEFAULT_TOP_WINDOW) -> int:
    """Full screen on a terminal, plain snapshots otherwise. Raises Unreachable if the first fetch fails.
    It opens on `window`; the keys of windowview.KEYS switch windows."""
    doc, series = _fetch(source, top, fields, window)
    if not sys.stdout.isatty():
        return _plain(source, doc, interval, top, fields, iterations, window, series)
    console = Console()
    prev: dict[str, Any] | None = None
    error: str | None = None
    shown = 0
    with _Keys() as keys, Live(console=console, screen=True, auto_refresh=False, transient=True) as live:
        while True:
            width, height = console.size
            live.update(view(doc, Rates(doc, prev), source.where, width=width, height=height, top=top,
                             error=error, series=series), refresh=True)
            shown += 1
            if iterations is not None and shown >= iterations:
                return 0
            deadline = time.monotonic() + interval
            while (left := deadline - time.monotonic()) > 0:
                pressed = keys.wait(left)
                if b"q" in pressed.lower():
                    return 0
                if chosen(pressed, window) != window:
                    window, prev = chosen(pressed, window), None
                    break  # show the new window now
            try:
                (doc, series), prev, error = _fetch(source, top, fields, window), doc, None
            except Unreachable as exc:
                prev, error = None, str(exc).split(";")[0] + " - retrying"


def _plain(source: Source, doc: dict[str, Any], interval: float, top: int, fields: tuple[str, ...] | None,
           iterations: int | None, window: str = "all", series: dict[str, Any] | None = None) -> int:
    console = Console()  # not a terminal: rich uses $COLUMNS or 80 columns and no escape codes
    prev: dict[str, Any] | None = None
    shown = 0
    while True:
        if shown:
            console.print()
        console.print(view(doc, Rates(doc, prev), source.where, width=console.width, top=top, footer=False,
                           series=series))
        sys.stdout.flush()
        shown += 1
        if iterations is not None and shown >= iterations:
            return 0
        time.sleep(interval)
        prev, (doc, series) = doc, _fetch(source, top, fields, window)


def compact_line(line: dict[str, Any], width: int = DEFAULT_WIDTH) -> str:
    """One human line per /stats/stream line, at most `width` characters: time, window counts and rates, lag,
    then the top value per dimension while they fit. The stream's first line reads as the total so far (after
    a restart: what the checkpoint restored), not as traffic of its first second."""
    d = line["delta"]
    rate = line["rates"].get("window") or line["rates"]["1m"]
    t = line["totals"]
    lag = sum(f.get("lag_bytes", 0) for f in line["files"])
    stamp = datetime.fromtimestamp(line["generated_at"]).strftime("%H:%M:%S")
    window = line.get("window", "all")
    if window != "all":  # the window's own counts: a sliding window's delta says little
        span = line.get("window_seconds") or 1.0
        parts = [stamp, f"last {window}: lines {t['lines']:,} ({t['lines'] / span:,.1f}/s)",
                 f"errors {t['parse_errors']:,}", f"{human_bytes(t['bytes'] / span)}/s", f"lag {human_bytes(lag)}"]
    else:
        first = line.get("stream", {}).get("seq") == 0
        parts = [stamp,
                 f"lines {t['lines']:,} total ({rate['lines']:,.1f}/s 1m)" if first else
                 f"lines +{d['lines']:,} ({rate['lines']:,.1f}/s)",
                 f"errors {t['parse_errors']:,} total" if first else
                 f"errors +{d['parse_errors']:,} ({t['parse_errors']:,} total)",
                 f"{human_bytes(rate['bytes'])}/s", f"lag {human_bytes(lag)}"]
    if line.get("checkpoint", {}).get("ok") is False:
        parts.append("CHECKPOINT FAILING")
    unreadable = line.get("health", {}).get("unreadable_files", 0)
    if unreadable:
        parts.append(f"UNREADABLE {unreadable}")
    tops = []
    for name, field in line["fields"].items():
        if field["top"]:
            value, count = field["top"][0]
            value = str(value) if len(str(value)) <= 40 else str(value)[:39] + "\u2026"
            tops.append(f"{name}={value} {100 * count / (field.get('total') or 1):.0f}%")
    return fit_parts(parts, tops, width)
