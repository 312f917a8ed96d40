"""The rotation core's run-time decisions about what tailstat could never read (core.compressed_rotation,
core.unread_olddir_copies), checked directly: pure functions of data."""

from __future__ import annotations

from types import SimpleNamespace

from tailstat.tail.core import Known, Seen, compressed_rotation, unread_olddir_copies
from tailstat.tail.identity import fingerprint

ORIGINS = {"/l/app.log"}
A = b'{"n":1}\n' * 20
B = b'{"n":2}\n' * 20


def gz(path: str, uhead: bytes | None, usize: int | None, mtime: int = 100, ino: int = 9) -> Seen:
    return Seen(path, 1, ino, 50, mtime, b"\x1f\x8b...", compressed=True, usize=usize, uhead=uhead)


def stream(head: bytes, key: str = "f1", status: str = "live", path: str = "/l/app.log") -> SimpleNamespace:
    return SimpleNamespace(key=key, path=path, origin="/l/app.log", dev=1, ino=3, head=head, pos=len(head),
                           line_start=len(head), size=len(head), status=status)


def ended(head: bytes, offset: int, key: str = "f2") -> Known:
    return Known(key, "/l/app.log.1", "/l/app.log", 0, 0, fingerprint(head), len(head), offset, offset, True)


def test_not_ours() -> None:
    assert compressed_rotation(gz("/l/other.log.1.gz", B, 160), ORIGINS, 0, [], []) is None  # not a rotation
    assert compressed_rotation(gz("/l/app.log.1.gz", B, 160, mtime=100), ORIGINS, 100, [], []) is None  # old
    plain = Seen("/l/app.log.1", 1, 9, 160, 200, B)
    assert compressed_rotation(plain, ORIGINS, 0, [], []) is None


def test_never_seen_counts_what_gzip_records() -> None:
    assert compressed_rotation(gz("/l/app.log.1.gz", B, 160), ORIGINS, 0, [stream(A)], [ended(A, 160)]) \
        == ("unknown", None, 160)
    assert compressed_rotation(gz("/l/old/app.log.2.bz2", B, None), ORIGINS, 0, [], []) == ("unknown", None, 0)
    # content that cannot be decoded: whose it is cannot be told
    assert compressed_rotation(gz("/l/app.log.1.zst", None, None), ORIGINS, 0, [stream(A)], []) \
        == ("unknown", None, 0)


def test_followed_stream_counts_nothing() -> None:
    for status in ("live", "rotated", "deleted"):
        assert compressed_rotation(gz("/l/app.log.1.gz", A, 999), ORIGINS, 0, [stream(A[:40], status=status)],
                                   []) == ("followed", "f1", 0)


def test_ended_stream_counts_what_it_had_not_read() -> None:
    assert compressed_rotation(gz("/l/app.log.1.gz", A, 160), ORIGINS, 0, [], [ended(A, 160)]) \
        == ("known", "f2", 0)
    assert compressed_rotation(gz("/l/app.log.1.gz", A, 300), ORIGINS, 0, [], [ended(A, 160)]) \
        == ("known", "f2", 140)
    assert compressed_rotation(gz("/l/app.log.1.gz", A, 100), ORIGINS, 0, [], [ended(A, 160)]) \
        == ("known", "f2", 0)  # a copy of a prefix
    assert compressed_rotation(gz("/l/app.log.1.xz", A, None), ORIGINS, 0, [], [ended(A, 160)]) \
        == ("known", "f2", 0)
    # of two that match, the one that accounted for more
    assert compressed_rotation(gz("/l/app.log.1.gz", A, 300), ORIGINS, 0, [],
                               [ended(A[:80], 100, "f3"), ended(A, 200, "f4")]) == ("known", "f4", 100)
    # sizes beyond 4 GiB: gzip records them modulo 2**32
    big = (5 << 30)
    assert compressed_rotation(gz("/l/app.log.1.gz", A, (big + 7) % (1 << 32)), ORIGINS, 0, [],
                               [ended(A, big)]) == ("known", "f2", 7)


def test_olddir_copy_of_a_stream_that_had_read_nothing() -> None:
    t = stream(b"")
    t.head, t.pos, t.line_start, t.size = b"", 0, 0, 0
    copy = Seen("/l/old/app.log.1", 1, 20, 160, 300, B)
    older = Seen("/l/old/app.log.2", 1, 21, 160, 100, A)  # rotated away before t's file was seen
    other = Seen("/l/old/web.log.1", 1, 22, 160, 300, B)
    same_dir = Seen("/l/app.log.1", 1, 23, 160, 300, B)  # (its own directory: core.unseen_rotations)
    gzipped = Seen("/l/old/app.log.3.gz", 1, 24, 50, 300, b"\x1f\x8b", compressed=True)
    cands = [copy, older, other, same_dir, gzipped]
    assert unread_olddir_copies(t, 200, cands, b"", set(), [], []) == [copy]
    # not truncated yet: t's file still holds it (t reads it itself)
    assert unread_olddir_copies(t, 200, cands, B[:30], set(), [], []) == []
    # followed, a copy of a followed stream, or of one that ended
    assert unread_olddir_copies(t, 200, cands, b"", {(1, 20)}, [], []) == []
    assert unread_olddir_copies(t, 200, cands, b"", set(), [B[:10]], []) == []
    assert unread_olddir_copies(t, 200, cands, b"", set(), [], [ended(B, 160)]) == []
    # written before t's file was last seen
    assert unread_olddir_copies(t, 300, cands, b"", set(), [], []) == []
    two = Seen("/l/old/app.log.2", 1, 25, 80, 250, A)
    assert unread_olddir_copies(t, 200, [copy, two], b"", set(), [], []) == [two, copy]  # oldest first


def test_decompressed_head_tells_whose_file_each_format_holds() -> None:
    import bz2
    import gzip
    import lzma

    import zstandard

    from tailstat.tail.discovery import decompressed_head
    from tailstat.tail.identity import FP_BYTES

    data = A * 50
    for packed in (gzip.compress(data), bz2.compress(data), lzma.compress(data),
                   zstandard.ZstdCompressor().compress(data)):
        assert decompressed_head(packed[: 64 << 10]) == data[:FP_BYTES]
    assert decompressed_head(b"\x28\xb5\x2f\xfd" + b"garbage") is None


def test_vanished_records_are_bounded_and_known_by_fingerprint() -> None:
    from tailstat.tail.registry import Vanished

    v = Vanished(2)
    v.add("f1", "/l/app.log.1", "/l/app.log", fingerprint(A), len(A), 160)
    v.add("f0", "/l/app.log", "/l/app.log", "", 0, 0)  # read nothing: nothing to be told by
    v.add("f2", "/l/app.log.1", "/l/app.log", fingerprint(B), len(B), 320)
    v.add("f3", "/l/app.log.1", "/l/app.log", fingerprint(B), len(B), 640)
    assert list(v.to_dict()) == ["f2", "f3"]  # the oldest went first
    again = Vanished(2)
    again.load(v.to_dict())
    assert compressed_rotation(gz("/l/app.log.2.gz", B, 700), ORIGINS, 0, [], again.known()) \
        == ("known", "f3", 60)


def test_a_retired_file_gone_is_told(tmp_path) -> None:
    from tailstat.tail.registry import Retired

    gone = []
    r = Retired(10, lambda key, rec: gone.append((key, rec["offset"])))
    f = tmp_path / "app.log.1"
    f.write_bytes(A)
    st = f.stat()
    r.remember("f1", str(f), str(tmp_path / "app.log"), st.st_dev, st.st_ino, fingerprint(A), len(A), 160, 160)
    assert not r.prune() and gone == []
    f.rename(tmp_path / "app.log.2")
    r.prune()
    assert gone == [] and r.records["f1"]["path"] == str(tmp_path / "app.log.2")
    (tmp_path / "app.log.2").unlink()
    r.prune()
    assert gone == [("f1", 160)] and not r
