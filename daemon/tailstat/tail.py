"""Tail stage: byte streams of files -> batches of complete lines, exactly once.

Model: every tracked file is a *key*, one byte stream that only grows. Its identity is (device, inode) plus a
fingerprint (hash of its first bytes, up to FP_BYTES). A rename keeps the key (the file is found again by
identity); a truncation, a copytruncate, or an inode reused by a new file starts a *new* key at offset 0, so
offsets committed for one key never mix with another's bytes. The store commits, per key, the end offset of the
last merged batch; on restart every key resumes exactly there.

All filesystem work for one pass runs in one synchronous call (`cycle`) on an I/O thread; the event loop only
awaits it and feeds the resulting batches into the bounded parse queue.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import hashlib
import os
import stat as statmod
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import structlog

from tailstat.aggregate import Store
from tailstat.config import Config, Source
from tailstat.formats import ParserSpec, detect

FP_BYTES = 1024
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".z", ".lzma", ".br")
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18", b"PK\x03\x04")
UNKNOWN_FORMAT = "unknown"
COPY_GRACE = 2.0  # seconds a look-alike new file waits for its original's copytruncate truncation


@dataclass(slots=True)
class Batch:
    """Complete lines of one file: bytes [start, end) of key's stream (end is the offset to commit)."""

    key: str
    start: int
    end: int
    data: bytes
    spec: ParserSpec


@dataclass(slots=True)
class Tracked:
    key: str
    path: str
    source: Source
    dev: int
    ino: int
    spec: ParserSpec | None = None  # None until `auto` has detected the format
    fp: str = ""
    fp_len: int = 0
    pos: int = 0  # bytes of the file consumed (read) so far
    line_start: int = 0  # file offset where `pending` begins: everything before it is queued
    pending: bytes = b""
    skipping: bool = False  # inside an over-long line: drop bytes until its newline
    size: int = 0
    status: str = "live"  # live | rotated | deleted
    fh: Any = None
    idle_since: float = field(default_factory=time.monotonic)
    rotations: int = 0
    truncations: int = 0


def fingerprint(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def is_compressed_name(path: str) -> bool:
    return path.lower().endswith(COMPRESSED_SUFFIXES)


class Tailer:
    """Owns every tracked file. Call `cycle(paths)` from one thread at a time."""

    def __init__(self, cfg: Config, store: Store, first_start: bool) -> None:
        self.cfg = cfg
        self.store = store
        self.first_start = first_start
        self.by_key: dict[str, Tracked] = {}
        self.by_path: dict[str, Tracked] = {}  # live files, at a path the globs match
        self.open: OrderedDict[str, Tracked] = OrderedDict()  # LRU of files with an open descriptor
        # path -> (monotonic time, size) when first seen or last grown: it starts like a tracked file, so it
        # may be logrotate's copytruncate copy; it is held back until the original is truncated or COPY_GRACE
        self.suspects: dict[str, tuple[float, int]] = {}
        self.history: dict[str, tuple[int, int]] = {}  # path -> (rotations, truncations) of its last key
        self.unreadable: set[str] = set()
        self.more: set[str] = set()  # keys with unread bytes left after their per-pass read budget
        self.next_seq = 1
        self.log = structlog.get_logger("tailstat.tail")

    # ------------------------------------------------------------------------------------------- globs
    def source_for(self, path: str) -> Source | None:
        if is_compressed_name(path):
            return None
        for src in self.cfg.sources:
            for pattern in src.globs:
                if fnmatch.fnmatchcase(path, pattern):
                    return src
        return None

    def expand(self) -> list[str]:
        """All paths the globs match now (regular, not compressed), oldest first."""
        found: dict[str, float] = {}
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
                        found[path] = st.st_mtime
        return sorted(found, key=lambda p: (found[p], p))

    def watch_dirs(self) -> set[str]:
        dirs = {os.path.dirname(g) for src in self.cfg.sources for g in src.globs}
        dirs.update(os.path.dirname(t.path) for t in self.by_key.values())
        return dirs

    # --------------------------------------------------------------------------------------- start-up
    def restore(self, out: list[Batch]) -> list[str]:
        """Reconcile the checkpointed file records with what is on disk now (runs once, before watching)."""
        records = self.store.files()
        for key in records:
            if key.startswith("f") and key[1:].isdigit():
                self.next_seq = max(self.next_seq, int(key[1:]) + 1)
        present = self.expand()
        index = self._inode_index({os.path.dirname(r["path"]) for r in records.values()}, present)
        claimed: set[str] = set()
        resumed: list[Tracked] = []
        for key, rec in sorted(records.items(), key=lambda kv: int(kv[0][1:]) if kv[0][1:].isdigit() else 0):
            ident = rec["identity"]
            src = self._source_by_name(rec.get("source", "default")) or self.source_for(rec["path"])
            location = self._locate(rec["path"], ident["dev"], ident["inode"], ident["fingerprint"],
                                    ident["fingerprint_bytes"], rec["offset"], index, claimed)
            if location is None or src is None:
                lost = max(0, int(rec.get("size", 0)) - int(rec["offset"]))
                self.store.add_dropped("missing_at_start", 0, lost)
                self.store.drop_file(key)
                self.log.warning("file_lost", path=rec["path"], key=key, unread_bytes=lost)
                continue
            path, st = location
            claimed.add(path)
            t = Tracked(key=key, path=path, source=src, dev=st.st_dev, ino=st.st_ino,
                        fp=ident["fingerprint"], fp_len=ident["fingerprint_bytes"], pos=rec["offset"],
                        line_start=rec["offset"], size=st.st_size, rotations=rec.get("rotations", 0),
                        truncations=rec.get("truncations", 0))
            fmt = rec.get("format") or ""
            if fmt and fmt != UNKNOWN_FORMAT:
                t.spec = src.spec.resolved(fmt) if src.spec.format == "auto" else src.spec
            elif src.spec.format != "auto":
                t.spec = src.spec
            self._track(t, live=self.source_for(path) is not None and path not in self.by_path)
            if path != rec["path"]:
                self.log.info("file_moved_while_stopped", key=key, old_path=rec["path"], path=path)
            resumed.append(t)
        # rotated (no longer at a glob path) first: their lines are older than anything new
        for t in sorted(resumed, key=lambda t: t.status == "live"):
            self._read(t, out)
        for path in present:
            if path not in self.by_path and path not in claimed:
                self._check_path(path, out, at_start=True)
        return self._take_more()

    def _take_more(self) -> list[str]:
        keys = ["\0key:" + k for k in sorted(self.more) if k in self.by_key]
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

    def _locate(self, path: str, dev: int, ino: int, fp: str, fp_len: int, offset: int,
                index: dict[tuple[int, int], list[str]], claimed: set[str]) -> tuple[str, os.stat_result] | None:
        """Where a checkpointed file is now: same identity (at its path first, else renamed nearby), or, for
        copytruncate while we were down, a copy with the same head that is at least as long as our offset."""
        same = sorted(index.get((dev, ino), []), key=lambda p: p != path)
        for cand in same:
            st = self._fits(cand, fp, fp_len, offset, claimed)
            if st is not None:
                return cand, st
        if not fp_len:
            return None
        for cand in self._dir_files(os.path.dirname(path)):
            if is_compressed_name(cand):
                continue
            st = self._fits(cand, fp, fp_len, offset, claimed)
            if st is not None and (st.st_dev, st.st_ino) != (dev, ino):
                return cand, st
        return None

    def _fits(self, path: str, fp: str, fp_len: int, offset: int, claimed: set[str]) -> os.stat_result | None:
        if path in claimed:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        if not statmod.S_ISREG(st.st_mode) or st.st_size < offset:
            return None
        if fp_len and self._head_hash(path, fp_len) != fp:
            return None
        return st

    def _source_by_name(self, name: str) -> Source | None:
        for src in self.cfg.sources:
            if src.name == name:
                return src
        return None

    # ------------------------------------------------------------------------------------------ cycle
    def cycle(self, paths: list[str], out: list[Batch], budget: int) -> list[str]:
        """Check each path (it may have changed) and read what is new. Returns paths left for next time
        because the byte budget was spent."""
        first = len(out)
        # files with bytes left from an earlier pass go first: their lines are the oldest
        paths = sorted(paths, key=lambda p: not p.startswith("\0key:"))
        for i, path in enumerate(paths):
            if sum(len(b.data) for b in out[first:]) >= budget:
                return paths[i:] + self._take_more()
            if path.startswith("\0key:"):
                t = self.by_key.get(path[5:])
                if t is not None:
                    self._read(t, out)
            else:
                self._check_path(path, out)
        return self._take_more()

    def rescan(self, out: list[Batch]) -> list[str]:
        """Safety net (inotify overflow, missed events, new directories): every glob match and every tracked
        file whose size or identity changed; retire rotated files past their grace period."""
        dirty = []
        for path in self.expand():
            t = self.by_path.get(path)
            if t is None:
                dirty.append(path)
                continue
            try:
                st = os.stat(path)
            except OSError:
                dirty.append(path)
                continue
            if (st.st_dev, st.st_ino) != (t.dev, t.ino) or st.st_size != t.pos:
                dirty.append(path)
        for path, t in list(self.by_path.items()):
            if not os.path.exists(path):
                dirty.append(path)
        now = time.monotonic()
        for t in [t for t in self.by_key.values() if t.status != "live"]:
            dirty.append("\0key:" + t.key)
            if t.status == "rotated" and now - t.idle_since > self.cfg.rotated_grace:
                self._read(t, out, drain=True)
                self._retire(t, "rotated_done")
                dirty.pop()
        dirty.extend(p for p in self.suspects if p not in dirty)
        return dirty

    # ------------------------------------------------------------------------------------------ paths
    def _check_path(self, path: str, out: list[Batch], at_start: bool = False) -> None:
        t = self.by_path.get(path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            self._unreadable(path, exc)
            return
        if t is not None:
            if st is not None and (st.st_dev, st.st_ino) == (t.dev, t.ino):
                self._read(t, out)
                return
            self._detach(t, out)
        if st is None or not statmod.S_ISREG(st.st_mode):
            self.suspects.pop(path, None)
            return
        src = self.source_for(path)
        if src is None:
            return
        self._new_file(path, st, src, out, at_start)

    def _new_file(self, path: str, st: os.stat_result, src: Source, out: list[Batch], at_start: bool) -> None:
        try:
            with open(path, "rb") as fh:
                head = fh.read(FP_BYTES)
        except OSError as exc:
            self._unreadable(path, exc)
            return
        self.unreadable.discard(path)
        if head.startswith(COMPRESSED_MAGIC):
            return
        original = self._copy_of(path, st, head)
        if original is not None:
            if self._adopt_if_truncated(original, path, st, out):
                return
            now = time.monotonic()
            seen = self.suspects.get(path)
            if seen is None or seen[1] != st.st_size:
                self.suspects[path] = (now, st.st_size)
                return  # wait: logrotate truncates the original right after its copy is complete
            if now - seen[0] < COPY_GRACE:
                return
            # the original was not truncated: an ordinary new file that merely starts like another one
            start = 0
        elif at_start and self.first_start and self.cfg.read_from == "end":
            start = self._last_line_end(path, st.st_size)
        else:
            start = 0
        self.suspects.pop(path, None)
        rotations, truncations = self.history.pop(path, (0, 0))
        t = Tracked(key=self._new_key(), path=path, source=src, dev=st.st_dev, ino=st.st_ino,
                    pos=start, line_start=start, size=st.st_size, rotations=rotations, truncations=truncations)
        if src.spec.format != "auto":
            t.spec = src.spec
        self._set_fp(t, head)
        self._track(t, live=True)
        self.log.info("file_opened", path=path, key=t.key, offset=start, inode=st.st_ino)
        self._read(t, out)

    def _copy_of(self, path: str, st: os.stat_result, head: bytes) -> Tracked | None:
        """A tracked file (different inode) whose fingerprinted head equals this file's head."""
        for t in self.by_key.values():
            if t.fp_len and t.ino != st.st_ino and len(head) >= t.fp_len and fingerprint(head[: t.fp_len]) == t.fp:
                return t
        return None

    def _adopt_if_truncated(self, original: Tracked, copy_path: str, copy_st: os.stat_result,
                            out: list[Batch]) -> bool:
        """copytruncate: once the original is truncated, the copy carries on its key from the same offset."""
        if original.status != "live":
            return False
        try:
            st = os.stat(original.path)
        except OSError:
            return False
        if (st.st_dev, st.st_ino) == (original.dev, original.ino) and not self._was_truncated(original, st):
            return False
        if copy_st.st_size < original.line_start:
            return False
        orig_path = original.path
        self.log.info("file_copytruncated", path=orig_path, copy=copy_path, key=original.key,
                      offset=original.line_start)
        self._close(original)
        self._untrack_path(original)
        history = (original.rotations + 1, original.truncations)
        original.path, original.dev, original.ino = copy_path, copy_st.st_dev, copy_st.st_ino
        original.pos = original.line_start
        original.pending = b""
        original.skipping = False
        original.rotations += 1
        live = self.source_for(copy_path) is not None and copy_path not in self.by_path
        self._track(original, live=live)
        self._read(original, out)
        self.suspects.pop(copy_path, None)
        self.history[orig_path] = history
        self._check_path(orig_path, out)  # the truncated path starts a new key at offset 0
        return True

    # -------------------------------------------------------------------------------------- lifecycle
    def _new_key(self) -> str:
        key = f"f{self.next_seq}"
        self.next_seq += 1
        return key

    def _track(self, t: Tracked, live: bool) -> None:
        self.by_key[t.key] = t
        t.status = "live" if live else "rotated"
        if live:
            self.by_path[t.path] = t
        self._publish(t)

    def _untrack_path(self, t: Tracked) -> None:
        if self.by_path.get(t.path) is t:
            del self.by_path[t.path]

    def _publish(self, t: Tracked) -> None:
        self.store.upsert_file(
            t.key, path=t.path, source=t.source.name, format=t.spec.format if t.spec else UNKNOWN_FORMAT,
            size=t.size, rotations=t.rotations, truncations=t.truncations, status=t.status,
            identity={"dev": t.dev, "inode": t.ino, "fingerprint": t.fp, "fingerprint_bytes": t.fp_len})

    def _detach(self, t: Tracked, out: list[Batch]) -> None:
        """The path no longer holds t: it was renamed (rotated) or deleted. Drain it, then let go."""
        old_path = t.path
        self._untrack_path(t)
        self.history[old_path] = (t.rotations + 1, t.truncations)
        nlink = None
        if t.fh is not None:
            try:
                nlink = os.fstat(t.fh.fileno()).st_nlink
            except OSError:
                nlink = None
        new_path = self._find_renamed(t) if nlink != 0 else None
        if new_path is not None:
            t.path = new_path
            t.rotations += 1
            live = self.source_for(new_path) is not None and new_path not in self.by_path
            self._track(t, live=live)
            self.log.info("file_rotated", path=old_path, new_path=new_path, key=t.key, inode=t.ino)
            self._read(t, out)
            return
        t.status = "deleted"
        if t.fh is not None:
            self._read(t, out, drain=True)  # drain what is left through the open descriptor
        else:
            self._lost(t, "deleted")
        self.log.info("file_deleted", path=old_path, key=t.key, offset=t.line_start)
        self._retire(t, "deleted")

    def _find_renamed(self, t: Tracked) -> str | None:
        for path in self._dir_files(os.path.dirname(t.path)) + self.expand():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (t.dev, t.ino):
                if not t.fp_len or self._head_hash(path, t.fp_len) == t.fp:
                    return path
        return None

    def _retire(self, t: Tracked, reason: str) -> None:
        self._close(t)
        self._untrack_path(t)
        self.by_key.pop(t.key, None)
        self.store.drop_file_when_committed(t.key, t.line_start)
        self.log.info("file_closed", path=t.path, key=t.key, reason=reason)

    def _lost(self, t: Tracked, reason: str) -> None:
        unread = max(0, t.size - t.line_start)
        if unread:
            self.store.add_dropped(reason, 0, unread)
            self.log.warning("bytes_lost", path=t.path, key=t.key, reason=reason, bytes=unread)

    def _unreadable(self, path: str, exc: OSError) -> None:
        if path not in self.unreadable:
            self.unreadable.add(path)
            self.log.error("file_unreadable", path=path, error=exc.strerror or str(exc), errno=exc.errno)

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
        self.unreadable.discard(t.path)
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

    def _head_hash(self, path: str, n: int) -> str | None:
        try:
            with open(path, "rb") as fh:
                head = fh.read(n)
        except OSError:
            return None
        return fingerprint(head) if len(head) == n else None

    def _set_fp(self, t: Tracked, head: bytes) -> None:
        head = head[:FP_BYTES]
        if len(head) > t.fp_len:
            t.fp, t.fp_len = fingerprint(head), len(head)

    def _was_truncated(self, t: Tracked, st: os.stat_result) -> bool:
        if st.st_size < t.pos:
            return True
        if t.fp_len:
            head = os.pread(t.fh.fileno(), t.fp_len, 0) if t.fh is not None else None
            if head is None:
                digest = self._head_hash(t.path, t.fp_len)
            else:
                digest = fingerprint(head) if len(head) == t.fp_len else None
            return digest != t.fp
        return False

    def _read(self, t: Tracked, out: list[Batch], drain: bool = False) -> None:
        """Read what is new (up to a per-pass budget unless `drain`: a file about to be let go)."""
        if not self._open(t):
            if t.status == "live" and not os.path.exists(t.path):
                self._detach(t, out)
            return
        fd = t.fh.fileno()
        st = os.fstat(fd)
        if t.status == "live" and self._was_truncated(t, st):
            self._truncated(t, st, out)
            return
        t.size = st.st_size
        if t.fp_len < FP_BYTES and st.st_size > t.fp_len:
            self._set_fp(t, os.pread(fd, FP_BYTES, 0))
        start_pos = t.pos
        limit = self.cfg.batch_bytes
        budget = 4 * limit
        while True:
            chunk = os.pread(fd, limit, t.pos)
            if not chunk:
                break
            t.pos += len(chunk)
            self._cut(t, chunk, out)
            if len(chunk) < limit:
                break
            if t.pos - start_pos >= budget and not drain:
                self.more.add(t.key)  # bounded memory per pass: continue in the next one
                return self._publish(t)
        if t.pos != start_pos:
            t.idle_since = time.monotonic()
            t.size = max(t.size, t.pos)
        self._publish(t)
        if t.status == "deleted" or (t.status == "rotated" and st.st_nlink == 0):
            self._close(t)

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
            piece = data[pos:stop]
            piece_end = end if stop == len(data) else start + stop
            out.append(Batch(t.key, start + pos, piece_end, piece, spec))
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

    def _truncated(self, t: Tracked, st: os.stat_result, out: list[Batch]) -> None:
        """Same inode, but shorter than what we read or a different head: copytruncate, truncation or
        inode reuse. The copy, if the globs' directory has one, continues this key; the path gets a new key."""
        path = t.path
        copy = self._find_copy(t)
        if copy is not None:
            copy_path, copy_st = copy
            if self._adopt_if_truncated(t, copy_path, copy_st, out):
                return
        self._lost(t, "truncated")
        self.log.info("file_truncated", path=path, key=t.key, offset=t.line_start, size=st.st_size)
        rotations, truncations = t.rotations, t.truncations + 1
        self._retire(t, "truncated")
        self.history[path] = (rotations, truncations)
        self._check_path(path, out)

    def _find_copy(self, t: Tracked) -> tuple[str, os.stat_result] | None:
        if not t.fp_len:
            return None
        for path in self._dir_files(os.path.dirname(t.path)):
            if path == t.path or is_compressed_name(path):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            if st.st_ino == t.ino or st.st_size < t.line_start or not statmod.S_ISREG(st.st_mode):
                continue
            if self._head_hash(path, t.fp_len) == t.fp:
                return path, st
        return None

    @staticmethod
    def _dir_files(directory: str) -> list[str]:
        try:
            with os.scandir(directory) as it:
                return [e.path for e in it if e.is_file(follow_symlinks=False)]
        except OSError:
            return []

    @staticmethod
    def _last_line_end(path: str, size: int) -> int:
        """Where reading from the end starts: just after the last newline, so no line is cut in half."""
        if size == 0:
            return 0
        try:
            with open(path, "rb") as fh:
                back = min(size, 1 << 16)
                tail = os.pread(fh.fileno(), back, size - back)
        except OSError:
            return size
        nl = tail.rfind(b"\n")
        return size if nl < 0 and back == size else (size - back + nl + 1 if nl >= 0 else size)
