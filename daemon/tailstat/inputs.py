"""What `tailstat scan` reads: files, standard input (`-`), pipes and process substitutions (`<(...)`), and
compressed content (gzip, bzip2, xz; zstd when the `zstandard` package is installed), recognised by its magic
bytes, never by its name.

A plain regular file keeps the fast path (pread by offset; process workers read their own byte ranges). Any
other input is one decompressed byte stream, read in order by the main process. An input that cannot be
opened raises Unreadable with the one line shown to the user.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import os
import stat
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

STDIN = "-"
STDIN_NAME = "<stdin>"
HEAD = 6  # enough bytes to tell every magic below apart
FINGERPRINT_BYTES = 1024  # as the daemon's file identity (tail.py)

# magic bytes -> compression (read transparently) ...
READABLE = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))
# ... and archives or codecs a log scan cannot read as one text stream
REFUSED = ((b"\x04\x22\x4d\x18", "lz4-compressed"), (b"PK\x03\x04", "a zip archive"))


class Unreadable(Exception):
    """An input that cannot be read; str(self) says why (the CLI prefixes the input's name)."""


@dataclass
class Input:
    """One scan input. `stream` is None for a plain regular file (read by path); `size` is its size on disk."""

    arg: str  # as given on the command line
    name: str  # the file record's path: the argument, or <stdin>
    compression: str | None = None
    stream: BinaryIO | None = None
    size: int = 0
    # a regular file's device, inode and fingerprint (as the daemon's file records have them; `merge` tells
    # documents apart by them); None for standard input and pipes
    identity: dict[str, Any] | None = None

    @property
    def plain(self) -> bool:
        return self.stream is None

    def close(self) -> None:
        if self.stream is not None and self.arg != STDIN:
            try:
                self.stream.close()
            except OSError:
                pass


class _Prefixed(io.RawIOBase):
    """A raw stream that yields `head` (bytes already read to sniff the magic) and then the rest of `rest`."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head = head
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.rest is not sys.stdin.buffer:
            self.rest.close()
        super().close()


def sniff(head: bytes) -> tuple[str | None, str | None]:
    """(compression to read it with, or None; why it is refused, or None) from a file's first bytes."""
    for magic, name in READABLE:
        if head.startswith(magic):
            return name, None
    for magic, what in REFUSED:
        if head.startswith(magic):
            return None, f"is {what}; extract it first"
    return None, None


def zstd_available() -> bool:
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return False
    return True


CHUNK = 1 << 16  # compressed bytes read at a time


class _Decompressing(io.RawIOBase):
    """Decompressed bytes of gzip, bzip2 or xz content, concatenated members included (what zcat, bzcat and
    xzcat give). Unlike gzip.GzipFile, everything that decompresses before damage or a cut-off end is handed
    out before the error is raised, and one read never expands more than the caller's buffer (a small input
    that decompresses to gigabytes stays bounded)."""

    def __init__(self, raw: BinaryIO, new: Callable[[], Any], bounded: bool = True) -> None:
        self.raw, self.new = raw, new
        self.d = new()
        self.pending = b""  # compressed bytes not given to the decompressor yet (zlib: its unconsumed tail)
        self.zlib = not hasattr(self.d, "needs_input")
        self.bounded = bounded  # decompress(data, max_length) exists (zstandard's decompressobj has none)
        self.out = b""  # decompressed, not handed out yet (unbounded decompressors only)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        room = len(buffer)
        while not self.out:
            if self.d.eof:  # end of one member: another may follow
                # (zlib: what follows the member is in unused_data, and in the unconsumed tail again)
                rest = self.d.unused_data if self.zlib else self.d.unused_data + self.pending
                self.pending = b""
                if not rest:
                    rest = self.raw.read(CHUNK)
                if not rest:
                    return 0
                self.d, self.pending = self.new(), rest
            hungry = not self.pending if self.zlib else (self.d.needs_input and not self.pending)
            if hungry:
                chunk = self.raw.read(CHUNK)
                if not chunk:
                    raise EOFError("the compressed data ends before its end-of-stream marker")
                self.pending = chunk
            if self.bounded:
                self.out = self.d.decompress(self.pending, room)
                self.pending = self.d.unconsumed_tail if self.zlib else b""
            else:
                self.out, self.pending = self.d.decompress(self.pending), b""
        n = min(room, len(self.out))
        buffer[:n] = self.out[:n]
        self.out = self.out[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def _decompressor(compression: str, raw: BinaryIO) -> BinaryIO:
    if compression == "zstd":
        import zstandard

        unbounded = _Decompressing(raw, lambda: zstandard.ZstdDecompressor().decompressobj(), bounded=False)
        return unbounded  # type: ignore[return-value]
    new: Callable[[], Any] = {"gzip": lambda: zlib.decompressobj(31), "bzip2": bz2.BZ2Decompressor,
                              "xz": lzma.LZMADecompressor}[compression]  # type: ignore[assignment]
    return _Decompressing(raw, new)  # type: ignore[return-value]


def _read_head(fh: BinaryIO) -> bytes:
    head = b""
    while len(head) < HEAD:
        more = fh.read(HEAD - len(head))
        if not more:
            break
        head += more
    return head


def open_input(arg: str) -> Input:
    """Open one scan argument; raises Unreadable."""
    if arg == STDIN:
        if sys.stdin.isatty():
            print("tailstat: reading log lines from the terminal; Ctrl-D ends them", file=sys.stderr)
        raw: BinaryIO = sys.stdin.buffer
        name = STDIN_NAME
        st = None
    else:
        name = arg
        try:
            st = os.stat(arg)
        except FileNotFoundError:
            raise Unreadable("no such file") from None
        except OSError as exc:
            raise Unreadable(exc.strerror or str(exc)) from None
        if stat.S_ISDIR(st.st_mode):
            raise Unreadable("is a directory; give the log files in it (e.g. DIR/*.log)")
        try:
            raw = open(arg, "rb", buffering=0)  # noqa: SIM115 - closed by Input.close
        except OSError as exc:
            raise Unreadable(exc.strerror or str(exc)) from None
    regular = st is not None and stat.S_ISREG(st.st_mode)
    try:
        head = os.pread(raw.fileno(), HEAD, 0) if regular else _read_head(raw)
    except OSError as exc:
        raw.close()
        raise Unreadable(exc.strerror or str(exc)) from None
    compression, refused = sniff(head)
    if refused:
        raw.close()
        raise Unreadable(refused)
    if compression == "zstd" and not zstd_available():
        raw.close()
        raise Unreadable("is zstd-compressed, and the Python package zstandard is not installed "
                         "(pip install zstandard), or decompress it first (zstdcat FILE | tailstat scan -)")
    size = st.st_size if regular and st is not None else 0
    identity = None
    if regular and st is not None:
        first = os.pread(raw.fileno(), FINGERPRINT_BYTES, 0)
        identity = {"dev": st.st_dev, "inode": st.st_ino, "fingerprint": hashlib.blake2b(
            first, digest_size=16).hexdigest(), "fingerprint_bytes": len(first)}
    if regular and compression is None:
        raw.close()  # read by path (pread; process workers open it themselves)
        return Input(arg, name, size=size, identity=identity)
    source: BinaryIO = raw if regular else _Prefixed(head, raw)  # type: ignore[assignment]
    stream = _decompressor(compression, source) if compression else io.BufferedReader(source, 1 << 16)  # type: ignore[arg-type]
    return Input(arg, name, compression=compression, stream=stream, size=size, identity=identity)


def read_errors() -> tuple[type[BaseException], ...]:
    """What a damaged or truncated (compressed) stream raises while it is read."""
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)
    try:
        import zstandard
    except ImportError:
        return errors
    return (*errors, zstandard.ZstdError)


def stream_chunks(stream: BinaryIO, size: int) -> Iterator[tuple[int, bytes]]:
    """(offset_end, bytes of complete lines) of a byte stream, in order, about `size` bytes each; a final line
    without its newline gets one (so offset_end is one less than the bytes handed out there)."""
    offset = 0
    pending = b""
    while True:
        chunk = stream.read(size)
        if not chunk:
            if pending:
                yield offset + len(pending), pending + b"\n"
            return
        buf = pending + chunk if pending else chunk
        cut = buf.rfind(b"\n") + 1
        if not cut:
            pending = buf
            continue
        pending = buf[cut:]
        offset += cut
        yield offset, buf[:cut]


class Report:
    """Inputs that were skipped or cut short, each told on stderr in one line as it happens."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, name: str, message: str) -> None:
        self.failed.append(name)
        print(f"tailstat: {name}: {message}", file=sys.stderr)

    def open_all(self, args: list[str]) -> list[Input]:
        """The inputs that open; each one that does not is reported and skipped."""
        inputs = []
        for arg in args:
            try:
                inputs.append(open_input(arg))
            except Unreadable as exc:
                self(arg, f"{exc} (skipped)")
        if args.count(STDIN) > 1:
            self(STDIN, "standard input is given more than once; it is read once")
            first = next(i for i, inp in enumerate(inputs) if inp.arg == STDIN)
            inputs = [inp for i, inp in enumerate(inputs) if inp.arg != STDIN or i == first]
        return inputs
