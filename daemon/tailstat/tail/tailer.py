"""The tailer: ties discovery, identity, the rotation core and the reader together (Vector's file server).

Every tracked file is a *key*, one byte stream that only grows. A rename keeps the key (the file is found
again by inode); a copytruncate moves the key to the copy (same head, named after the file, in its directory);
a truncation or an inode reused by a new file starts a *new* key at offset 0, so offsets committed for one key
never mix with another's bytes. The store commits, per key, the end offset of the last merged batch; on
restart every key resumes exactly there (core.reconcile decides where "there" is now).

An empty file gets a key too, at offset 0, followed by (device, inode) until it has a head: what is written to
it is read even if it is rotated away (renamed, or copied and truncated) before the next pass.

All filesystem work for one pass runs in one synchronous call (`cycle`, `rescan`, `restore`) on one I/O
thread; the event loop only awaits it and feeds the resulting batches into the bounded parse queue.
"""

from __future__ import annotations

import os
import time
from typing import Any

import structlog

from tailstat.aggregate import Store
from tailstat.config import Config, Source
from tailstat.formats import UNKNOWN_FORMAT, detect
from tailstat.tail import core
from tailstat.tail.core import Known, Seen
from tailstat.tail.discovery import Discovery, Listing
from tailstat.tail.compressed import LISTING_SLACK_NS, compressed_key
from tailstat.tail.follow import Follower
from tailstat.tail.identity import FP_BYTES
from tailstat.tail.reader import (
    Batch,
    Descriptors,
    LineCutter,
    Tracked,
    pass_budget,
    read_new,
    set_head,
)
from tailstat.tail.registry import Retired, Vanished

KEY_MARK = "\0key:"  # a dirty entry naming a key (read more of it), not a path
RETIRED_MAX = 20000  # retired files remembered (identity and end offset) while they exist; the oldest go first
VANISHED_MAX = 1000  # streams ended with their file gone, remembered for a compressed rotation of them met later


class Tailer(Follower):
    """Ties the parts together (Vector's file server): discovery finds files, the rotation core decides what a
    restart finds means (here: `restore`) and what each change seen while running means (follow.py), the reader
    reads. Call `restore`, `cycle` and `rescan` from one thread at a time."""

    def __init__(self, cfg: Config, store: Store, first_start: bool) -> None:
        self.cfg = cfg
        self.store = store
        self.first_start = first_start
        self.discovery = Discovery(cfg)
        self.by_key: dict[str, Tracked] = {}
        self.by_path: dict[str, Tracked] = {}  # every tracked file, at its current path
        self.by_inode: dict[tuple[int, int], Tracked] = {}
        self.by_origin: dict[str, set[str]] = {}  # origin path -> keys first opened there
        self.fds = Descriptors(cfg.max_open_files, self._unreadable, self._readable)
        self.cutter = LineCutter(cfg, lambda reason, n: self.store.add_dropped(reason, 0, n), self._detect)
        self.suspects: dict[str, float] = {}  # path -> monotonic time: looks like a copy of a tracked file
        self.history: dict[str, tuple[int, int]] = {}  # origin path -> (rotations, truncations) so far
        self.unreadable: set[str] = set()
        self.retired = Retired(RETIRED_MAX, self._vanish_record)  # finished files, while they can come back
        self.vanished = Vanished(VANISHED_MAX)  # ended streams whose file is gone (registry.Vanished)
        # compressed rotations judged (counted in dropped, or told to hold a stream we know): "dev:inode:mtime" ->
        # mtime, kept while newer than the last listing (older ones are judged by nothing: no start, no pass)
        self.compressed_done: dict[str, int] = {}
        self.compressed_old: set[tuple[int, int, int]] = set()  # there at start, or older than a listing: not ours
        self.compressed_wait: dict[str, int] = {}  # path -> mtime when first seen: judged once settled
        self._compressed_looks: dict[str, tuple[int, int, float]] = {}  # path -> (size, mtime, since when)
        self.listed_at_ns = 0  # start of the last complete listing the store's records reflect
        self._adopting = False
        self._listing_ns = 0  # a rescan's listing, complete once its paths were all checked
        # keys with bytes to read in a later pass (budget spent, or queued at start-up), oldest first
        self.more: dict[str, None] = {}
        self.next_seq = 1
        self.streams_changed = 0  # counts each stream placed at a path, opened or let go (follow._origin_dirs)
        self._dirs: set[str] = set()
        self._dirs_at = -1
        self.log = structlog.get_logger("tailstat.tail")

    # ------------------------------------------------------------------------------------------- globs
    def source_for(self, path: str) -> Source | None:
        return self.discovery.source_for(path)

    def expand(self) -> list[str]:
        return self.discovery.expand()

    def expand_stat(self) -> dict[str, os.stat_result]:
        return self.discovery.expand_stat()

    def watch_dirs(self) -> set[str]:
        dirs = self.discovery.glob_dirs()
        dirs.update(os.path.dirname(t.path) for t in list(self.by_key.values()))
        return dirs

    @property
    def open(self) -> dict[str, Tracked]:
        return self.fds.open

    @property
    def open_files(self) -> int:
        return len(self.fds)

    def close_all(self) -> None:
        self.fds.close_all()

    # ---------------------------------------------------------------------------------- retired files
    def _remember(self, key: str, path: str, origin: str, dev: int, ino: int, fp: str, fp_len: int,
                  end: int, size: int) -> None:
        self.retired.remember(key, path, origin, dev, ino, fp, fp_len, end, size)
        self._publish_tail_state()

    def _publish_tail_state(self, changed: bool = True) -> None:
        self.store.set_tail_state(self._tail_state(), changed)

    def _tail_state(self) -> dict[str, Any]:
        return {"listed_at_ns": self.listed_at_ns, "retired": self.retired.to_dict(),
                "vanished": self.vanished.to_dict(), "compressed": dict(self.compressed_done)}

    def _vanish_record(self, key: str, rec: dict[str, Any]) -> None:
        """A retired file is gone: remembered as vanished (read to its offset), for a compressed copy of it."""
        self.vanished.add(key, rec["path"], rec["origin"], rec["fingerprint"], int(rec["fingerprint_bytes"]),
                          max(int(rec["offset"]), int(rec.get("size", 0))))

    # --------------------------------------------------------------------------------------- start-up
    def restore(self, out: list[Batch]) -> list[str]:
        """Reconcile the checkpoint (file records, retired files) with what is on disk now: runs once, before
        watching. The rotation core (core.reconcile) decides; this carries its decisions out."""
        listing = time.time_ns()
        records = self.store.files()
        state = self.store.tail_state()
        since = int(state.get("listed_at_ns", 0))
        retired = {str(k): dict(v) for k, v in state.get("retired", {}).items() if k not in records}
        self.vanished.load(state.get("vanished", {}))
        self.compressed_done = {str(k): int(v) for k, v in state.get("compressed", {}).items()}
        for key in list(records) + list(retired):
            if key.startswith("f") and key[1:].isdigit():
                self.next_seq = max(self.next_seq, int(key[1:]) + 1)
        present = self.expand()
        known = [_known(k, r, False) for k, r in records.items()]
        known += [_known(k, r, True) for k, r in retired.items()]
        origins = set(present) | {k.origin for k in known} | {k.path for k in known if not k.retired}
        dirs = self.discovery.glob_dirs() | {os.path.dirname(p) for p in present}
        dirs |= {os.path.dirname(k.path) for k in known}
        if known or since:
            seen, listed = self.discovery.observe(dirs, origins, {k.ino for k in known})
        else:  # a first start: nothing to locate, and no listing to date rotated files against
            seen, listed = {}, set()
        compressed_present = [s for s in seen.values() if s.compressed]
        if since:
            self._judge_compressed_at_start(seen, since - LISTING_SLACK_NS, origins)
        plan = core.reconcile(known, seen, max(0, since - LISTING_SLACK_NS) if since else 0,
                              lambda p: self.source_for(p) is not None, origins, listed)
        claimed: set[str] = set()
        resumed: list[Tracked] = []
        for key, s, is_copy in plan.resume:
            claimed.add(s.path)
            t = self._resume(key, records[key], s, is_copy)
            if t is not None:
                resumed.append(t)
        for key, copy, lost in plan.truncated:
            claimed.add(copy.path)
            self.store.drop_file(key)
            self._lost_bytes("truncated", lost, records[key]["path"], key)
        for key, reason, lost in plan.lost:
            self._record_lost(key, records[key], reason, lost)
        self.retired.load(retired)
        for key, s in plan.moved:
            claimed.add(s.path)
            rec = self.retired.records[key]
            src = self.source_for(s.path)
            if src is not None and s.path not in self.by_path:
                # a finished file now at a watched path: followed from where it was read to
                self.retired.forget(key)
                self._start_seen(s, rec["origin"], src, min(int(rec["offset"]), s.size), out)
            else:
                self.retired.moved(key, s.path, s.dev, s.ino)
        for key in plan.forget:
            rec = self.retired.records.get(key)
            if rec is not None:
                self._vanish_record(key, rec)  # a compressed rotation met later holds what was read
            self.retired.forget(key)
        for s, origin in plan.remember:
            claimed.add(s.path)
            src = self.source_for(s.path)
            if src is not None and s.path not in self.by_path:
                self._start_seen(s, origin, src, s.size, out)  # at a watched path: followed from its end
            else:
                self._remember(self._new_key(), s.path, origin, s.dev, s.ino, *_fp(s.head), s.size, s.size)
            self.log.info("file_known_skipped", path=s.path, bytes=s.size,
                          note="counted before (or a copy of a file counted): not read again")
        for s, reason, nbytes in plan.unrecoverable:
            claimed.add(s.path)
            self.compressed_done[compressed_key(s.dev, s.ino, s.mtime_ns)] = s.mtime_ns
            self.store.add_dropped(reason, 0, nbytes, self._tail_state())
            self.log.warning("file_unrecoverable", path=s.path, reason=reason, bytes=nbytes,
                             note="rotated and compressed while tailstat was stopped, before it was read")
        for s, origin, reason in plan.adopt:
            if reason != "rotated_while_stopped":
                continue  # new files at watched paths: checked below, as any new file
            claimed.add(s.path)
            src = self.source_for(origin) or self.source_for(s.path)
            if src is not None:
                t = self._start_seen(s, origin, src, 0, out)
                t.rotations = self.history.get(origin, (0, 0))[0]
                self.log.info("file_found_rotated", path=s.path, origin=origin, key=t.key, bytes=s.size,
                              note="created and rotated away while tailstat was stopped: read from byte 0")
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
        self.listed_at_ns = listing
        # compressed rotations there now are judged (by the core at a restart) or predate us: never at run time
        self.compressed_old = {(s.dev, s.ino, s.mtime_ns) for s in compressed_present}
        self._scan_compressed(self.compressed_old)
        self._publish_tail_state()
        return self._take_more()

    def _judge_compressed_at_start(self, seen: dict[str, Seen], since_ns: int, origins: set[str]) -> None:
        """Before the core decides: compressed rotations judged already (while running, or at an earlier start)
        are not judged again, nor those that hold a stream that ended and vanished (registry.Vanished): they
        count only what they hold beyond what it accounted for. Both leave `seen`."""
        vanished = self.vanished.known()
        for path, s in list(seen.items()):
            if not s.compressed:
                continue
            if compressed_key(s.dev, s.ino, s.mtime_ns) in self.compressed_done:
                del seen[path]
                continue
            verdict = core.compressed_rotation(s, origins, since_ns, (), vanished) if vanished else None
            if verdict is not None and verdict[0] == "known":
                del seen[path]
                self._count_compressed(s, verdict)

    def _record_lost(self, key: str, rec: dict[str, Any], reason: str, lost: int) -> None:
        """A checkpointed file found nowhere: what it held beyond its offset up to its last recorded size is
        lost (bytes written later cannot be known)."""
        self.store.drop_file(key)
        ident = rec.get("identity", {})
        if ident.get("fingerprint_bytes"):  # read or counted to offset + lost: a compressed copy met later
            self.vanished.add(key, rec["path"], rec.get("origin") or rec["path"], ident["fingerprint"],
                              int(ident["fingerprint_bytes"]), int(rec["offset"]) + lost)
        if lost:
            self.store.add_dropped(reason, 0, lost)
            self.log.warning("file_lost", path=rec["path"], key=key, unread_bytes=lost, reason=reason,
                             note="unread bytes up to its last recorded size; any written later are unknown")
        else:
            self.log.info("file_gone", path=rec["path"], key=key,
                          note="read to its last recorded size; any bytes written later were not seen")

    def _resume(self, key: str, rec: dict[str, Any], s: Seen, is_copy: bool) -> Tracked | None:
        offset = int(rec["offset"])
        old_path = rec["path"]
        src = self.discovery.source_by_name(rec.get("source", "default")) or self.source_for(old_path)
        if src is None:
            self._record_lost(key, rec, "missing_at_start", max(0, int(rec.get("size", 0)) - offset))
            return None
        origin = rec.get("origin") or old_path
        t = Tracked(key=key, path=s.path, origin=origin, source=src, dev=s.dev, ino=s.ino,
                    pos=offset, line_start=offset, size=s.size,
                    rotations=int(rec.get("rotations", 0)), truncations=int(rec.get("truncations", 0)),
                    skipped_at_start=int(rec.get("skipped_at_start", 0)))
        ident = rec.get("identity", {})
        if s.head and len(s.head[:FP_BYTES]) == ident.get("fingerprint_bytes"):
            t.head, t.fp = s.head[:FP_BYTES], ident["fingerprint"]  # the core matched the whole head to it
        else:
            set_head(t, s.head)  # its first fingerprint_bytes bytes matched the recorded fingerprint
        fmt = rec.get("format") or ""
        if fmt and fmt != UNKNOWN_FORMAT:
            t.spec = src.spec.resolved(fmt) if src.spec.format == "auto" else src.spec
        elif src.spec.format != "auto":
            t.spec = src.spec
        if s.path != old_path:
            if old_path == origin:
                t.rotations += 1
            self.log.info("file_moved_while_stopped", key=key, old_path=old_path, path=s.path, copy=is_copy)
        if s.path != origin:
            self.history[origin] = max(self.history.get(origin, (0, 0)), (t.rotations, t.truncations))
        if rec.get("retire_at") != -1:  # it was being let go when we stopped: it is back now
            self.store.upsert_file(key, retire_at=-1)
        self._track(t)
        return t

    def _start_seen(self, s: Seen, origin: str, src: Source, start: int, out: list[Batch]) -> Tracked:
        st = os.stat_result((0, s.ino, s.dev, 1, 0, 0, s.size, 0, 0, 0))
        t = self._start(s.path, st, s.head, src, start, out, read=False)
        if origin != t.origin:
            self._untrack_origin(t)
            t.origin = origin
            self._index_origin(t)
            self._place(t)
            self._publish(t, offset=start)
        return t

    def _take_more(self) -> list[str]:
        keys = [KEY_MARK + k for k in self.more if k in self.by_key]
        self.more.clear()
        return keys

    # ------------------------------------------------------------------------------------------ cycle
    def cycle(self, paths: list[str], out: list[Batch], budget: int) -> list[str]:
        """Check each path (it may have changed) and read what is new. Returns what is left for next time
        because the byte budget was spent."""
        first = len(out)
        queued = 0
        # files with bytes left from an earlier pass go first: their lines are the oldest
        paths = sorted(paths, key=lambda p: not p.startswith(KEY_MARK))
        for i, path in enumerate(paths):
            if len(out) != first:
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
        left = self._take_more()
        if not left:
            self.listing_done()
        return left

    def rescan(self, out: list[Batch]) -> list[str]:
        """Safety net (inotify overflow, missed events, new directories): every glob match that is new or
        changed, every tracked file that moved or grew; retire rotated files idle past their grace period."""
        self._listing_ns = time.time_ns()
        listing = Listing()  # (each directory listed once: the glob matches, olddir, compressed rotations)
        matches = self.discovery.expand_stat(listing)
        dirty: list[str] = []
        for path, st in matches.items():
            t = self.by_path.get(path)
            if t is None or (st.st_dev, st.st_ino) != (t.dev, t.ino) or st.st_size != t.pos \
                    or st.st_mtime_ns != t.mtime_ns:
                dirty.append(path)
        dirty.sort(key=lambda p: (matches[p].st_mtime, p))  # older files first
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
            elif core.rotated_done(t.status, now - t.idle_since, self.cfg.rotated_grace):
                identity = (t.dev, t.ino)
                self._read(t, out, drain=True)
                if t.status == "rotated" and (t.dev, t.ino) == identity:
                    self._retire(t, "rotated_done", out)
            elif st.st_size != t.pos or st.st_mtime_ns != t.mtime_ns:
                dirty.append(KEY_MARK + t.key)
        self.flush_quiet(out, now)
        dirty.extend(p for p in self.suspects if p not in dirty)
        gone = [p for p in self.unreadable if p not in matches and not os.path.exists(p)]
        if gone:  # an unreadable file that was removed is no longer reported
            self.unreadable.difference_update(gone)
            self.store.set_unreadable(sorted(self.unreadable))
        for path in [p for p in self.history if self.source_for(p) is None and not os.path.exists(p)]:
            del self.history[path]  # rotation counts of a path only matter while a file can appear there
        if self.retired and self.retired.prune():
            self._publish_tail_state()
        dirty.extend(p for p in self._scan_compressed(listing=listing) if p not in dirty)
        return dirty

    def flush_quiet(self, out: list[Batch], now: float | None = None) -> None:
        """Multiline events held back at a file's end whose writer went quiet (TAILSTAT_MULTILINE_TIMEOUT) are
        complete: cut them into batches. Called on the daemon's quiet timer and at each rescan."""
        now = time.monotonic() if now is None else now
        for t in list(self.by_key.values()):
            if t.pending:
                self.cutter.flush_quiet(t, out, self.cfg.multiline_timeout, now)

    def listing_done(self) -> None:
        """Every path of the last rescan was checked: each file at a watched path then is in the store."""
        if self._listing_ns:
            listing = self._listing_ns
            if self.compressed_wait:  # a compressed rotation not judged yet stays newer than the listing
                listing = min(listing, min(self.compressed_wait.values()) - 1)
            self.listed_at_ns, self._listing_ns = max(self.listed_at_ns, listing), 0
            since = self.listed_at_ns - LISTING_SLACK_NS
            for key in [k for k, mtime in self.compressed_done.items() if mtime <= since]:
                del self.compressed_done[key]  # older than the listing: judged by nothing from now on
            self._publish_tail_state(changed=False)

    # -------------------------------------------------------------------------------------- lifecycle
    def _new_key(self) -> str:
        key = f"f{self.next_seq}"
        self.next_seq += 1
        return key

    def _index_origin(self, t: Tracked) -> None:
        self.by_origin.setdefault(t.origin, set()).add(t.key)
        self.streams_changed += 1

    def _untrack_origin(self, t: Tracked) -> None:
        self.streams_changed += 1
        keys = self.by_origin.get(t.origin)
        if keys is not None:
            keys.discard(t.key)
            if not keys:
                del self.by_origin[t.origin]

    def _track(self, t: Tracked, offset: int | None = None) -> None:
        self.by_key[t.key] = t
        self._index_origin(t)
        self.by_inode[(t.dev, t.ino)] = t
        self._place(t)
        self._publish(t, offset)

    def _place(self, t: Tracked) -> None:
        self.streams_changed += 1
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
                 len(t.head), t.skipped_at_start)
        if offset is None and shape == t.published and self.store.set_file_size(t.key, t.size):
            return
        t.published = shape
        fields: dict[str, Any] = {} if offset is None else {"offset": offset}
        self.store.upsert_file(
            t.key, path=t.path, origin=t.origin, source=t.source.name, format=fmt, size=t.size,
            rotations=t.rotations, truncations=t.truncations, status=t.status, skipped_at_start=t.skipped_at_start,
            identity={"dev": t.dev, "inode": t.ino, "fingerprint": t.fp, "fingerprint_bytes": len(t.head)},
            **fields)

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
        return self.fds.get(t)

    def _close(self, t: Tracked) -> None:
        self.fds.close(t)

    @staticmethod
    def _head_at(path: str, n: int) -> bytes | None:
        try:
            with open(path, "rb") as fh:
                return fh.read(n)
        except OSError:
            return None

    def _read(self, t: Tracked, out: list[Batch], drain: bool = False, may_relocate: bool = True) -> None:
        """Read what is new (up to a per-pass budget unless draining a file about to be let go)."""
        if not self.fds.get(t):
            if may_relocate and t.status != "deleted":
                self._relocate_all([t], out)
            return
        fd = t.fh.fileno()
        st = os.fstat(fd)
        gone = st.st_nlink == 0
        if core.changed_underneath(t, st.st_size, os.pread(fd, len(t.head), 0) if t.head else b""):
            self._truncated(t, out, gone=gone or t.status == "deleted")
            return
        if not t.head and t.mtime_ns and st.st_mtime_ns != t.mtime_ns and not gone and t.status != "deleted":
            # written since we last looked, and nothing read yet: it may have been copied and truncated in
            # between (copytruncate): its copy, not at a watched path, is found as a rotation not seen -- in its
            # directory, or in olddir
            now_head = os.pread(fd, FP_BYTES, 0)
            self._adopt_unseen(os.path.dirname(t.path), out, also=now_head)
            self._adopt_olddir_copies(t, now_head, out)
        t.size = max(st.st_size, t.pos)
        t.mtime_ns = st.st_mtime_ns
        saved = (t.pos, t.line_start, t.pending, t.skipping, len(out))
        if read_new(t, self.cutter, out, self.cfg.batch_bytes, pass_budget(self.cfg), drain or gone):
            self.more[t.key] = None  # bounded memory per pass: continue in the next one
        if t.pos != saved[0] and not gone and t.status != "deleted":
            head = os.pread(fd, FP_BYTES, 0)
            if head[: len(t.head)] != t.head:
                # truncated while we read: what we just read may be the new content at old offsets
                t.pos, t.line_start, t.pending, t.skipping = saved[:4]
                del out[saved[4]:]
                self._truncated(t, out)
                return
            set_head(t, head)
        if t.pos != saved[0]:
            t.idle_since = time.monotonic()
            t.size = max(t.size, t.pos)
        self._publish(t)
        if gone or t.status == "deleted":
            self._retire(t, "deleted", out)  # drained: a deleted file's descriptor is let go at once

    def _detect(self, t: Tracked, data: bytes) -> None:
        fmt = detect(data[:65536])
        if fmt is None:
            if t.spec is None and t.key not in self.unreadable:
                self.log.warning("format_unknown", path=t.path, key=t.key,
                                 sample=data[:120].decode("utf-8", "replace"))
            return
        t.spec = t.source.spec.resolved(fmt)
        self.log.info("format_detected", path=t.path, key=t.key, format=fmt)

def _seq(key: str) -> int:
    return int(key[1:]) if key[1:].isdigit() else 0


def _known(key: str, rec: dict[str, Any], retired: bool) -> Known:
    ident = rec.get("identity", rec)
    return Known(key=key, path=rec["path"], origin=rec.get("origin") or rec["path"], dev=int(ident["dev"]),
                 ino=int(ident["inode"]), fp=ident["fingerprint"], fp_len=int(ident["fingerprint_bytes"]),
                 offset=int(rec["offset"]), size=int(rec.get("size", 0)), retired=retired)


def _fp(head: bytes) -> tuple[str, int]:
    from tailstat.tail.identity import fingerprint

    head = head[:FP_BYTES]
    return fingerprint(head), len(head)
