"""Rotations not seen as they happened, at run time: a file created at a watched path, written and rotated away
between two passes (a burst of rotations, a slow pass), or copied into olddir and truncated before tailstat
read a byte of it. Looked for where a rotation is seen (a file renamed, drained, truncated) or a new file
appears at a watched path, in that directory and its subdirectories (olddir); the rotation core decides
(core.unseen_rotations, core.unread_olddir_copies) and such a file is read from byte 0, as at a restart.
`UnseenRotations` is one part of `Tailer` (its streams, indexes and reader are the Tailer's).
"""

from __future__ import annotations

import os

from tailstat.tail import core
from tailstat.tail.compressed import LISTING_SLACK_NS
from tailstat.tail.discovery import files_with_olddir, observe_files
from tailstat.tail.identity import is_compressed_name
from tailstat.tail.reader import Batch, Tracked


class UnseenRotations:
    """The unseen-rotation part of `Tailer`."""

    def _adopt_unseen(self, directory: str, out: list[Batch], also: bytes = b"") -> None:
        """A rotation was seen in `directory`, or a new file at a watched path there (or a stream that had read
        nothing was written to: it may have been copied and truncated before it read a byte): a file created and
        rotated away between two passes (a burst of rotations, a slow pass), in `directory` or a subdirectory
        (olddir), is read from byte 0, as at a restart (core.unseen_rotations decides). `also`: one more head
        that such a file is a copy of (not yet truncated: read through its stream)."""
        if self._adopting or not self.listed_at_ns:
            return
        self._adopting = True
        try:
            seen = observe_files(p for p in files_with_olddir(directory)  # (a compressed file is never one)
                                 if p not in self.by_path and p not in self.suspects and not is_compressed_name(p))
            if not seen:
                return
            origins = self._origins()
            followed = set(self.by_inode)
            for s in seen:  # a finished file still there (its inode may hold another file now: not it)
                if (s.dev, s.ino) in self.retired.by_inode:
                    st = os.stat_result((0, s.ino, s.dev, 1, 0, 0, s.size, 0, 0, 0))
                    key, changed = self.retired.at(s.path, st, lambda _p, n, h=s.head: h[:n])
                    if key is not None:
                        followed.add((s.dev, s.ino))
                    if changed:
                        self._publish_tail_state()
            heads = [t.head for t in self.by_key.values() if os.path.dirname(t.path) == directory] + [also]
            for s, origin in core.unseen_rotations(seen, self.listed_at_ns - LISTING_SLACK_NS, origins,
                                                   lambda p: self.source_for(p) is not None, followed, heads):
                src = self.source_for(origin)
                if src is None:
                    continue
                t = self._start_seen(s, origin, src, 0, out)
                self._count_unseen_rotation(origin)
                self.log.info("file_found_rotated", path=s.path, origin=origin, key=t.key, bytes=s.size,
                              note="created and rotated away between two passes: read from byte 0")
                self._read(t, out, may_relocate=False)
        finally:
            self._adopting = False

    def _adopt_olddir_copies(self, t: Tracked, now_head: bytes, out: list[Batch]) -> None:
        """t had read nothing when its file was written (its mtime changed): a copytruncate copy of it taken into
        olddir before its next pass is read from byte 0 (core.unread_olddir_copies decides)."""
        if self._adopting or not self.listed_at_ns:
            return
        directory = os.path.dirname(t.path)
        olddir = [p for p in files_with_olddir(directory) if os.path.dirname(p) != directory]
        seen = observe_files((p for p in olddir if p not in self.by_path and core.may_be_copy(p, t)),
                             newer_than_ns=t.mtime_ns)  # (only those written since t's file was last seen)
        if not seen:
            return
        followed = set(self.by_inode) | set(self.retired.by_inode)
        heads = [x.head for x in self.by_key.values()]
        src = self.source_for(t.origin) or t.source
        for s in core.unread_olddir_copies(t, t.mtime_ns, seen, now_head, followed, heads, self._ended_known()):
            copy = self._start_seen(s, t.origin, src, 0, out)
            self._count_unseen_rotation(t.origin)
            self.log.info("file_found_rotated", path=s.path, origin=t.origin, key=copy.key, bytes=s.size,
                          note="copied into olddir and truncated before tailstat read a byte: read from byte 0")
            self._read(copy, out, may_relocate=False)

    def _count_unseen_rotation(self, origin: str) -> None:
        """One more rotation of `origin`, not seen as it happened: on the stream there now, or in its history."""
        live = self.by_path.get(origin)
        if live is not None:
            live.rotations += 1
            self._publish(live)
        else:
            rotations, truncations = self.history.get(origin, (0, 0))
            self.history[origin] = (rotations + 1, truncations)
