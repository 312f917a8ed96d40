"""Ingestion rates: lines, parse errors and bytes per wall-clock second, the 1, 5 and 15 minute averages.

Plain data with no lock: the Store owns one and calls it under its lock.
"""

from __future__ import annotations

RATE_WINDOW = 900  # seconds of per-second ingestion buckets: the 1, 5 and 15 minute rates
RATE_WINDOWS = (("1m", 60), ("5m", 300), ("15m", 900))


class Rates:
    """Lines, parse errors and bytes per wall-clock second over the last 15 minutes (a ring)."""

    __slots__ = ("bytes", "errors", "lines", "stamp")

    def __init__(self) -> None:
        self.stamp = [0] * RATE_WINDOW
        self.lines = [0] * RATE_WINDOW
        self.errors = [0] * RATE_WINDOW
        self.bytes = [0] * RATE_WINDOW

    def add(self, now: float, lines: int, errors: int, nbytes: int) -> None:
        sec = int(now)
        i = sec % RATE_WINDOW
        if self.stamp[i] != sec:
            self.stamp[i] = sec
            self.lines[i] = self.errors[i] = self.bytes[i] = 0
        self.lines[i] += lines
        self.errors[i] += errors
        self.bytes[i] += nbytes

    def windows(self, now: float, since: float) -> dict[str, dict[str, float]]:
        """Per-second averages over the last 1, 5 and 15 minutes (the current second included). A window
        longer than the time since `since` (the start) is averaged over that time instead, so the rates are
        right from the first minute on rather than ramping up."""
        sec = int(now)
        sums = {label: [0, 0, 0] for label, _ in RATE_WINDOWS}
        for i, stamp in enumerate(self.stamp):
            age = sec - stamp
            if 0 <= age < RATE_WINDOW:
                for label, seconds in RATE_WINDOWS:
                    if age < seconds:
                        acc = sums[label]
                        acc[0] += self.lines[i]
                        acc[1] += self.errors[i]
                        acc[2] += self.bytes[i]
        out = {}
        for label, seconds in RATE_WINDOWS:
            span = min(seconds, max(1, sec - int(since) + 1))
            lines, errors, nbytes = sums[label]
            out[label] = {"lines": lines / span, "parse_errors": errors / span, "bytes": nbytes / span}
        return out
