"""File records: each tracked file's identity, committed offset and counts, and the per-path counters.

Plain data with no lock: the Store owns one and calls it under its lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tailstat.pathcounters import PathCounters


class FileRecords:
    """key -> record, and the per-path totals across the files that lived at each path (Prometheus)."""

    def __init__(self, files: dict[str, dict[str, Any]] | None = None, paths: PathCounters | None = None) -> None:
        self.files: dict[str, dict[str, Any]] = {} if files is None else files
        self.paths = PathCounters() if paths is None else paths

    def commit(self, commits: Iterable[tuple[str, int | None, int, int, int]]) -> None:
        """Merged batches' (key, end offset, lines, bytes, parse errors): counted, and the offsets advanced; a
        retired file whose last queued byte is merged is forgotten."""
        files = self.files
        for key, end, lines, nbytes, errs in commits:
            rec = files.get(key)
            if rec is None:
                continue
            rec["lines"] += lines
            rec["bytes"] += nbytes
            rec["parse_errors"] += errs
            self.paths.add(rec["path"], lines, nbytes, errs)
            if end is not None:
                rec["offset"] = end
                if rec.get("retire_at", -1) >= 0 and end >= rec["retire_at"]:
                    del files[key]
        if self.paths.needs_prune(len(files)):
            self.paths.prune(r["path"] for r in files.values())

    def upsert(self, key: str, fields: dict[str, Any]) -> None:
        rec = self.files.get(key)
        if rec is None:
            rec = self.files[key] = {
                "key": key, "path": "", "format": "", "lines": 0, "bytes": 0, "parse_errors": 0,
                "offset": 0, "size": 0, "rotations": 0, "truncations": 0, "status": "live",
                "identity": {"dev": 0, "inode": 0, "fingerprint": "", "fingerprint_bytes": 0},
            }
        counted = (rec["path"], rec["rotations"], rec["truncations"])
        for name, value in fields.items():
            if name == "identity":
                rec["identity"] = dict(value)
            else:
                rec[name] = value
        if rec["path"] and (rec["path"], rec["rotations"], rec["truncations"]) != counted:
            self.paths.saw(rec["path"], rec["rotations"], rec["truncations"])

    def bump(self, key: str, name: str, amount: int) -> None:
        rec = self.files.get(key)
        if rec is not None:
            rec[name] = rec.get(name, 0) + amount
            if name in ("rotations", "truncations") and rec["path"]:
                self.paths.saw(rec["path"], rec["rotations"], rec["truncations"])

    def drop_when_committed(self, key: str, end: int) -> None:
        rec = self.files.get(key)
        if rec is None:
            return
        if rec["offset"] >= end:
            del self.files[key]
        else:
            rec["retire_at"] = end

    def copies(self) -> dict[str, dict[str, Any]]:
        return {k: {**v, "identity": dict(v["identity"])} for k, v in self.files.items()}
