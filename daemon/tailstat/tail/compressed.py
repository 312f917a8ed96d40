"""Compressed rotations at run time: a `.gz` (or any compressed name) that appears beside a watched path.

A compressed file is never read. Once settled it is judged by the rotation core (core.compressed_rotation):
it holds a stream tailstat read or reads (nothing to count), or bytes no stream read -- compressed before
tailstat read them -- counted in `dropped` (compressed_before_read) once, remembered in state.json
(`tail.compressed`) so that no later rescan or restart counts it again. `CompressedRotations` is one part of
`Tailer` (its streams, indexes and store are the Tailer's); a rescan finds the compressed files its events
missed (`_scan_compressed`, olddir included).
"""

from __future__ import annotations

import os
import time

from tailstat.tail import core
from tailstat.tail.core import Known, Seen
from tailstat.tail.discovery import Listing, observe_file
from tailstat.tail.identity import is_compressed_name
from tailstat.tail.reader import Batch

LISTING_SLACK_NS = 2_000_000_000  # file times are coarse (a clock tick behind): a listing counts from 2 s earlier
COMPRESSED_SETTLE_S = 1.0  # a compressed rotation seen unchanged this long is complete (its size recorded)


def compressed_key(dev: int, ino: int, mtime_ns: int) -> str:
    return f"{dev}:{ino}:{mtime_ns}"


class CompressedRotations:
    """The compressed-rotation part of `Tailer`."""

    def _origins(self) -> set[str]:
        return set(self.by_origin) | {t.path for t in self.by_key.values() if t.status == "live"}

    def _compressed_seen(self, path: str, st: os.stat_result, out: list[Batch]) -> None:
        """A compressed file at `path` (a watch event, a rescan, or a look again): if it is a rotation of a watched
        path written after the last listing, it is judged once settled (core.compressed_rotation) -- never
        before a later look, so that the other changes of the same pass (the file it was compressed from let
        go) are seen first."""
        ident = (st.st_dev, st.st_ino, st.st_mtime_ns)
        if not self.listed_at_ns or ident in self.compressed_old \
                or compressed_key(*ident) in self.compressed_done:
            self.suspects.pop(path, None)
            self.compressed_wait.pop(path, None)
            self._compressed_looks.pop(path, None)
            return
        now = time.monotonic()
        looked = self._compressed_looks.get(path)
        if path not in self.compressed_wait:
            if st.st_mtime_ns <= self.listed_at_ns - LISTING_SLACK_NS or core.origin_of(path, self._origins()) is None:
                self.compressed_old.add(ident)  # there at the last listing, or not a rotation of a watched path
                return
            self.compressed_wait[path] = st.st_mtime_ns
            self.suspects[path] = now  # looked at again (the service's recheck of suspects)
            self._compressed_looks[path] = (st.st_size, st.st_mtime_ns, now)
            return
        if looked is None or looked[:2] != (st.st_size, st.st_mtime_ns):
            self._compressed_looks[path] = (st.st_size, st.st_mtime_ns, now)
            return  # still being written: its recorded size is not there yet
        if now - looked[2] < COMPRESSED_SETTLE_S:
            return
        first = self.compressed_wait.pop(path)
        self._compressed_looks.pop(path, None)
        self.suspects.pop(path, None)
        try:
            s = observe_file(path)
        except OSError:
            return
        if s is None:
            return
        # a followed stream it holds is looked at first: gone meanwhile (its descriptor closed, the least recently
        # read), it ends here, and what the compressed file holds beyond what it read is counted
        for t in [t for t in self.by_key.values() if s.uhead and t.head and t.status != "deleted"
                  and core.same_stream(s.uhead, t.head)]:
            if t.fh is None and self.by_key.get(t.key) is t:
                self._check_path(t.path, out)
        verdict = core.compressed_rotation(s, self._origins(), min(first, s.mtime_ns) - 1,
                                           list(self.by_key.values()), self._ended_known())
        if verdict is None:
            self.compressed_old.add((s.dev, s.ino, s.mtime_ns))
            return
        self._count_compressed(s, verdict)

    def _count_compressed(self, s: Seen, verdict: tuple[str, str | None, int]) -> None:
        """Carry out core.compressed_rotation's verdict on `s`, remembered (state.json `tail.compressed`) with the
        drop it counts, so that it is counted once: not at the next rescan, not after a restart."""
        what, key, nbytes = verdict
        if what == "followed":  # (not kept across a restart: there the core tells whose it is, as for any)
            self.compressed_old.add((s.dev, s.ino, s.mtime_ns))
        else:
            self.compressed_done[compressed_key(s.dev, s.ino, s.mtime_ns)] = s.mtime_ns
        if what == "unknown" or nbytes:
            self.store.add_dropped("compressed_before_read", 0, nbytes, self._tail_state())
            self.log.warning("file_unrecoverable", path=s.path, key=key, reason="compressed_before_read",
                             bytes=nbytes, note="compressed before tailstat read it" + (
                                 " (a file it never saw)" if key is None else ": the bytes it had not read"))
        else:
            self._publish_tail_state()
            self.log.info("compressed_rotation_known", path=s.path, key=key, verdict=what,
                          note="holds a stream tailstat read (or reads): nothing to count")

    def _scan_compressed(self, seed: set[tuple[int, int, int]] | None = None,
                         listing: Listing | None = None) -> list[str]:
        """The compressed rotations of watched paths in the watched directories and their subdirectories
        (olddir) not judged yet and written after the last listing (a rescan: their events may be missed, and
        olddir is not watched). `seed`: at start, all of them are taken as judged (there before we run).
        `listing`: the rescan's (each directory listed once)."""
        listing = listing or Listing()
        dirs = self._origin_dirs()
        found, old = [], set()
        since = self.listed_at_ns - LISTING_SLACK_NS
        origins: set[str] | None = None  # (built only when a compressed file is there to judge)
        for directory in sorted(dirs | {d for x in dirs for d in listing.subdirs(x)}):
            for e in [e for e in listing.entries(directory) if is_compressed_name(e.name)]:
                if origins is None:
                    origins = self._origins()
                try:
                    if not e.is_file(follow_symlinks=False) or core.origin_of(e.path, origins) is None:
                        continue
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                ident = (st.st_dev, st.st_ino, st.st_mtime_ns)
                if seed is not None or ident in self.compressed_old or st.st_mtime_ns <= since:
                    old.add(ident)
                elif compressed_key(*ident) not in self.compressed_done:
                    found.append(e.path)
        self.compressed_old = old | (seed or set())
        return found

    def _origin_dirs(self) -> set[str]:
        """The glob directories and those of every origin and live path: where compressed rotations may be.
        Kept until a stream is placed, opened or let go (`streams_changed`): a rescan of 10,000 quiet files
        does not build it again."""
        if self._dirs_at != self.streams_changed:
            self._dirs = self.discovery.glob_dirs() | {o[:o.rfind('/')] or '/' for o in self._origins()}
            self._dirs_at = self.streams_changed
        return self._dirs

    def _ended_known(self) -> list[Known]:
        """Streams that ended, as the core knows them: retired records (their file still there) and vanished
        ones."""
        return [Known(key=k, path=r["path"], origin=r["origin"], dev=int(r["dev"]), ino=int(r["inode"]),
                      fp=r["fingerprint"], fp_len=int(r["fingerprint_bytes"]), offset=int(r["offset"]),
                      size=int(r.get("size", 0)), retired=True)
                for k, r in self.retired.records.items()] + self.vanished.known()
