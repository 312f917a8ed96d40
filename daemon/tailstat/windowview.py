"""What `tailstat top` adds for windows: the keys that pick a window, and a sparkline of lines/s per step."""

from __future__ import annotations

from typing import Any

from tailstat.window import ACCEPTED

DEFAULT_TOP_WINDOW = "5m"
KEYS = {str(i + 1).encode(): w for i, w in enumerate(ACCEPTED)}  # b"1" -> "1m" ... b"6" -> "all"
BLOCKS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"


def chosen(keys: bytes, current: str) -> str:
    """The window the last window key in `keys` picks (or `current`)."""
    for key in reversed(keys):
        window = KEYS.get(bytes([key]))
        if window is not None:
            return window
    return current


def footer(current: str) -> str:
    """The key line: each window with its key, the current one in brackets."""
    items = [f"{k.decode()} [{w}]" if w == current else f"{k.decode()} {w}" for k, w in KEYS.items()]
    return "window: " + "  ".join(items) + "   q quit"


def sparkline(values: list[float], width: int) -> str:
    """The last `width` values as block characters scaled to their maximum (an all-zero series is flat)."""
    values = values[-width:] if width > 0 else []
    top = max(values, default=0)
    if top <= 0:
        return BLOCKS[0] * len(values)
    return "".join(BLOCKS[min(len(BLOCKS) - 1, int(v / top * (len(BLOCKS) - 1) + 0.5))] for v in values)


def rate_line(series: dict[str, Any] | None, width: int) -> str | None:
    """'lines/s <sparkline> max N' from a /stats/series document, or None without one."""
    if not series or not series.get("lines"):
        return None
    step = float(series["step"]) or 1.0
    rates = [n / step for n in series["lines"]]
    label = f"lines/s per {step:g} s step, {series['window']}: "
    peak = f"  max {max(rates):,.1f}"
    return label + sparkline(rates, max(0, width - len(label) - len(peak))) + peak
