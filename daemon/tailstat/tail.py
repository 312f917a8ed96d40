"""Tail stage: byte streams of files -> batches of complete lines, exactly once.

Model: every tracked file is a *key*, one byte stream that only grows. Its identity is (device, inode) plus its
head: the first bytes of the file (up to FP_BYTES, extended as the file grows), recorded in checkpoints as a
hash. A rename keeps the key (the file is found again by inode); a copytruncate moves the key to the copy
(same head, named after the file, in its directory); a truncation or an inode reused by a new file starts a
*new* key at offset 0, so offsets committed for one key never mix with another's bytes. The store commits,
per key, the end offset of the last merged batch; on restart every key resumes exactly there.

Empty files get no key: they have nothing to read and nothing to be identified by yet.

All filesystem work for one pass runs in one synchronous call (`cycle`, `rescan`, `restore`) on one I/O
thread; the event loop only awaits it and feeds the resulting batches into the bounded parse queue.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import stat as statmod
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import structlog

from tailstat import globs
from tailstat.aggregate import Store
from tailstat.config import Config, Source
from tailstat.formats import COMPRESSED_MAGIC, UNKNOWN_FORMAT, ParserSpec, cut_long_lines, detect

FP_BYTES = 1024
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".z", ".lzma", ".br")
KEY_MARK = "\0key:"  # a dirty entry naming a key (read more of it), not a path


@dataclass(slots=True)
class Batch:
    """Complete lines of one file: bytes [start, end) of key's stream (end is the offset to commit). `cut`: bytes
    cut off over-long lines in `data`, counted as dropped when the batch is committed (not when read, so a
    batch read again after a crash or discarded is not counted twice)."""

    key: str
    start: int
    end: int
    data: bytes
    spec: ParserSpec
    cut: int = 0


@dataclass(slots=True)
class Tracked:
    key: str
    path: str  # where the file is now
    origin: str  # the path it was first opened at: its rotations count against that path
    source: Source
    dev: int
    ino: int
    spec: ParserSpec | None = None  # None until `auto` has detected the format
    head: bytes = b""  # the file's first bytes (up to FP_BYTES): what a copy or a reused inode is told by
    fp: str = ""  # hash of head, as recorded in checkpoints
    pos: int = 0  # bytes of the file consumed (read) so far
    line_start: int = 0  # file offset where `pending` begins: everything before it is queued
    pending: bytes = b""
    skipping: bool = False  # inside an over-long line: drop bytes until its newline
    size: int = 0
    mtime_ns: int = 0
    status: str = "live"  # live (at a path the globs match) | rotated (elsewhere) | deleted
    fh: Any = None
    idle_since: float = field(default_factory=time.monotonic)
    rotations: int = 0
    truncations: int = 0
    published: tuple = ()  # the record fields last written to the store, size aside (see Tailer._publish)


def pass_budget(cfg: Config) -> int:
    """Bytes one pass may read (per file, and over all files of a pass): enough for throughput, bounded so
    memory stays flat however far behind the files are."""
    return max(4 * cfg.batch_bytes, 4 << 20)


def fingerprint(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def is_compressed_name(path: str) -> bool:
    return path.lower().endswith(COMPRESSED_SUFFIXES)


def named_after(candidate: str, original: str) -> bool:
    """Could `candidate` be a rotated copy of `original`? Same directory, and logrotate-style naming:
    `app.log.1`, `app.log-20250101`, or with `extension .log`, `app.1.log`."""
    if os.path.dirname(candidate) != os.path.dirname(original):
        return False
    name, orig = os.path.basename(candidate), os.path.basename(original)
    if name == orig:
        return False
    if name.startswith(orig):
        return True
    stem, ext = os.path.splitext(orig)
    return bool(ext) and name.startswith(stem + ".") and name.endswith(ext)


def possible_originals(candidate: str) -> list[str]:
    """Every path that `candidate` could be a rotated copy of (the inverse of named_after), so a new file is
    checked against a handful of tracked files instead of all of them."""
    directory, name = os.path.split(candidate)
    names = {name[:k] for k in range(1, len(name))}
    last_dot = name.rfind(".")
    if last_dot > 0:
        ext = name[last_dot:]
        names.update(name[:i] + ext for i, ch in enumerate(name[:last_dot]) if ch == ".")
    return [os.path.join(directory, n) for n in names]


def heads_agree(a: bytes, b: bytes) -> bool:
    """Both non-empty and one is a prefix of the other (a copy may still be short, or our head may be)."""
    n = min(len(a), len(b))
    return n > 0 and a[:n] == b[:n]


def read_head(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(FP_BYTES)


class Tailer:
    """Owns every tracked file. Call `restore`, `cycle` and `rescan` from one thread at a time."""

    def __init__(self, cfg: Config, store: Store, first_start: bool) -> None:
        self.cfg = cfg
        self.store = store
        self.first_start = first_start
        self.by_key: dict[str, Tracked] = {}
        self.by_path: dict[str, Tracked] = {}  # every tracked file, at its current path
        self.by_inode: dict[tuple[int, int], Tracked] = {}
        self.by_origin: dict[str, set[str]] = {}  # origin path -> keys first opened there
        self.open: OrderedDict[str, Tracked] = OrderedDict()  # LRU of files with an open descriptor
        self.suspects: dict[str, float] = {}  # path -> monotonic time: looks like a copy of a tracked file
        self.history: dict[str, tuple[int, int]] = {}  # origin path -> (rotations, truncations) so far
        self.unreadable: set[str] = set()
        self.overlaps: set[str] = set()  # paths matched by more than one source (reported once each)
        # keys with bytes to read in a later pass (budget spent, or queued at start-up), oldest first
        self.more: dict[str, None] = {}
        self.next_seq = 1
        self.log = structlog.get_logger("tailstat.tail")

    # ------------------------------------------------------------------------------------------- globs
    def source_for(self, path: str) -> Source | None:
        """The source whose most specific glob matches `path` (globs.py; a tie goes to the first named); a path
        that several match is reported once."""
        if is_compressed_name(path):
            return None
        return globs.source_for(path, self.cfg.sources, self.overlaps, self.log)

    def expand(self) -> list[str]:
        """All paths the globs match now (regular, not compressed), oldest first."""
        found = self.expand_stat()
        return sorted(found, key=lambda p: (found[p].st_mtime, p))

    def expand_stat(self) -> dict[str, os.stat_result]:
        """Each path the globs match now (regular, not compressed) with its stat."""
        found: dict[str, os.stat_result] = {}
        for src in self.cfg.sources:
            for pattern in src.globs:
                for path in glob.glob(pattern):
                    if is_compressed_name(path) or path in found:
                        continue
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    if statmod.S_ISREG(st.st_mode):
                        found[path] = st
        return found

    def watch_dirs(self) -> set[str]:
        dirs = {os.path.dirname(g) for src in self.cfg.sources for g in src.globs}
        dirs.update(os.path.dirname(t.path) for t in list(self.by_key.values()))
        return dirs

    # --------------------------------------------------------------------------------------- start-up
    def restore(self, out: list[Batch]) -> list[str]:
        """Reconcile the checkpointed file records with what is on disk now (runs once, before watching).

        Each record is found again by identity: at its path, renamed in its directory or among the glob
        matches (rotated while we were down), or as a copy with the same head (copytruncate while down).
        Newest keys claim first, so an old key never takes a file away from the key that replaced it."""
        records = self.store.files()
        for key in records:
            if key.startswith("f") and key[1:].isdigit():
                self.next_seq = max(self.next_seq, int(key[1:]) + 1)
        present = self.expand()
        index = self._inode_index({os.path.dirname(r["path"]) for r in records.values()}, present)
        claimed: set[str] = set()
        resumed: list[Tracked] = []
        for key, rec in sorted(records.items(), key=lambda kv: _seq(kv[0]), reverse=True):
            t = self._resume(key, rec, index, claimed, out)
            if t is not None:
                resumed.append(t)
        # rotated (no longer at a glob path) first: their lines are older than anything new
        # (queued, not read here: the first passes read them under the same byte budget as any other pass,
        # so a start with many big files holds at most one pass of batches in memory)
        for t in sorted(resumed, key=lambda t: (t.status == "live", _seq(t.key))):
            if t.key in self.by_key:
                self.more[t.key] = None
        for path in present:
            if path not in self.by_path and path not in claimed:
                self._check_path(path, out, at_start=True)
        return self._take_more()

    def _resume(self, key: str, rec: dict[str, Any], index: dict[tuple[int, int], list[str]],
                claimed: set[str], out: list[Batch]) -> Tracked | None:
        offset = int(rec["offset"])
        old_path = rec["path"]
        src = self._source_by_name(rec.get("source", "default")) or self.source_for(old_path)
        found = None if src is None else self._locate(rec, index, claimed)
        if found is None:
            # what it held beyond its last recorded size (written while tailstat was down) cannot be known
            lost = max(0, int(rec.get("size", 0)) - offset)
            self.store.drop_file(key)
            if lost:
                self.store.add_dropped("missing_at_start", 0, lost)
                self.log.warning("file_lost", path=old_path, key=key, unread_bytes=lost,
                                 note="unread bytes up to its last recorded size; any written later are unknown")
            else:
                self.log.info("file_gone", path=old_path, key=key,
                              note="read to its last recorded size; any bytes written later were not seen")
            return None
        path, st, head, is_copy = found
        claimed.add(path)
        if is_copy and st.st_size < offset:
            # a copy of a prefix we had already counted (we read past its end before the truncation)
            self.store.drop_file(key)
            self._lost_bytes("truncated", max(0, int(rec.get("size", 0)) - offset), old_path, key)
            self._start(path, st, head, src, st.st_size, out, read=False)
            return None
        origin = rec.get("origin") or old_path
        t = Tracked(key=key, path=path, origin=origin, source=src, dev=st.st_dev, ino=st.st_ino,
                    pos=offset, line_start=offset, size=st.st_size,
                    rotations=int(rec.get("rotations", 0)), truncations=int(rec.get("truncations", 0)))
        self._set_head(t, head)  # its first fingerprint_bytes bytes matched the recorded fingerprint
        fmt = rec.get("format") or ""
        if fmt and fmt != UNKNOWN_FORMAT:
            t.spec = src.spec.resolved(fmt) if src.spec.format == "auto" else src.spec
        elif src.spec.format != "auto":
            t.spec = src.spec
        if path != old_path:
            if old_path == origin:
                t.rotations += 1
            self.log.info("file_moved_while_stopped", key=key, old_path=old_path, path=path, copy=is_copy)
        if path != origin:
            self.history[origin] = max(self.history.get(origin, (0, 0)), (t.rotations, t.truncations))
        self.store.upsert_file(key, retire_at=-1)  # it was being let go when we stopped: it is back now
        self._track(t)
        return t

    def _take_more(self) -> list[str]:
        keys = [KEY_MARK + k for k in self.more if k in self.by_key]
        self.more.clear()
        return keys

    def _inode_index(self, dirs: set[str], present: list[str]) -> dict[tuple[int, int], list[str]]:
        """(dev, inode) -> paths, for the directories of checkpointed files and every glob match."""
        index: dict[tuple[int, int], list[str]] = {}
        paths = set(present)
        for directory in dirs:
            paths.update(self._dir_files(directory))
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            if statmod.S_ISREG(st.st_mode):
                index.setdefault((st.st_dev, st.st_ino), []).append(path)
        return index

    def _locate(self, rec: dict[str, Any], index: dict[tuple[int, int], list[str]],
                claimed: set[str]) -> tuple[str, os.stat_result, bytes, bool] | None:
        """Where a checkpointed file is now: (path, stat, head, is_copy) or None."""
        ident = rec["identity"]
        dev, ino, fp, fp_len = int(ident["dev"]), int(ident["inode"]), ident["fingerprint"], \
            int(ident["fingerprint_bytes"])
        offset, path = int(rec["offset"]), rec["path"]
        for cand in sorted(index.get((dev, ino), []), key=lambda p: p != path):
            found = self._probe(cand, fp, fp_len, claimed)
            if found is not None and found[0].st_size >= offset:
                return cand, found[0], found[1], False
        if not fp_len:
            return None
        origin = rec.get("origin") or path
        for cand in sorted(self._dir_files(os.path.dirname(path))):
            if is_compressed_name(cand) or not (named_after(cand, path) or named_after(cand, origin)):
                continue
            found = self._probe(cand, fp, fp_len, claimed)
            if found is not None and (found[0].st_dev, found[0].st_ino) != (dev, ino):
                return cand, found[0], found[1], True
        return None

    @staticmethod
    def _probe(path: str, fp: str, fp_len: int, claimed: set[str]) -> tuple[os.stat_result, bytes] | None:
        if path in claimed:
            return None
        try:
            st = os.stat(path)
            head = read_head(path) if statmod.S_ISREG(st.st_mode) else b""
        except OSError:
            return None
        if not statmod.S_ISREG(st.st_mode) or len(head) < fp_len or fingerprint(head[:fp_len]) != fp:
            return None
        return st, head

    def _source_by_name(self, name: str) -> Source | None:
        for src in self.cfg.sources:
            if src.name == name:
                return src
        return None

    # ------------------------------------------------------------------------------------------ cycle
    def cycle(self, paths: list[str], out: list[Batch], budget: int) -> list[str]:
        """Check each path (it may have changed) and read what is new. Returns what is left for next time
        because the byte budget was spent."""
        first = len(out)
        queued = 0
        # files with bytes left from an earlier pass go first: their lines are the oldest
        paths = sorted(paths, key=lambda p: not p.startswith(KEY_MARK))
        for i, path in enumerate(paths):
            queued += sum(len(b.data) for b in out[first:])
            first = len(out)
            if queued >= budget:
                return paths[i:] + self._take_more()
            if path.startswith(KEY_MARK):
                t = self.by_key.get(path[len(KEY_MARK):])
                if t is not None:
                    self._read(t, out)
            else:
                self._check_path(path, out)
        return self._take_more()

    def rescan(self, out: list[Batch]) -> list[str]:
        """Safety net (inotify overflow, missed events, new directories): every glob match that is new or
        changed, every tracked file that moved or grew; retire rotated files idle past their grace period."""
        dirty: list[str] = []
        matches = self.expand_stat()
        for path in sorted(matches, key=lambda p: (matches[p].st_mtime, p)):  # older files first
            st = matches[path]
            t = self.by_path.get(path)
            if t is None or (st.st_dev, st.st_ino) != (t.dev, t.ino) or st.st_size != t.pos \
                    or st.st_mtime_ns != t.mtime_ns:
                dirty.append(path)
        seen = set(matches)
        now = time.monotonic()
        for t in list(self.by_key.values()):
            if t.path in seen or t.key not in self.by_key:
                continue
            try:
                st = os.stat(t.path)
            except OSError:
                st = None
            if st is None or (st.st_dev, st.st_ino) != (t.dev, t.ino):
                dirty.append(t.path)
            elif t.status == "rotated" and now - t.idle_since > self.cfg.rotated_grace:
                identity = (t.dev, t.ino)
                self._read(t, out, drain=True)
                if t.status == "rotated" and (t.dev, t.ino) == identity:
                    self._retire(t, "rotated_done", out)
            elif st.st_size != t.pos or st.st_mtime_ns != t.mtime_ns:
                dirty.append(KEY_MARK + t.key)
        dirty.extend(p for p in self.suspects if p not in dirty)
        gone = [p for p in self.unreadable if p not in matches and not os.path.exists(p)]
        if gone:  # an unreadable file that was removed is no longer reported
            self.unreadable.difference_update(gone)
            self.store.set_unreadable(sorted(self.unreadable))
        for path in [p for p in self.history if self.source_for(p) is None and not os.path.exists(p)]:
            del self.history[path]  # rotation counts of a path only matter while a file can appear there
        return dirty

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
            return
        other = self.by_inode.get((st.st_dev, st.st_ino))
        if other is not None:
            if other.fh is not None or self._head_at(path, len(other.head)) == other.head:
                self._relocate_all(self._move(other, path, out), out)  # renamed to here
                return
            self._gone(other, "inode_reused", out)
        src = self.source_for(path)
        if src is not None:
            self._new_file(path, st, src, out, at_start)

    def _new_file(self, path: str, st: os.stat_result, src: Source, out: list[Batch], at_start: bool) -> None:
        try:
            head = read_head(path)
        except OSError as exc:
            self._unreadable(path, exc)
            return
        self._readable(path)
        if not head or head.startswith(COMPRESSED_MAGIC):
            return
        start = 0
        original = self._copy_of(path, st, head)
        if original is not None:
            if self._adopt_if_truncated(original, path, st, head, out):
                return
            first = self.suspects.setdefault(path, time.monotonic())
            if time.monotonic() - first < self.cfg.rotated_grace:
                return  # wait: logrotate truncates the original right after copying it
            self.log.info("duplicate_content_skipped", path=path, original=original.path, bytes=st.st_size)
            start = self._last_line_end(path, st.st_size)
        elif at_start and self.first_start and self.cfg.read_from == "end":
            start = self._last_line_end(path, st.st_size)
        t = self._start(path, st, head, src, start, out, read=not at_start)
        if at_start:
            self.more[t.key] = None  # read by the first passes, under their byte budget

    def _start(self, path: str, st: os.stat_result, head: bytes, src: Source, start: int, out: list[Batch],
               read: bool = True) -> Tracked:
        """A new key for the file at path, its committed offset at `start`."""
        self.suspects.pop(path, None)
        rotations, truncations = self.history.pop(path, (0, 0))
        t = Tracked(key=self._new_key(), path=path, origin=path, source=src, dev=st.st_dev, ino=st.st_ino,
                    pos=start, line_start=start, size=st.st_size, rotations=rotations, truncations=truncations)
        if src.spec.format != "auto":
            t.spec = src.spec
        self._set_head(t, head)
        self._track(t, offset=start)
        self.log.info("file_opened", path=path, key=t.key, offset=start, inode=st.st_ino)
        if read:
            self._read(t, out)
        return t

    def _copy_of(self, path: str, st: os.stat_result, head: bytes) -> Tracked | None:
        """A tracked file (another inode) that `path` is named after and whose head agrees with it."""
        for original in possible_originals(path):
            candidates = [self.by_path[original]] if original in self.by_path else []
            candidates += [self.by_key[k] for k in self.by_origin.get(original, ()) if k in self.by_key]
            for t in candidates:
                if (t.status != "deleted" and (t.dev, t.ino) != (st.st_dev, st.st_ino)
                        and (named_after(path, t.path) or named_after(path, t.origin))
                        and heads_agree(head, t.head)):
                    return t
        return None

    def _adopt_if_truncated(self, original: Tracked, copy_path: str, copy_st: os.stat_result, copy_head: bytes,
                            out: list[Batch]) -> bool:
        """copytruncate: once the original is truncated, the copy carries on its key."""
        if not self._open(original):
            return False
        st = os.fstat(original.fh.fileno())
        if st.st_nlink == 0 or not self._changed_underneath(original, st):
            return False
        self._truncated(original, out, copy=(copy_path, copy_st, copy_head))
        return True

    def _find_copy(self, t: Tracked) -> tuple[str, os.stat_result, bytes] | None:
        """An untracked file named after t, in its directory, whose head agrees with t's: the largest."""
        best = None
        for path in self._dir_files(os.path.dirname(t.path)):
            if path == t.path or is_compressed_name(path) or not (
                    named_after(path, t.path) or named_after(path, t.origin)):
                continue
            try:
                st = os.stat(path)
                head = read_head(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (t.dev, t.ino) or (st.st_dev, st.st_ino) in self.by_inode:
                continue
            if heads_agree(head, t.head) and (best is None or st.st_size > best[1].st_size):
                best = (path, st, head)
        return best

    # -------------------------------------------------------------------------------------- lifecycle
    def _new_key(self) -> str:
        key = f"f{self.next_seq}"
        self.next_seq += 1
        return key

    def _index_origin(self, t: Tracked) -> None:
        self.by_origin.setdefault(t.origin, set()).add(t.key)

    def _track(self, t: Tracked, offset: int | None = None) -> None:
        self.by_key[t.key] = t
        self._index_origin(t)
        self.by_inode[(t.dev, t.ino)] = t
        self._place(t)
        self._publish(t, offset)

    def _place(self, t: Tracked) -> None:
        self.by_path[t.path] = t
        t.status = "live" if self.source_for(t.path) is not None else "rotated"

    def _untrack_path(self, t: Tracked) -> None:
        if self.by_path.get(t.path) is t:
            del self.by_path[t.path]

    def _untrack_inode(self, t: Tracked) -> None:
        if self.by_inode.get((t.dev, t.ino)) is t:
            del self.by_inode[(t.dev, t.ino)]

    def _publish(self, t: Tracked, offset: int | None = None) -> None:
        """Write t's record to the store. After most reads only the size changed: then only the size is set."""
        fmt = t.spec.format if t.spec else UNKNOWN_FORMAT
        shape = (t.path, t.origin, t.source.name, fmt, t.rotations, t.truncations, t.status, t.dev, t.ino, t.fp,
                 len(t.head))
        if offset is None and shape == t.published and self.store.set_file_size(t.key, t.size):
            return
        t.published = shape
        fields: dict[str, Any] = {} if offset is None else {"offset": offset}
        self.store.upsert_file(
            t.key, path=t.path, origin=t.origin, source=t.source.name, format=fmt, size=t.size,
            rotations=t.rotations, truncations=t.truncations, status=t.status,
            identity={"dev": t.dev, "inode": t.ino, "fingerprint": t.fp, "fingerprint_bytes": len(t.head)},
            **fields)

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
        if new_path is not None:
            return self._move(t, new_path, out)
        self._gone(t, "deleted", out)
        return []

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
        for path in self._dir_files(os.path.dirname(t.path)) + self.expand():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (t.dev, t.ino) and (
                    t.fh is not None or self._head_at(path, len(t.head)) == t.head):
                return path
        return None

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
            # the file is finished: its unterminated last line counts, as in `tailstat scan`
            self._emit(t, t.pending + b"\n", t.pos, out)
            t.line_start, t.pending = t.pos, b""
        elif t.pending:
            self._lost_bytes(reason, len(t.pending), t.path, t.key)
        self._close(t)
        self._untrack_path(t)
        self._untrack_inode(t)
        self.by_key.pop(t.key, None)
        keys = self.by_origin.get(t.origin)
        if keys is not None:
            keys.discard(t.key)
            if not keys:
                del self.by_origin[t.origin]
        self.more.pop(t.key, None)
        self.store.drop_file_when_committed(t.key, t.line_start)
        self.log.info("file_closed", path=t.path, key=t.key, reason=reason)

    def _lost(self, t: Tracked, reason: str) -> None:
        self._lost_bytes(reason, max(0, t.size - t.line_start), t.path, t.key)
        t.pending = b""

    def _lost_bytes(self, reason: str, nbytes: int, path: str, key: str) -> None:
        if nbytes > 0:
            self.store.add_dropped(reason, 0, nbytes)
            self.log.warning("bytes_lost", path=path, key=key, reason=reason, bytes=nbytes)

    def _unreadable(self, path: str, exc: OSError) -> None:
        """Reported once (log and stats document), retried on every change and rescan."""
        if path not in self.unreadable:
            self.unreadable.add(path)
            self.log.error("file_unreadable", path=path, error=exc.strerror or str(exc), errno=exc.errno)
            self.store.set_unreadable(sorted(self.unreadable))

    def _readable(self, path: str) -> None:
        if path in self.unreadable:
            self.unreadable.discard(path)
            self.log.info("file_readable", path=path)
            self.store.set_unreadable(sorted(self.unreadable))

    # -------------------------------------------------------------------------------------- reading
    def _open(self, t: Tracked) -> bool:
        if t.fh is not None:
            self.open.move_to_end(t.key)
            return True
        try:
            fh = open(t.path, "rb", buffering=0)  # noqa: SIM115 - kept open across cycles, closed by _close
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                self._unreadable(t.path, exc)
            return False
        st = os.fstat(fh.fileno())
        if (st.st_dev, st.st_ino) != (t.dev, t.ino):
            fh.close()
            return False
        self._readable(t.path)
        t.fh = fh
        self.open[t.key] = t
        while len(self.open) > self.cfg.max_open_files:
            _, oldest = self.open.popitem(last=False)
            if oldest.fh is not None:
                oldest.fh.close()
                oldest.fh = None
        return True

    def _close(self, t: Tracked) -> None:
        if t.fh is not None:
            t.fh.close()
            t.fh = None
        self.open.pop(t.key, None)

    def close_all(self) -> None:
        for t in list(self.open.values()):
            self._close(t)

    @property
    def open_files(self) -> int:
        return len(self.open)

    @staticmethod
    def _head_at(path: str, n: int) -> bytes | None:
        try:
            with open(path, "rb") as fh:
                return fh.read(n)
        except OSError:
            return None

    @staticmethod
    def _set_head(t: Tracked, head: bytes) -> None:
        head = head[:FP_BYTES]
        if len(head) > len(t.head) or not t.fp:
            t.head, t.fp = head, fingerprint(head)

    @staticmethod
    def _changed_underneath(t: Tracked, st: os.stat_result) -> bool:
        """Same inode, but no longer the stream we were reading: shorter than what we read (truncated), or
        a different head (truncated and rewritten past our offset, or an inode reused by a new file)."""
        if st.st_size < t.pos:
            return True
        return bool(t.head) and os.pread(t.fh.fileno(), len(t.head), 0) != t.head

    def _read(self, t: Tracked, out: list[Batch], drain: bool = False, may_relocate: bool = True) -> None:
        """Read what is new (up to a per-pass budget unless draining a file about to be let go)."""
        if not self._open(t):
            if may_relocate and t.status != "deleted":
                self._relocate_all([t], out)
            return
        fd = t.fh.fileno()
        st = os.fstat(fd)
        gone = st.st_nlink == 0
        if self._changed_underneath(t, st):
            self._truncated(t, out, gone=gone or t.status == "deleted")
            return
        t.size = max(st.st_size, t.pos)
        t.mtime_ns = st.st_mtime_ns
        saved = (t.pos, t.line_start, t.pending, t.skipping, len(out))
        limit = self.cfg.batch_bytes
        budget = pass_budget(self.cfg)
        while True:
            chunk = os.pread(fd, limit, t.pos)
            if not chunk:
                break
            t.pos += len(chunk)
            self._cut(t, chunk, out)
            if len(chunk) < limit:
                break
            if t.pos - saved[0] >= budget and not (drain or gone):
                self.more[t.key] = None  # bounded memory per pass: continue in the next one
                break
        if t.pos != saved[0] and not gone and t.status != "deleted":
            head = os.pread(fd, FP_BYTES, 0)
            if head[: len(t.head)] != t.head:
                # truncated while we read: what we just read may be the new content at old offsets
                t.pos, t.line_start, t.pending, t.skipping = saved[:4]
                del out[saved[4]:]
                self._truncated(t, out)
                return
            self._set_head(t, head)
        if t.pos != saved[0]:
            t.idle_since = time.monotonic()
            t.size = max(t.size, t.pos)
        self._publish(t)
        if gone or t.status == "deleted":
            self._retire(t, "deleted", out)  # drained: a deleted file's descriptor is let go at once

    def _cut(self, t: Tracked, chunk: bytes, out: list[Batch]) -> None:
        """Append chunk (which ends at file offset t.pos) and cut batches of complete lines."""
        max_line = self.cfg.max_line_bytes
        chunk_start = t.pos - len(chunk)
        if t.skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                self.store.add_dropped("line_too_long", 0, len(chunk))
                return
            self.store.add_dropped("line_too_long", 0, nl)
            self._emit(t, t.pending + b"\n", chunk_start + nl + 1, out)
            t.pending, t.skipping = b"", False
            chunk = chunk[nl + 1:]
            t.line_start = chunk_start + nl + 1
        buf = t.pending + chunk if t.pending else chunk
        cut = buf.rfind(b"\n")
        if cut < 0:
            t.pending = buf
        else:
            self._emit(t, buf[: cut + 1], t.line_start + cut + 1, out)
            t.pending = buf[cut + 1:]
            t.line_start = t.pos - len(t.pending)
        if len(t.pending) > max_line:
            self.store.add_dropped("line_too_long", 0, len(t.pending) - max_line)
            t.pending, t.skipping = t.pending[:max_line], True

    def _emit(self, t: Tracked, data: bytes, end: int, out: list[Batch]) -> None:
        if t.spec is None:
            self._detect(t, data)
        spec = t.spec or ParserSpec(format=UNKNOWN_FORMAT)
        limit = self.cfg.batch_bytes
        start = t.line_start  # data begins at the first byte not yet queued
        pos = 0
        while pos < len(data):
            stop = len(data) if len(data) - pos <= limit else data.rfind(b"\n", pos, pos + limit) + 1
            if stop <= pos:
                stop = data.find(b"\n", pos + limit) + 1 or len(data)
            piece, cut = cut_long_lines(data[pos:stop], self.cfg.max_line_bytes)  # offsets stay the file's
            piece_end = end if stop == len(data) else min(end, start + stop)
            out.append(Batch(t.key, start + pos, piece_end, piece, spec, cut))
            pos = stop

    def _detect(self, t: Tracked, data: bytes) -> None:
        fmt = detect(data[:65536])
        if fmt is None:
            if t.spec is None and t.key not in self.unreadable:
                self.log.warning("format_unknown", path=t.path, key=t.key,
                                 sample=data[:120].decode("utf-8", "replace"))
            return
        t.spec = t.source.spec.resolved(fmt)
        self.log.info("format_detected", path=t.path, key=t.key, format=fmt)

    def _truncated(self, t: Tracked, out: list[Batch],
                   copy: tuple[str, os.stat_result, bytes] | None = None, gone: bool = False) -> None:
        """Same inode, but shorter than what we read or a different head: copytruncate, truncation or inode
        reuse. A copy named after the file (copytruncate) carries on this key from where we were; the
        content now at the path (or, for a deleted file, behind our descriptor) is a new key from 0."""
        path = t.path
        fh = None
        if gone:  # the new content is reachable only through our descriptor: keep it for the new key
            fh, t.fh = t.fh, None
            self.open.pop(t.key, None)
        copy = copy or self._find_copy(t)
        if copy is not None:
            copy_path, copy_st, copy_head = copy
            self._count_rotation(t)
            if copy_st.st_size >= t.line_start:
                self._lost_bytes("truncated", t.size - copy_st.st_size, path, t.key)
                self._adopt(t, copy_path, copy_st, copy_head, out)
            else:
                # we had read past the copy's end before the truncation: all of the copy is counted
                self._lost(t, "truncated")
                self.log.info("file_copytruncated", path=path, copy=copy_path, key=t.key, offset=t.line_start,
                              copy_size=copy_st.st_size)
                self._retire(t, "truncated")
                if self.source_for(copy_path) is not None:
                    self._start(copy_path, copy_st, copy_head, t.source, copy_st.st_size, out, read=False)
        else:
            self._lost(t, "truncated")
            self.log.info("file_truncated", path=path, key=t.key, offset=t.line_start, size=t.size)
            if path == t.origin:
                self.history[path] = (t.rotations, t.truncations + 1)
            self._retire(t, "truncated")
        if fh is not None:
            self._drain_rewritten(t, fh, out)
        else:
            self._check_path(path, out)

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
        self._set_head(t, head)
        self.by_key[t.key] = t
        self._index_origin(t)
        self.by_inode[(t.dev, t.ino)] = t
        self.open[t.key] = t
        self._publish(t, offset=0)
        self.log.info("file_opened", path=t.path, key=t.key, offset=0, inode=t.ino, deleted=True)
        self._read(t, out, drain=True, may_relocate=False)

    def _adopt(self, t: Tracked, copy_path: str, copy_st: os.stat_result, copy_head: bytes,
               out: list[Batch]) -> None:
        old_path = t.path
        self._close(t)
        self._untrack_path(t)
        self._untrack_inode(t)
        t.path, t.dev, t.ino = copy_path, copy_st.st_dev, copy_st.st_ino
        t.pos, t.pending, t.skipping = t.line_start, b"", False
        t.size = copy_st.st_size
        self._set_head(t, copy_head)
        self.suspects.pop(copy_path, None)
        displaced = self.by_path.pop(copy_path, None)
        self.by_inode[(t.dev, t.ino)] = t
        self._place(t)
        self.log.info("file_copytruncated", path=old_path, copy=copy_path, key=t.key, offset=t.line_start)
        self._publish(t)
        self._read(t, out, may_relocate=False)
        if displaced is not None and displaced is not t:
            self._relocate_all([displaced], out)

    @staticmethod
    def _dir_files(directory: str) -> list[str]:
        try:
            with os.scandir(directory) as it:
                return [e.path for e in it if e.is_file(follow_symlinks=False)]
        except OSError:
            return []

    @staticmethod
    def _last_line_end(path: str, size: int) -> int:
        """Where reading from the end starts: at the start of an unfinished last line, so no line is cut."""
        if size == 0:
            return 0
        try:
            with open(path, "rb") as fh:
                back = min(size, 1 << 16)
                tail = os.pread(fh.fileno(), back, size - back)
        except OSError:
            return size
        nl = tail.rfind(b"\n")
        if nl >= 0:
            return size - back + nl + 1
        return 0 if back == size else size


def _seq(key: str) -> int:
    return int(key[1:]) if key[1:].isdigit() else 0
