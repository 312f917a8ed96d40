"""The rotation core: what one observation of the file system means for the streams tailstat knows.

A pure function of data -- no I/O, no clock, no logging -- so that it can be checked against a model at
thousands of scenarios a second (tests/test_tail_core.py). The tailer gathers the observation (stat and head of
every regular file in the directories that matter), calls `reconcile`, and carries out the decisions.

Inputs:
- `known`: the streams of the last checkpoint. Live ones (`retired=False`) have bytes to read from `offset`;
  retired ones (finished: read to `offset`, then let go) are remembered so that the same file met again -- renamed
  by a later rotation (`.13` -> `.14`), moved aside as `.backup`, matched by a glob of rotated names -- is never
  read twice.
- `seen`: every regular file found, by path, with (device, inode, size, mtime, head).
- `since_ns`: the start of the last complete listing of the watched directories whose results the checkpoint
  holds. Every file that sat at a watched path then is known (live or retired); a file tailstat does not know
  whose mtime is later was written after that, so its lines were written while tailstat was not looking.
- `watched(path)`: the globs match `path`; `origins`: the watched paths whose rotations are looked for.

Decisions (`Plan`): resume a known stream at a path (maybe a copytruncate copy), move a retired record,
forget a retired record whose file is gone, adopt an unknown file from byte 0, remember an unknown file as
already counted (skip it), and count what is lost (with a reason and the bytes where known).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from tailstat.tail.identity import (
    heads_agree,
    is_compressed_name,
    matches_fingerprint,
    named_after,
    possible_originals,
    rotation_name,
)


@dataclass(frozen=True, slots=True)
class Seen:
    """One regular file as observed: `head` is its first bytes (up to FP_BYTES); for a compressed file, `uhead` is
    the head of what it holds (decompressed: what tells whose rotation it is) and `usize` the uncompressed size it
    records (gzip), when known."""

    path: str
    dev: int
    ino: int
    size: int
    mtime_ns: int
    head: bytes
    compressed: bool = False
    usize: int | None = None
    uhead: bytes | None = None


@dataclass(frozen=True, slots=True)
class Known:
    """A stream from the checkpoint: a live file record or a retired one (`offset` = where reading ended)."""

    key: str
    path: str
    origin: str
    dev: int
    ino: int
    fp: str
    fp_len: int
    offset: int
    size: int
    retired: bool = False


@dataclass(slots=True)
class Plan:
    resume: list[tuple[str, Seen, bool]] = field(default_factory=list)  # (key, where, is_copy)
    truncated: list[tuple[str, Seen, int]] = field(default_factory=list)  # a copy shorter than offset: lost bytes
    lost: list[tuple[str, str, int]] = field(default_factory=list)  # (key, reason, bytes) of a live stream
    moved: list[tuple[str, Seen]] = field(default_factory=list)  # retired record found again (renamed)
    forget: list[str] = field(default_factory=list)  # retired records whose file is gone
    adopt: list[tuple[Seen, str, str]] = field(default_factory=list)  # (file, origin, reason): read from 0
    remember: list[tuple[Seen, str]] = field(default_factory=list)  # (file, origin): counted already, skip
    unrecoverable: list[tuple[Seen, str, int]] = field(default_factory=list)  # (file, reason, bytes)


def origin_of(path: str, origins: set[str] | frozenset[str]) -> str | None:
    """The watched path `path` is a logrotate rotation of (same directory, or a subdirectory: olddir), the
    longest such name first."""
    directory, name = os.path.split(path)
    best = None
    for parent in (directory, os.path.dirname(directory)):
        for cand in possible_originals(os.path.join(parent, name)):
            if cand in origins and rotation_name(name, os.path.basename(cand)) \
                    and (best is None or len(cand) > len(best)):
                best = cand
    return best


def reconcile(known: Iterable[Known], seen: dict[str, Seen], since_ns: int, watched: Callable[[str], bool],
              origins: Iterable[str], listed_dirs: Iterable[str]) -> Plan:
    """Match the checkpoint's streams to what is on disk now; see the module docstring."""
    plan = Plan()
    origins = set(origins)
    listed = set(listed_dirs)
    by_inode: dict[tuple[int, int], list[Seen]] = {}
    for s in seen.values():
        by_inode.setdefault((s.dev, s.ino), []).append(s)
    claimed: set[str] = set()
    # newest first; those that had read nothing (no fingerprint: told by inode and path alone) last, so that a
    # file now there that is another stream's copy is that stream's
    live = sorted((k for k in known if not k.retired), key=lambda k: (bool(k.fp_len), _seq(k.key)), reverse=True)
    retired = [k for k in known if k.retired]
    fps = [(k.fp, k.fp_len) for k in live + retired if k.fp_len]

    def by_identity(k: Known, need: int) -> Seen | None:
        found = by_inode.get((k.dev, k.ino), ())
        for s in found if len(found) < 2 else sorted(found, key=lambda s: s.path != k.path):
            # (a stream that had read nothing has no fingerprint: only its inode at its own path is it, unless
            # what is there now is another stream's)
            if s.path not in claimed and not s.compressed and s.size >= need and (
                    matches_fingerprint(s.head, k.fp, k.fp_len) or (not k.fp_len and s.path == k.path and not any(
                        matches_fingerprint(s.head, fp, n) for fp, n in fps))):
                return s
        return None

    lost_live: list[Known] = []
    for k in live:
        s = by_identity(k, k.offset)
        if s is not None:
            claimed.add(s.path)
            plan.resume.append((k.key, s, False))
            continue
        copy = None
        if k.fp_len:
            names = {os.path.basename(k.path), os.path.basename(k.origin)}
            for s in sorted(seen.values(), key=lambda s: s.path):
                if s.path in claimed or s.compressed or (s.dev, s.ino) == (k.dev, k.ino):
                    continue
                if os.path.dirname(k.path) in (os.path.dirname(s.path), os.path.dirname(os.path.dirname(s.path))) \
                        and any(rotation_name(os.path.basename(s.path), n) for n in names) \
                        and matches_fingerprint(s.head, k.fp, k.fp_len):  # (in its directory, or olddir)
                    copy = s
                    break
        if copy is not None:
            claimed.add(copy.path)
            if copy.size < k.offset:  # a copy of a prefix we had already counted
                plan.truncated.append((k.key, copy, max(0, k.size - k.offset)))
                plan.remember.append((copy, k.origin))
            else:
                plan.resume.append((k.key, copy, True))
            continue
        lost_live.append(k)

    for k in retired:
        s = by_identity(k, 0)
        if s is not None:
            claimed.add(s.path)
            plan.moved.append((k.key, s))
        elif os.path.dirname(k.path) in listed:
            plan.forget.append(k.key)  # gone (or its inode now holds another file): it cannot come back

    # compressed rotations: a record whose file is gone may have been compressed (its bytes recorded there)
    compressed = sorted((s for s in seen.values() if s.compressed and s.path not in claimed),
                        key=lambda s: (s.usize is None, s.usize or 0, s.path))  # the smallest that fits first
    for k in retired:
        if k.key in plan.forget and _take_named(compressed, k, claimed, fps) is None:
            _take_compressed(compressed, k, claimed, fps, exact=True)
    # where a lost record's bytes went: a compressed file named after where it was (app.log.1 -> app.log.1.gz)
    # first, then a compressed rotation of its origin that can hold them; else, if its inode is still there (but
    # shorter, or holding other bytes), it was truncated or its inode reused; else it is missing. (A record that
    # had read nothing is told by nothing: only a file written after the last listing can hold bytes of it.)
    recent = [s for s in compressed if s.mtime_ns > since_ns]  # older ones were there at the last listing
    found = {k.key: _take_named(compressed if k.fp_len else recent, k, claimed, fps) for k in lost_live}
    for k in lost_live:
        gz = found[k.key] or _take_compressed(recent, k, claimed, fps, exact=False)
        if gz is not None:
            nbytes = gz.usize - k.offset if gz.usize is not None and gz.usize >= k.offset else k.size - k.offset
            plan.lost.append((k.key, "compressed_before_read", max(0, nbytes)))
        elif any(not s.compressed for s in by_inode.get((k.dev, k.ino), [])):
            plan.lost.append((k.key, "truncated", max(0, k.size - k.offset)))
        else:
            plan.lost.append((k.key, "missing_at_start", max(0, k.size - k.offset)))

    for s in sorted(seen.values(), key=lambda s: (s.mtime_ns, s.path)):  # oldest first
        if s.path in claimed or s.size == 0:
            continue
        origin = origin_of(s.path, origins)
        if s.compressed:
            if origin is not None and s.mtime_ns > since_ns and since_ns and not (
                    s.uhead is not None and any(matches_fingerprint(s.uhead, fp, n) for fp, n in fps)):
                plan.unrecoverable.append((s, "compressed_before_read", s.usize or 0))
            continue
        if watched(s.path):
            if any(matches_fingerprint(s.head, k.fp, k.fp_len) for k in retired if k.fp_len):
                plan.remember.append((s, origin or s.path))  # a copy of a finished file: counted there
                continue
            if origin is not None and since_ns and s.mtime_ns <= since_ns:
                plan.remember.append((s, origin))  # a rotation we had counted and forgotten: unchanged since
            else:
                # new at a watched path (the tailer still checks it for a copytruncate copy of a live file)
                plan.adopt.append((s, s.path if origin is None else origin, "new"))
        elif any(matches_fingerprint(s.head, fp, n) for fp, n in fps):
            plan.remember.append((s, origin or s.path))  # a copy of a stream we know: counted there
        elif origin is not None and since_ns and s.mtime_ns > since_ns:
            plan.adopt.append((s, origin, "rotated_while_stopped"))
    return plan


def unseen_rotations(seen: Iterable[Seen], since_ns: int, origins: set[str], watched: Callable[[str], bool],
                     followed: set[tuple[int, int]], heads: Iterable[bytes]) -> list[tuple[Seen, str]]:
    """At run time, once a rotation was seen in a directory, or a new file at a watched path there (what it
    replaced may have been created, written and rotated away since the last pass): the files of that directory
    and its subdirectories (olddir) that were created *and* rotated away between two passes -- named as a
    rotation of a watched path, not at a watched path themselves, not followed
    (`followed`: inodes of live and retired streams), not a copy of a followed file (`heads`) or of a file of
    `seen` at a watched path (not followed yet: it is read as a new file), not compressed, and written after the
    last complete listing. (file, origin), oldest first."""
    seen = list(seen)
    heads = [h for h in heads if h] + [s.head for s in seen if s.head and not s.compressed and watched(s.path)]
    out = []
    for s in sorted(seen, key=lambda s: (s.mtime_ns, s.path)):
        if s.compressed or s.size == 0 or (s.dev, s.ino) in followed or s.mtime_ns <= since_ns or watched(s.path):
            continue
        origin = origin_of(s.path, origins)
        if origin is not None and not any(heads_agree(s.head, h) for h in heads):
            out.append((s, origin))
    return out


# ---------------------------------------------------------------------------------------------- run time
# While running, the tailer sees one path (or one stream) at a time, as the watcher reports changes. Each function
# below is one decision about such an observation; the tailer gathers what it needs (stat, heads, listings, the
# state of its descriptors), calls it and carries the decision out.


class Followed(Protocol):
    """What the run-time decisions read of a followed stream (tailstat.tail.reader.Tracked)."""

    key: str
    path: str
    origin: str
    dev: int
    ino: int
    head: bytes  # its first bytes, up to FP_BYTES
    pos: int  # bytes read
    line_start: int  # bytes queued (complete lines)
    size: int
    status: str  # live | rotated | deleted


def renamed_to(t: Followed, s: Seen, held: bool) -> bool:
    """`s` is t's file under another name: the same inode, and -- unless we hold its descriptor (an inode held
    open is never reused) -- the same head (a stream with no head yet, not held, is told by nothing: not it)."""
    return (s.dev, s.ino) == (t.dev, t.ino) and (held or (bool(t.head) and s.head[: len(t.head)] == t.head))


def moved_to(t: Followed, candidates: Iterable[Seen], held: bool) -> Seen | None:
    """Where t went once it left its path: the first candidate (files of its directory, of its subdirectories
    -- logrotate's olddir --, then the glob matches) that is its file renamed."""
    return next((s for s in candidates if renamed_to(t, s, held)), None)


def changed_underneath(t: Followed, size: int, head: bytes) -> bool:
    """Same inode, but no longer the stream we were reading: shorter than what we read (truncated), or another
    head (truncated and rewritten past our offset, or an inode reused by a new file)."""
    return size < t.pos or (bool(t.head) and head[: len(t.head)] != t.head)


def copy_of(s: Seen, candidates: Iterable[Followed]) -> Followed | None:
    """A followed stream (another inode, not deleted) that the new file `s` is named after (its path or origin)
    and whose head agrees with s's: s may be its copytruncate copy. `candidates`: the streams at or first opened
    at each of s's possible originals."""
    for t in candidates:
        if (t.status != "deleted" and (t.dev, t.ino) != (s.dev, s.ino)
                and (named_after(s.path, t.path) or named_after(s.path, t.origin)) and heads_agree(s.head, t.head)):
            return t
    return None


def unread_copy_of(s: Seen, t: Followed, now_head: bytes) -> bool:
    """A stream that has read nothing yet (no head: its file was empty) may have its copytruncate copy taken
    before it read a byte: `s` (another inode, named after it) is that copy, not truncated yet, when the head
    of t's file now (`now_head`) agrees with s's. (Once truncated, t's file no longer holds those bytes: s is
    read as a new file, t from 0: each byte once.)"""
    return (not t.head and t.status != "deleted" and (t.dev, t.ino) != (s.dev, s.ino)
            and (named_after(s.path, t.path) or named_after(s.path, t.origin)) and heads_agree(s.head, now_head))


def unfollowed_original(s: Seen, at: Seen) -> bool:
    """`at` is a file at a watched path that no stream reads yet (created, or truncated, and written since the
    last pass; asked only when s is a copy of no followed stream), and the new file `s`, named after it, holds
    what it holds: s may be its copytruncate copy, so `at` is to be followed first (then s is a copy of a
    followed stream, as any)."""
    return (at.dev, at.ino) != (s.dev, s.ino) and named_after(s.path, at.path) and heads_agree(s.head, at.head)


def new_file(s: Seen, original: Followed | None, original_truncated: bool, waited_s: float, grace_s: float,
             skip_existing: bool) -> str:
    """What a new file at a watched path (an inode no stream follows) means:
    - "ignore": compressed;
    - "copytruncated": a copy of `original`, which is truncated now: the copy carries on its stream;
    - "wait": a copy of `original` not truncated yet (logrotate truncates right after copying): look again;
    - "duplicate": still a copy after the grace period: followed from the end of its complete lines;
    - "skip_existing": the first start with TAILSTAT_READ_FROM=end: followed from the end of its complete lines;
    - "read": a new stream, read from byte 0 -- an empty one too: followed by its inode until it has a head,
      so that what is written to it is read even if it is rotated away before the next pass. At run time its
      directory is then searched for rotations not seen (unseen_rotations): the file it replaced may be one."""
    if s.compressed:
        return "ignore"
    if original is not None:
        if original_truncated:
            return "copytruncated"
        return "wait" if waited_s < grace_s else "duplicate"
    return "skip_existing" if skip_existing else "read"


def may_be_copy(path: str, t: Followed) -> bool:
    """By its name alone, `path` may be t's copytruncate copy (what is worth a stat and a head to tell): in its
    directory, or in a subdirectory of it (logrotate's olddir)."""
    return path != t.path and not is_compressed_name(path) and any(
        named_after(path, o) or _in_olddir(path, o) for o in (t.path, t.origin))


def _in_olddir(path: str, original: str) -> bool:
    """`path` is named as a rotation of `original`, in a subdirectory of its directory (logrotate's olddir)."""
    return os.path.dirname(os.path.dirname(path)) == os.path.dirname(original) \
        and rotation_name(os.path.basename(path), os.path.basename(original))


def copy_after_truncation(t: Followed, candidates: Iterable[Seen], followed: set[tuple[int, int]]) -> Seen | None:
    """t's file was truncated: its copytruncate copy, if there is one -- a file of its directory or olddir
    (`candidates`)
    named after its path or origin, not compressed, not followed (`followed`: inodes), whose head agrees with
    t's; the largest."""
    best = None
    for s in candidates:
        if not may_be_copy(s.path, t):
            continue
        if (s.dev, s.ino) == (t.dev, t.ino) or (s.dev, s.ino) in followed:
            continue
        if heads_agree(s.head, t.head) and (best is None or s.size > best.size):
            best = s
    return best


@dataclass(frozen=True, slots=True)
class Truncation:
    """What a truncated stream's bytes become. `adopt`: the copy carries on the stream from its queued offset;
    else the stream ends (retired as truncated) and, with `copy_from_end`, the copy -- all of it counted
    already -- is followed from its end. `lost`: bytes neither read nor in the copy. `rotation`: one more
    rotation of its origin (it was copied away), else `truncation`: one more truncation of its path."""

    adopt: bool
    lost: int
    rotation: bool
    truncation: bool
    copy_from_end: bool


def truncation(t: Followed, copy: Seen | None, copy_watched: bool) -> Truncation:
    at_origin = t.path == t.origin
    if copy is None:
        return Truncation(False, max(0, t.size - t.line_start), False, at_origin, False)
    if copy.size >= t.line_start:
        return Truncation(True, max(0, t.size - copy.size), at_origin, False, False)
    # we had read past the copy's end before the truncation: all of the copy is counted
    return Truncation(False, max(0, t.size - t.line_start), at_origin, False, copy_watched)


def rotated_done(status: str, idle_s: float, grace_s: float) -> bool:
    """A rotated file (no longer at a watched path) idle past the grace period is read to its end and let go."""
    return status == "rotated" and idle_s > grace_s


def _holds(s: Seen, k: Known, fps: list[tuple[str, int]]) -> bool | None:
    """Does compressed file s hold k's bytes? Told by the decompressed head when there is one (None: unknown). A
    stream that had read nothing (no fingerprint) is told by nothing, but a file that holds another known
    stream's bytes (`fps`: their fingerprints) is not its."""
    if s.uhead is None:
        return None
    if not k.fp_len:
        return False if any(matches_fingerprint(s.uhead, fp, n) for fp, n in fps) else None
    return matches_fingerprint(s.uhead, k.fp, k.fp_len)


def _take_compressed(pool: list[Seen], k: Known, claimed: set[str], fps: list[tuple[str, int]],
                     exact: bool) -> Seen | None:
    """A compressed rotation of k's origin that holds k's bytes: told by its decompressed head where known, else
    by the size gzip records (modulo 2**32): k's last known size first, else (not `exact`) the smallest that holds
    its offset."""
    fits = [s for s in pool if s.path not in claimed and origin_of(s.path, {k.origin}) is not None
            and _holds(s, k, fps) is not False]
    size, offset = k.size % (1 << 32), k.offset % (1 << 32)
    best = next((s for s in fits if _holds(s, k, fps) or s.usize == size), None)
    if best is None and not exact:
        best = next((s for s in fits if s.usize is None or s.usize >= offset), None)
    if best is not None:
        claimed.add(best.path)
    return best


def _take_named(pool: list[Seen], k: Known, claimed: set[str], fps: list[tuple[str, int]]) -> Seen | None:
    for s in pool:
        if s.path not in claimed and os.path.splitext(s.path)[0] == k.path and _holds(s, k, fps) is not False:
            claimed.add(s.path)
            return s
    return None


def retired_match(s: Seen, retired: Iterable[Known]) -> Known | None:
    """At run time: a file that appeared at a path is a retired stream met again (same inode and head)."""
    for k in retired:
        if (k.dev, k.ino) == (s.dev, s.ino) and matches_fingerprint(s.head, k.fp, k.fp_len):
            return k
    return None


def same_stream(head: bytes, other: bytes) -> bool:
    return heads_agree(head, other)


def _seq(key: str) -> int:
    return int(key[1:]) if key[1:].isdigit() else 0


# ------------------------------------------------------------------------- run time: what was never readable
# A compressed rotation seen while running, and a copytruncate copy taken into olddir before a stream had read a
# byte: the decisions that keep them from being silent (README, durability).


def compressed_rotation(s: Seen, origins: set[str] | frozenset[str], since_ns: int, followed: Iterable[Followed],
                        known: Iterable[Known]) -> tuple[str, str | None, int] | None:
    """At run time, a compressed file `s` appeared (a watch event or a rescan; settled: not being written). None:
    none of tailstat's business -- not compressed, not named as a rotation of a watched path (`origins`), or not
    written after the last complete listing (`since_ns`: there then, it was judged by the start or an earlier
    pass). Else (verdict, key, bytes for dropped.compressed_before_read), told by the decompressed head:
    - ("followed", key, 0): it holds a stream still followed (heads agree): read, or counted, through that stream;
    - ("known", key, n): it holds a stream that ended (`known`: retired records, and streams read or counted up to
      `offset` whose file then vanished): n = the bytes beyond `offset` it records (gzip; 0 where the format
      records no size), written after tailstat last looked;
    - ("unknown", None, n): it holds nothing tailstat knows (created, rotated and compressed between two
      passes): n = its uncompressed size (gzip), 0 where the format records no size (or its content cannot be
      decoded: whose it is cannot be told, as at a start)."""
    if not s.compressed or s.size == 0 or s.mtime_ns <= since_ns or origin_of(s.path, origins) is None:
        return None
    if s.uhead:
        for t in followed:
            if t.head and heads_agree(s.uhead, t.head):
                return "followed", t.key, 0
        # (of several that match, the one that accounted for the most: the least counted as dropped)
        k = max((k for k in known if matches_fingerprint(s.uhead, k.fp, k.fp_len)), key=lambda k: k.offset,
                default=None)
        if k is not None:
            return "known", k.key, 0 if s.usize is None else max(0, s.usize - k.offset % (1 << 32))
    return "unknown", None, s.usize or 0


def unread_olddir_copies(t: Followed, seen_mtime_ns: int, candidates: Iterable[Seen], now_head: bytes,
                         followed: set[tuple[int, int]], heads: Iterable[bytes],
                         known: Iterable[Known]) -> list[Seen]:
    """t had read nothing (no head) and its file was written since it was last seen (its mtime then:
    `seen_mtime_ns`): it may have been copied and truncated (copytruncate) into olddir in between. Its copies
    among `candidates` (files of its directory's subdirectories): named as a rotation of t's path or origin, not
    compressed, not empty, not followed (`followed`: inodes), written after t's file was last seen (so not a file
    rotated away before t's file was created), holding nothing known (`heads` of followed streams, `known`
    fingerprints: retired records and vanished streams) and not what t's file holds now (`now_head`: a copy not
    truncated yet, whose bytes t reads itself). Oldest first."""
    heads = [h for h in heads if h]
    if now_head:
        heads.append(now_head)
    fps = [(k.fp, k.fp_len) for k in known if k.fp_len]
    out = []
    for s in sorted(candidates, key=lambda s: (s.mtime_ns, s.path)):
        if s.compressed or s.size == 0 or not s.head or (s.dev, s.ino) in followed or s.mtime_ns <= seen_mtime_ns:
            continue
        if not (_in_olddir(s.path, t.path) or _in_olddir(s.path, t.origin)):
            continue
        if any(heads_agree(s.head, h) for h in heads) or any(matches_fingerprint(s.head, fp, n) for fp, n in fps):
            continue
        out.append(s)
    return out
