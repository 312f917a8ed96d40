"""Discovery: which files exist -- glob matches, directory listings, and the observation the rotation core
decides on (stat and head of each file that matters in the watched directories and their subdirectories)."""

from __future__ import annotations

import bz2
import glob
import io
import lzma
import os
import stat as statmod
import zlib
from collections.abc import Iterable

import structlog

from tailstat import globs
from tailstat.config import Config, Source
from tailstat.formats import COMPRESSED_MAGIC
from tailstat.tail.core import Seen, origin_of
from tailstat.tail.identity import FP_BYTES, gzip_size, is_compressed_name

SOURCE_CACHE = 4096


class Listing:
    """One os.scandir per directory for one rescan, shared by the glob matches, the subdirectories (logrotate's
    olddir) and the compressed rotations: a rescan of 10,000 files lists their directory once, not three times.
    A DirEntry keeps its stat once asked, so a file two globs match is stat'ed once too."""

    def __init__(self) -> None:
        self._entries: dict[str, list[os.DirEntry[str]]] = {}

    def entries(self, directory: str) -> list[os.DirEntry[str]]:
        try:
            return self._entries[directory]
        except KeyError:
            pass
        try:
            with os.scandir(directory) as it:
                found = list(it)
        except OSError:
            found = []
        self._entries[directory] = found
        return found

    def subdirs(self, directory: str) -> list[str]:
        """The immediate subdirectories of `directory`, sorted."""
        return sorted(e.path for e in self.entries(directory) if e.is_dir(follow_symlinks=False))


def glob_stat(pattern: str, listing: Listing | None = None) -> Iterable[tuple[str, os.stat_result]]:
    """(path, stat) of each existing path `pattern` matches, as glob.glob finds them (hidden names only for a
    pattern that starts with '.'; symlinks followed). A wildcard only in the file name -- `/var/log/*.log`, the
    usual glob -- is one os.scandir (`listing`'s, shared with the rest of a rescan): no path joined and looked up
    twice (a rescan of 10,000 files)."""
    directory, name = os.path.split(pattern)
    if glob.has_magic(directory) or not glob.has_magic(name) or "**" in name:
        for path in glob.glob(pattern):
            try:
                yield path, os.stat(path)
            except OSError:
                continue
        return
    match = globs.name_matcher(name)
    hidden_ok = name.startswith(".")
    entries = [e for e in (listing or Listing()).entries(directory or ".")
               if match(e.name) is not None and (hidden_ok or not e.name.startswith("."))]
    for entry in entries:
        try:
            st = entry.stat()
        except OSError:
            continue
        yield (entry.path if directory else entry.name), st


class Discovery:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.overlaps: set[str] = set()  # paths matched by more than one source (reported once each)
        self.log = structlog.get_logger("tailstat.tail")
        # path -> its source: the sources never change, and a new file's path is asked about several times (its
        # own, and each path it could be a rotation of); bounded, emptied when full
        self._sources: dict[str, Source | None] = {}

    def source_for(self, path: str) -> Source | None:
        """The source whose most specific glob matches `path` (globs.py; a tie goes to the first named); a path
        that several match is reported once."""
        try:
            return self._sources[path]
        except KeyError:
            pass
        src = None if is_compressed_name(path) else globs.source_for(path, self.cfg.sources, self.overlaps, self.log)
        if len(self._sources) >= SOURCE_CACHE:
            self._sources.clear()
        self._sources[path] = src
        return src

    def source_by_name(self, name: str) -> Source | None:
        return next((s for s in self.cfg.sources if s.name == name), None)

    def expand(self) -> list[str]:
        """All paths the globs match now (regular, not compressed), oldest first."""
        found = self.expand_stat()
        return sorted(found, key=lambda p: (found[p].st_mtime, p))

    def expand_stat(self, listing: Listing | None = None) -> dict[str, os.stat_result]:
        """Each path the globs match now (regular, not compressed) with its stat."""
        found: dict[str, os.stat_result] = {}
        listing = listing or Listing()
        for src in self.cfg.sources:
            for pattern in src.globs:
                for path, st in glob_stat(pattern, listing):
                    if statmod.S_ISREG(st.st_mode) and path not in found and not is_compressed_name(path):
                        found[path] = st
        return found

    def glob_dirs(self) -> set[str]:
        return {os.path.dirname(g) for src in self.cfg.sources for g in src.globs}

    def observe(self, dirs: Iterable[str], origins: set[str], inodes: set[int]) -> tuple[dict[str, Seen], set[str]]:
        """The rotation core's input: every regular file in `dirs` and their immediate subdirectories (logrotate's
        olddir) that the globs match, that is named as a rotation of one of `origins`, or whose inode is one of
        `inodes` (a known stream renamed to anything). Returns (files by path, the directories listed)."""
        listed: set[str] = set()
        seen: dict[str, Seen] = {}
        todo = sorted(set(dirs))
        subdirs: list[str] = []
        for depth, group in ((0, todo), (1, subdirs)):
            for directory in group:
                if directory in listed:
                    continue
                try:
                    with os.scandir(directory) as it:
                        entries = list(it)
                except OSError:
                    continue
                listed.add(directory)
                for e in entries:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            if depth == 0:
                                subdirs.append(e.path)
                            continue
                        if not e.is_file(follow_symlinks=False):
                            continue
                        if not (e.inode() in inodes or origin_of(e.path, origins) is not None
                                or (depth == 0 and self.source_for(e.path) is not None)):
                            continue
                        s = observe_file(e.path)
                    except OSError:
                        continue
                    if s is not None:
                        seen[s.path] = s
        return seen, listed


def observe_file(path: str) -> Seen | None:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # O_NONBLOCK: a FIFO never blocks the pass
    try:
        st = os.fstat(fd)
        if not statmod.S_ISREG(st.st_mode):
            return None
        head = os.pread(fd, FP_BYTES, 0)
        compressed = head.startswith(COMPRESSED_MAGIC) or is_compressed_name(path)
        usize = uhead = None
        if compressed:
            if head.startswith(b"\x1f\x8b") and st.st_size >= 18:
                usize = gzip_size(os.pread(fd, 4, st.st_size - 4))
            uhead = decompressed_head(os.pread(fd, 64 << 10, 0))
    finally:
        os.close(fd)
    return Seen(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, head, compressed, usize, uhead)


def observe_files(paths: Iterable[str], newer_than_ns: int | None = None) -> list[Seen]:
    """observe_file of each of `paths` (those gone or not regular left out). `newer_than_ns`: only those written
    since (stat'ed first: the others are not opened)."""
    seen = []
    for path in paths:
        try:
            if newer_than_ns is not None and os.stat(path).st_mtime_ns <= newer_than_ns:
                continue
            s = observe_file(path)
        except OSError:
            continue
        if s is not None:
            seen.append(s)
    return seen


def decompressed_head(data: bytes) -> bytes | None:
    """The first FP_BYTES bytes a gzip, bzip2, xz or zstd (when the zstandard package is installed) file holds
    (None: another format, or not decodable)."""
    try:
        if data.startswith(b"\x1f\x8b"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, FP_BYTES)
        if data.startswith(b"BZh"):
            return bz2.BZ2Decompressor().decompress(data, FP_BYTES)
        if data.startswith(b"\xfd7zXZ"):
            return lzma.LZMADecompressor().decompress(data, FP_BYTES)
        if data.startswith(b"\x28\xb5\x2f\xfd"):
            return _zstd_head(data)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
        return None
    return None


def _zstd_head(data: bytes) -> bytes | None:
    try:
        import zstandard
    except ImportError:
        return None
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            return reader.read(FP_BYTES)
    except zstandard.ZstdError:
        return None


def files_with_olddir(directory: str) -> list[str]:
    """The regular files of `directory` and of its immediate subdirectories (logrotate's olddir): where a file
    of `directory` may have been renamed to. One listing of each."""
    listing = Listing()
    return [e.path for d in [directory, *listing.subdirs(directory)] for e in listing.entries(d)
            if e.is_file(follow_symlinks=False)]

