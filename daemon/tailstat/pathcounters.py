"""Per-path cumulative counters: what was ingested while a file lived at a path, across every file that lived
there. Prometheus's per-file counters (`tailstat_file_lines_total{path}` ...) come from here, so a `_total`
never decreases for the same labels: not after a rotation (a new, empty file at the path), not when a rotated
file's record is forgotten, not across restarts (the counters are checkpointed with the store).

Bounded: every path that has a file record is kept, plus the PATHS_KEPT most recently counted others (rotated
names that no longer receive lines); an older one is forgotten, and its series ends. Owned by the Store and
only touched under its lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

PATHS_KEPT = 1024
SUMMED = ("lines", "bytes", "parse_errors")  # added per committed batch
HIGHEST = ("rotations", "truncations")  # the file records carry these per origin path: kept as the highest seen


class PathCounters:
    def __init__(self, kept: int = PATHS_KEPT) -> None:
        self.kept = kept
        self.by_path: OrderedDict[str, dict[str, int]] = OrderedDict()  # least recently counted first

    def _counts(self, path: str) -> dict[str, int]:
        c = self.by_path.get(path)
        if c is None:
            c = self.by_path[path] = dict.fromkeys(SUMMED + HIGHEST, 0)
        else:
            self.by_path.move_to_end(path)
        return c

    def add(self, path: str, lines: int, nbytes: int, parse_errors: int) -> None:
        c = self._counts(path)
        c["lines"] += lines
        c["bytes"] += nbytes
        c["parse_errors"] += parse_errors

    def saw(self, path: str, rotations: int, truncations: int) -> None:
        c = self._counts(path)
        c["rotations"] = max(c["rotations"], rotations)
        c["truncations"] = max(c["truncations"], truncations)

    def prune(self, live: Iterable[str]) -> None:
        """Forget the least recently counted paths without a file record beyond `kept` of them."""
        live = set(live)
        extra = sum(1 for p in self.by_path if p not in live) - self.kept
        for path in list(self.by_path):
            if extra <= 0:
                break
            if path not in live:
                del self.by_path[path]
                extra -= 1

    def needs_prune(self, live_count: int) -> bool:
        return len(self.by_path) > live_count + self.kept

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {p: dict(c) for p, c in self.by_path.items()}

    def to_list(self) -> list[list[Any]]:
        return [[p, dict(c)] for p, c in self.by_path.items()]

    @classmethod
    def from_list(cls, rows: list[list[Any]], kept: int = PATHS_KEPT) -> PathCounters:
        out = cls(kept)
        names, zeros = SUMMED + HIGHEST, (0,) * len(SUMMED + HIGHEST)
        for path, counts in rows:  # one C-level pass per row: 10,000 paths at every restart
            out.by_path[str(path)] = dict(zip(names, map(int, map(counts.get, names, zeros))))
        return out

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], kept: int = PATHS_KEPT) -> PathCounters:
        """For a checkpoint written before these counters existed: each record's own counts at its path."""
        out = cls(kept)
        for rec in records:
            out.add(rec["path"], int(rec.get("lines", 0)), int(rec.get("bytes", 0)), int(rec.get("parse_errors", 0)))
            out.saw(rec["path"], int(rec.get("rotations", 0)), int(rec.get("truncations", 0)))
        return out
