"""Following files at run time: what one changed path (or one stream) means, and carrying it out.

The watcher reports paths; for each, the tailer observes (stat, the head, the listing of its directory, the
state of its own descriptor), asks the rotation core (tailstat.tail.core: renamed_to / moved_to,
changed_underneath, copy_of and new_file, may_be_copy / copy_after_truncation and truncation, unseen_rotations)
what it means, and carries the decision out here: follow a renamed file (a rotation may shift a chain of them),
drain a deleted one, hand a truncated stream on to its copytruncate copy, start a new stream, let a finished
one go. `Follower` is one part of `Tailer` (tailer.py owns the streams, restore and the passes).
"""

from __future__ import annotations

import os
import stat as statmod
import time
from collections.abc import Iterator
from typing import Any

from tailstat.config import Source
from tailstat.formats import COMPRESSED_MAGIC
from tailstat.tail import core
from tailstat.tail.compressed import CompressedRotations
from tailstat.tail.core import Seen
from tailstat.tail.discovery import files_with_olddir
from tailstat.tail.identity import FP_BYTES, is_compressed_name, possible_originals, read_head
from tailstat.tail.reader import Batch, Tracked, last_line_start, set_head, tail_sample
from tailstat.tail.unseen import UnseenRotations


class Follower(CompressedRotations, UnseenRotations):
    """The run-time event path of `Tailer` (its streams, indexes, reader and store are the Tailer's); compressed
    rotations (compressed.py) and rotations not seen as they happened (unseen.py) are parts of it."""

    # ------------------------------------------------------------------------------------------ paths
    def _check_path(self, path: str, out: list[Batch], at_start: bool = False) -> None:
        """`path` may have changed: a tracked file grew, moved away, was replaced, or a new file appeared."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            self._unreadable(path, exc)
            return
        t = self.by_path.get(path)
        if t is not None:
            if st is not None and (st.st_dev, st.st_ino) == (t.dev, t.ino):
                self._read(t, out)
                return
            self._relocate_all([t], out)  # t left this path: renamed elsewhere or deleted
            if self.by_path.get(path) is not None:
                return  # relocating put the file now at `path` in its place (a rotation chain)
        if st is None or not statmod.S_ISREG(st.st_mode):
            self.suspects.pop(path, None)
            self.compressed_wait.pop(path, None)
            self._compressed_looks.pop(path, None)
            return
        # an inode no stream follows at this path: observe it (its head), then the core says what it is
        other = self.by_inode.get((st.st_dev, st.st_ino))
        if other is None and is_compressed_name(path):
            self._compressed_seen(path, st, out)
            return
        src = self.source_for(path)
        if other is None and src is None and (st.st_dev, st.st_ino) not in self.retired.by_inode:
            return  # not watched, and not a file we know renamed here: nothing to decide
        try:
            head: bytes | None = read_head(path)
        except OSError as exc:
            head, error = None, exc
        s = Seen(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, head or b"",
                 bool(head) and head.startswith(COMPRESSED_MAGIC))
        if other is not None:
            if (head is not None or other.fh is not None) and core.renamed_to(other, s, other.fh is not None):
                self._relocate_all(self._move(other, path, out), out)  # renamed to here
                self._adopt_unseen(os.path.dirname(path), out)  # a rotation seen from its new name's side
                return
            self._gone(other, "inode_reused", out)
        key, changed = self.retired.at(path, st, lambda _p, n: None if head is None else head[:n]) \
            if self.retired else (None, False)
        if changed and key is None:
            self._publish_tail_state()
        if key is not None:
            # a finished file met again: renamed by a later rotation, moved aside as .backup, or matched by a
            # glob of rotated names. Counted already; back at a watched path, it is followed from its end.
            if src is not None:
                end = min(int(self.retired.records[key]["offset"]), st.st_size)
                self.retired.forget(key)
                self._publish_tail_state()
                self._start(path, st, s.head, src, end, out, read=not at_start)
            elif changed:
                self._publish_tail_state()
            return
        if src is None:
            return
        if head is None:
            self._unreadable(path, error)
            return
        self._new_file(s, st, src, out, at_start)

    def _new_file(self, s: Seen, st: os.stat_result, src: Source, out: list[Batch], at_start: bool) -> None:
        path = s.path
        self._readable(path)
        original = core.copy_of(s, self._copy_candidates(path)) if s.head and not s.compressed else None
        if original is None and s.head and not s.compressed:
            original = self._unread_original(s)
        if original is None and s.head and not s.compressed and self._follow_original(s, out):
            original = core.copy_of(s, self._copy_candidates(path)) or self._unread_original(s)
        truncated, waited = False, 0.0
        if original is not None:
            truncated = self._truncated_now(original)
            if not truncated:
                first = self.suspects.setdefault(path, time.monotonic())
                waited = time.monotonic() - first
        decision = core.new_file(s, original, truncated, waited, self.cfg.rotated_grace,
                                 at_start and self.first_start and self.cfg.read_from == "end")
        if decision in ("ignore", "wait"):  # wait: logrotate truncates the original right after copying it
            return
        if decision == "copytruncated":
            self._truncated(original, out, copy=s)
            return
        start = 0
        if decision == "duplicate":
            self.log.info("duplicate_content_skipped", path=path, original=original.path, bytes=st.st_size)
            start = last_line_start(path, st.st_size)
        elif decision == "skip_existing":
            start = last_line_start(path, st.st_size)
            t = self._start(path, st, s.head, src, start, out, read=False, skipped=start)
            self.more[t.key] = None
            return
        t = self._start(path, st, s.head, src, start, out, read=not at_start)
        if at_start:
            self.more[t.key] = None  # read by the first passes, under their byte budget
        elif decision == "read":
            # a new file at a watched path: the file it replaced may have been created (at this path, after the
            # last pass), written and rotated away before this one -- a rotation not seen, as any (the restore
            # at a start looks for those itself)
            self._adopt_unseen(os.path.dirname(path), out)

    def _start(self, path: str, st: os.stat_result, head: bytes, src: Source, start: int, out: list[Batch],
               read: bool = True, skipped: int = 0) -> Tracked:
        """A new key for the file at path, its committed offset at `start`. `skipped`: bytes that existed at
        the first start with TAILSTAT_READ_FROM=end, not counted; the format is detected from them."""
        self.suspects.pop(path, None)
        rotations, truncations = self.history.pop(path, (0, 0))
        t = Tracked(key=self._new_key(), path=path, origin=path, source=src, dev=st.st_dev, ino=st.st_ino,
                    pos=start, line_start=start, size=st.st_size, rotations=rotations, truncations=truncations,
                    skipped_at_start=skipped)
        if src.spec.format != "auto":
            t.spec = src.spec
        elif skipped:
            sample = tail_sample(path, skipped)
            if sample:
                self._detect(t, sample)
        set_head(t, head)
        self._track(t, offset=start)
        self.log.info("file_opened", path=path, key=t.key, offset=start, inode=st.st_ino)
        if read:
            self._read(t, out)
        return t

    def _copy_candidates(self, path: str) -> Iterator[Tracked]:
        """The streams at, or first opened at, each path that `path` could be a rotated copy of."""
        for original in possible_originals(path):
            if original in self.by_path:
                yield self.by_path[original]
            yield from (self.by_key[k] for k in self.by_origin.get(original, ()) if k in self.by_key)

    def _unread_original(self, s: Seen) -> Tracked | None:
        """A stream that has read nothing yet whose file now holds what the new file `s` holds: s is its
        copytruncate copy, not truncated yet (core.unread_copy_of), observed through its descriptor."""
        for t in self._copy_candidates(s.path):
            if t.head or not self._open(t):
                continue
            if core.unread_copy_of(s, t, os.pread(t.fh.fileno(), FP_BYTES, 0)):
                return t
        return None

    def _follow_original(self, s: Seen, out: list[Batch]) -> bool:
        """The new file `s` may be the copytruncate copy of what a watched path holds now that no stream reads
        yet (created, or truncated, and written since the last pass): look at that path first -- a new stream,
        or its stream's truncation and then a new one (core.unfollowed_original)."""
        found = False
        for path in possible_originals(s.path):
            if self.source_for(path) is None:
                continue
            try:
                st = os.stat(path)
                at = Seen(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, read_head(path))
            except OSError:
                continue
            if statmod.S_ISREG(st.st_mode) and core.unfollowed_original(s, at):
                self._check_path(path, out)
                found = True
        return found

    def _truncated_now(self, t: Tracked) -> bool:
        """Observe t through its descriptor: still linked, and truncated or rewritten underneath."""
        if not self._open(t):
            return False
        fd = t.fh.fileno()
        st = os.fstat(fd)
        return st.st_nlink != 0 and core.changed_underneath(t, st.st_size, self._head_of(t, fd))

    @staticmethod
    def _head_of(t: Tracked, fd: int) -> bytes:
        return os.pread(fd, len(t.head), 0) if t.head else b""

    def _find_copy(self, t: Tracked) -> Seen | None:
        """t was truncated: observe the files of its directory (and its subdirectories: logrotate's olddir) that
        may be its copy, and let the core choose."""
        seen = []
        for path in files_with_olddir(os.path.dirname(t.path)):
            if not core.may_be_copy(path, t):
                continue
            try:
                st = os.stat(path)
                head = read_head(path)
            except OSError:
                continue
            seen.append(Seen(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, head))
        return core.copy_after_truncation(t, seen, set(self.by_inode))

    def _count_rotation(self, t: Tracked) -> None:
        """t's content left its origin path (renamed away or copied and truncated): one rotation of it."""
        if t.path == t.origin:
            t.rotations += 1
            self.history[t.origin] = (t.rotations, t.truncations)

    def _relocate_all(self, keys: list[Tracked], out: list[Batch]) -> None:
        """Each of these files is no longer at its path: find where it went (a rotation may shift a chain
        of files, each displacing the next) or drain it if it was deleted."""
        work = list(keys)
        while work:
            t = work.pop()
            if t.key in self.by_key:
                work.extend(self._relocate(t, out))

    def _relocate(self, t: Tracked, out: list[Batch]) -> list[Tracked]:
        self._untrack_path(t)
        nlink = None
        if t.fh is not None:
            try:
                nlink = os.fstat(t.fh.fileno()).st_nlink
            except OSError:
                nlink = None
        new_path = self._find_by_inode(t) if nlink != 0 else None
        directory = os.path.dirname(t.path)
        if new_path is not None:
            displaced = self._move(t, new_path, out)
        else:
            self._gone(t, "deleted", out)
            displaced = []
        self._adopt_unseen(directory, out)
        if new_path is not None and os.path.dirname(new_path) != directory:  # (moved into olddir: seen there too)
            self._adopt_unseen(os.path.dirname(new_path), out)
        return displaced

    def _move(self, t: Tracked, new_path: str, out: list[Batch]) -> list[Tracked]:
        """t is now at new_path (renamed). Returns the file it displaced from there, to be relocated."""
        old_path = t.path
        self._untrack_path(t)
        self._count_rotation(t)
        t.path = new_path
        displaced = self.by_path.get(new_path)
        if displaced is not None and displaced is not t:
            del self.by_path[new_path]
        self._place(t)
        self.suspects.pop(new_path, None)
        self.log.info("file_rotated", path=old_path, new_path=new_path, key=t.key, inode=t.ino)
        self._publish(t)
        self._read(t, out, may_relocate=False)
        return [displaced] if displaced is not None and displaced is not t else []

    def _find_by_inode(self, t: Tracked) -> str | None:
        """Observe the files of t's directory, of its subdirectories (logrotate's olddir) and the glob matches
        that hold t's inode; the core says which one is t renamed. (A file moved into olddir that were drained
        and let go instead would be unknown there: read again from 0 as a rotation not seen.)"""
        seen = []
        for path in files_with_olddir(os.path.dirname(t.path)) + self.expand():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (t.dev, t.ino):
                head = self._head_at(path, FP_BYTES)
                if head is not None or t.fh is not None:  # (a head that cannot be read tells nothing)
                    seen.append(Seen(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, head or b""))
        s = core.moved_to(t, seen, t.fh is not None)
        return None if s is None else s.path

    def _gone(self, t: Tracked, reason: str, out: list[Batch]) -> None:
        """t's file is no longer reachable by name: drain it through the descriptor if we hold one."""
        self._untrack_path(t)
        self.log.info("file_deleted", path=t.path, key=t.key, offset=t.pos, reason=reason, drained=t.fh is not None)
        if t.fh is not None and reason == "deleted":
            t.status = "deleted"
            self._read(t, out, drain=True, may_relocate=False)  # retires it, or hands it on to a copy
            return
        self._lost(t, reason)
        self._retire(t, reason, out)

    def _retire(self, t: Tracked, reason: str, out: list[Batch] | None = None) -> None:
        if self.by_key.get(t.key) is not t:
            return
        if t.pending and not t.skipping and out is not None and reason in ("deleted", "rotated_done"):
            self.cutter.flush(t, out)  # the file is finished: its unterminated last unit counts
        elif t.pending:
            self._lost_bytes(reason, len(t.pending), t.path, t.key)
        self._close(t)
        self._untrack_path(t)
        self._untrack_inode(t)
        self.by_key.pop(t.key, None)
        self._untrack_origin(t)
        self.more.pop(t.key, None)
        self.cutter.forget(t.key)
        self.store.drop_file_when_committed(t.key, t.line_start)
        if reason == "rotated_done":
            self._remember(t.key, t.path, t.origin, t.dev, t.ino, t.fp, len(t.head), t.line_start, t.size)
        elif t.head:  # its file is gone or holds other bytes: read, or counted as dropped, up to its size
            self.vanished.add(t.key, t.path, t.origin, t.fp, len(t.head), max(t.size, t.line_start))
            self._publish_tail_state()
        self.log.info("file_closed", path=t.path, key=t.key, reason=reason)

    def _lost(self, t: Tracked, reason: str) -> None:
        self._lost_bytes(reason, max(0, t.size - t.line_start), t.path, t.key)
        t.pending = b""

    def _lost_bytes(self, reason: str, nbytes: int, path: str, key: str) -> None:
        if nbytes > 0:
            self.store.add_dropped(reason, 0, nbytes)
            self.log.warning("bytes_lost", path=path, key=key, reason=reason, bytes=nbytes)

    def _truncated(self, t: Tracked, out: list[Batch], copy: Seen | None = None, gone: bool = False) -> None:
        """Same inode, but shorter than what we read or a different head: copytruncate, truncation or inode
        reuse. A copy named after the file (copytruncate) carries on this key from where we were; the
        content now at the path (or, for a deleted file, behind our descriptor) is a new key from 0."""
        path = t.path
        fh = None
        if gone:  # the new content is reachable only through our descriptor: keep it for the new key
            fh = self.fds.release(t)
        copy = copy or self._find_copy(t)
        d = core.truncation(t, copy, copy is not None and self.source_for(copy.path) is not None)
        if d.rotation:
            self._count_rotation(t)
        if d.truncation:
            self.history[path] = (t.rotations, t.truncations + 1)
        self._lost_bytes("truncated", d.lost, path, t.key)
        if d.adopt:
            self._adopt(t, copy, out)
        else:
            t.pending = b""
            if copy is not None:
                self.log.info("file_copytruncated", path=path, copy=copy.path, key=t.key, offset=t.line_start,
                              copy_size=copy.size)
            else:
                self.log.info("file_truncated", path=path, key=t.key, offset=t.line_start, size=t.size)
            self._retire(t, "truncated")
            if d.copy_from_end:  # opened now: deleted before its next read, its inode is not reused meanwhile
                self._open(self._start_seen(copy, copy.path, t.source, copy.size, out))
        if fh is not None:
            self._drain_rewritten(t, fh, out)
        else:
            self._check_path(path, out)
        # its file may have been written again and copied (copytruncate) before we saw the truncation: that copy
        # holds no byte of this stream, and is read as a rotation not seen (the copy of this stream is not)
        self._adopt_unseen(os.path.dirname(path), out, also=copy.head if copy is not None else b"")

    def _drain_rewritten(self, old: Tracked, fh: Any, out: list[Batch]) -> None:
        """A deleted file that was also truncated and rewritten: its new content is a new key, drained now."""
        st = os.fstat(fh.fileno())
        head = os.pread(fh.fileno(), FP_BYTES, 0)
        if not head:
            fh.close()
            return
        t = Tracked(key=self._new_key(), path=old.path, origin=old.origin, source=old.source, dev=st.st_dev,
                    ino=st.st_ino, size=st.st_size, status="deleted", fh=fh)
        if old.source.spec.format != "auto":
            t.spec = old.source.spec
        set_head(t, head)
        self.by_key[t.key] = t
        self._index_origin(t)
        self.by_inode[(t.dev, t.ino)] = t
        self.fds.hold(t, fh)
        self._publish(t, offset=0)
        self.log.info("file_opened", path=t.path, key=t.key, offset=0, inode=t.ino, deleted=True)
        self._read(t, out, drain=True, may_relocate=False)

    def _adopt(self, t: Tracked, copy: Seen, out: list[Batch]) -> None:
        old_path, copy_path = t.path, copy.path
        self._close(t)
        self._untrack_path(t)
        self._untrack_inode(t)
        t.path, t.dev, t.ino = copy_path, copy.dev, copy.ino
        t.pos, t.pending, t.skipping = t.line_start, b"", False
        t.size = copy.size
        set_head(t, copy.head)
        self.suspects.pop(copy_path, None)
        displaced = self.by_path.pop(copy_path, None)
        self.by_inode[(t.dev, t.ino)] = t
        self._place(t)
        self.log.info("file_copytruncated", path=old_path, copy=copy_path, key=t.key, offset=t.line_start)
        self._publish(t)
        self._read(t, out, may_relocate=False)
        if displaced is not None and displaced is not t:
            self._relocate_all([displaced], out)
