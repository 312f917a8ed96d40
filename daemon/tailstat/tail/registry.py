"""The registry of finished files (Filebeat's clean.go): a rotated file let go after its grace period is
remembered -- device, inode, fingerprint, end offset -- for as long as it exists in a watched directory, so that
met again (renamed by a later rotation, moved aside as .backup, matched by a glob of rotated names) it is never
read twice. Records follow their file on each rescan, are forgotten when it is gone or its inode holds another
file, and are bounded (`limit`, the oldest go first)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import structlog

from tailstat.tail.core import Known
from tailstat.tail.discovery import files_with_olddir
from tailstat.tail.identity import matches_fingerprint


class Retired:
    def __init__(self, limit: int, on_gone: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.limit = limit
        self.on_gone = on_gone  # told of each record whose file is gone (deleted, or its inode reused)
        self.records: dict[str, dict[str, Any]] = {}  # key -> record, oldest first
        self.by_inode: dict[tuple[int, int], str] = {}
        self.log = structlog.get_logger("tailstat.tail")

    def __len__(self) -> int:
        return len(self.records)

    def __bool__(self) -> bool:
        return bool(self.records)

    def load(self, records: dict[str, dict[str, Any]]) -> None:
        for key, rec in records.items():
            self.records[key] = rec
            self.by_inode[(int(rec["dev"]), int(rec["inode"]))] = key

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.records.items()}

    def remember(self, key: str, path: str, origin: str, dev: int, ino: int, fp: str, fp_len: int,
                 end: int, size: int) -> None:
        if not fp_len:
            return  # an empty file has nothing to be told by (and nothing to be read twice)
        self.forget(key)
        old = self.by_inode.get((dev, ino))
        if old is not None:
            self.forget(old)  # the inode holds this file now
        self.records[key] = {"path": path, "origin": origin, "dev": dev, "inode": ino, "fingerprint": fp,
                             "fingerprint_bytes": fp_len, "offset": end, "size": size}
        self.by_inode[(dev, ino)] = key
        while len(self.records) > self.limit:
            oldest = next(iter(self.records))
            self.log.warning("retired_file_forgotten", key=oldest, path=self.records[oldest]["path"],
                             limit=self.limit, note="met again under a watched name it would be read again")
            self.forget(oldest)

    def forget(self, key: str) -> None:
        rec = self.records.pop(key, None)
        if rec is not None:
            ident = (rec["dev"], rec["inode"])
            if self.by_inode.get(ident) == key:
                del self.by_inode[ident]

    def moved(self, key: str, path: str, dev: int, ino: int) -> None:
        self.records[key]["path"] = path
        self.by_inode[(dev, ino)] = key

    def at(self, path: str, st: os.stat_result, head_at: Callable[[str, int], bytes | None]) -> tuple[str | None, bool]:
        """The retired file `path` now holds (same inode and head), its record moved there: (key or None,
        whether the registry changed)."""
        key = self.by_inode.get((st.st_dev, st.st_ino))
        if key is None:
            return None, False
        rec = self.records[key]
        head = head_at(path, int(rec["fingerprint_bytes"]))
        if head is None or not matches_fingerprint(head, rec["fingerprint"], int(rec["fingerprint_bytes"])):
            self.forget(key)  # the inode was reused by a new file
            if self.on_gone is not None:
                self.on_gone(key, rec)
            return None, True
        if rec["path"] != path:
            rec["path"] = path
            return key, True
        return key, False

    def prune(self) -> bool:
        """Follow renamed files (by inode, in their directory or a subdirectory); forget those gone. Returns
        whether anything changed."""
        missing: dict[str, list[str]] = {}
        for key, rec in self.records.items():
            try:
                st = os.stat(rec["path"])
            except OSError:
                st = None
            if st is None or (st.st_dev, st.st_ino) != (int(rec["dev"]), int(rec["inode"])):
                missing.setdefault(os.path.dirname(rec["path"]), []).append(key)
        for directory, keys in missing.items():
            where: dict[int, str] = {}
            for path in files_with_olddir(directory):
                try:
                    where.setdefault(os.stat(path).st_ino, path)
                except OSError:
                    continue
            for key in keys:
                rec = self.records[key]
                path = where.get(int(rec["inode"]))
                if path is None:
                    self.forget(key)
                    self.log.info("retired_file_gone", key=key, path=rec["path"])
                    if self.on_gone is not None:
                        self.on_gone(key, rec)
                else:
                    rec["path"] = path
        return bool(missing)


class Vanished:
    """Streams that ended and whose file is gone -- read to their end and deleted, truncated, a retired file
    deleted, a checkpointed file lost at start: fingerprint and `offset`, the bytes read or counted as dropped.
    A compressed rotation met later that holds one (its decompressed head) is told apart from a file tailstat
    never saw: it counts only what it holds beyond `offset` (core.compressed_rotation), however late it is
    compressed and across a restart. Bounded (`limit`, the oldest go first): a compressed rotation appears
    right after its file goes (logrotate compresses at once, or at the next rotation with delaycompress)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.records: dict[str, dict[str, Any]] = {}  # key -> record, oldest first

    def __len__(self) -> int:
        return len(self.records)

    def load(self, records: dict[str, dict[str, Any]]) -> None:
        for key, rec in records.items():
            self.records[str(key)] = dict(rec)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.records.items()}

    def add(self, key: str, path: str, origin: str, fp: str, fp_len: int, end: int) -> None:
        if not fp_len:
            return  # an empty stream: nothing to be told by, and nothing a compressed copy could hold of it
        self.records.pop(key, None)
        self.records[key] = {"path": path, "origin": origin, "fingerprint": fp, "fingerprint_bytes": fp_len,
                             "offset": end}
        while len(self.records) > self.limit:
            del self.records[next(iter(self.records))]

    def known(self) -> list[Known]:
        return [Known(key=k, path=r["path"], origin=r["origin"], dev=0, ino=0, fp=r["fingerprint"],
                      fp_len=int(r["fingerprint_bytes"]), offset=int(r["offset"]), size=int(r["offset"]),
                      retired=True) for k, r in self.records.items()]

