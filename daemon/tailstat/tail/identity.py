"""Identity: what tells one byte stream from another, and how logrotate names a file's rotations.

A stream is (device, inode) plus its head: the first bytes of the file (up to FP_BYTES, extended as the file
grows), recorded in checkpoints as a hash and a length. An inode reused by a new file has another head; a
copytruncate copy has the same head under another inode. Pure functions, except `read_head`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re

FP_BYTES = 1024
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".z", ".lzma", ".br")
# what logrotate appends to a rotated name: .N, -DATE (dateext, any dateformat), then optionally .backup or
# -backup (a destination that existed was moved aside), and a compression suffix
_TAIL_START = re.compile(r"[.-]")
_ROTATION_TAIL = re.compile(r"(?:[.-][0-9A-Za-z_:+]+)+")


def fingerprint(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def matches_fingerprint(head: bytes, fp: str, fp_len: int) -> bool:
    """The file whose first bytes are `head` starts with the recorded fingerprint."""
    return fp_len > 0 and len(head) >= fp_len and fingerprint(head[:fp_len]) == fp


def is_compressed_name(path: str) -> bool:
    return path.lower().endswith(COMPRESSED_SUFFIXES)


def heads_agree(a: bytes, b: bytes) -> bool:
    """Both non-empty and one is a prefix of the other (a copy may still be short, or our head may be)."""
    n = min(len(a), len(b))
    return n > 0 and a[:n] == b[:n]


def named_after(candidate: str, original: str) -> bool:
    """Could `candidate` be a rotated copy of `original`? Same directory, and logrotate-style naming:
    `app.log.1`, `app.log-20250101`, `app.log.1-backup`, or with `extension .log`, `app.1.log`."""
    if os.path.dirname(candidate) != os.path.dirname(original):
        return False
    return rotation_name(os.path.basename(candidate), os.path.basename(original))


def rotation_name(name: str, orig: str) -> bool:
    """`name` (a file name, any directory: logrotate's olddir) is one of logrotate's names for a rotation of
    `orig`: orig + .N / -DATE / .backup ... (and compression suffixes), or stem.N.ext with `extension`."""
    if name == orig:
        return False
    if name.startswith(orig):
        return _ROTATION_TAIL.fullmatch(name, len(orig)) is not None
    stem, ext = os.path.splitext(orig)
    return bool(ext) and name.startswith(stem + ".") and name.endswith(ext) and len(name) > len(orig) + 1


@functools.lru_cache(maxsize=256)  # a new file is checked three ways (copy_of, unread, unfollowed): once
def possible_originals(candidate: str) -> tuple[str, ...]:
    """Every path that `candidate` could be a rotated copy of (the inverse of named_after), so a new file is
    checked against a handful of tracked files instead of all of them."""
    directory, name = os.path.split(candidate)
    cuts = [m.start() for m in _TAIL_START.finditer(name, 1)]  # logrotate's tails start with . or -
    names = {name[:k] for k in cuts}
    last_dot = name.rfind(".")
    if last_dot > 0:
        ext = name[last_dot:]
        names.update(name[:i] + ext for i in ([0] if name[0] == "." else []) + cuts if i < last_dot and name[i] == ".")
    return tuple(os.path.join(directory, n) for n in names)


def gzip_size(tail: bytes) -> int | None:
    """The uncompressed size a gzip member records in its last 4 bytes (modulo 2**32), or None."""
    return int.from_bytes(tail[-4:], "little") if len(tail) >= 4 else None


def read_head(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(FP_BYTES)
