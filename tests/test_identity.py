"""discovery.glob_stat finds what glob.glob finds; identity.possible_originals is the inverse of named_after: every file a rotated name could come from is offered
(the tailer checks only those streams), for logrotate's names: .N, -DATE, .backup, stem.N.ext, compressed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tailstat.tail.identity import named_after, possible_originals

NAMES = st.text(alphabet="ab.-_1", min_size=1, max_size=10).filter(lambda n: n not in (".", ".."))


@settings(max_examples=2000, deadline=None)
@given(NAMES, NAMES)
def test_every_original_a_name_is_named_after_is_offered(orig: str, candidate: str) -> None:
    if named_after(f"/logs/{candidate}", f"/logs/{orig}"):
        assert f"/logs/{orig}" in possible_originals(f"/logs/{candidate}")


def test_logrotate_names_offer_their_original() -> None:
    for candidate, orig in [("app.log.1", "app.log"), ("app.log-20260101", "app.log"), ("app.log.3.gz", "app.log"),
                            ("app.log.1-backup", "app.log"), ("app.1.log", "app.log"), ("app.log-2026.backup", "app.log"),
                            ("w0.log-2026120120.backup", "w0.log")]:
        assert named_after(f"/l/{candidate}", f"/l/{orig}")
        assert f"/l/{orig}" in possible_originals(f"/l/{candidate}")
    assert sorted(possible_originals("/l/app-00001.log")) == ["/l/app", "/l/app-00001"]


def test_glob_stat_finds_what_glob_finds(tmp_path) -> None:
    import glob
    import os

    from tailstat.tail.discovery import glob_stat

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for name in ("app.log", "web.log", ".hidden.log", "app.log.1", "notes.txt", "x[1].log"):
        (tmp_path / "a" / name).write_bytes(b"x\n")
    (tmp_path / "a" / "dir.log").mkdir()
    (tmp_path / "b" / "other.log").write_bytes(b"y\n")
    os.symlink(tmp_path / "a" / "app.log", tmp_path / "a" / "link.log")
    os.symlink(tmp_path / "a" / "missing", tmp_path / "a" / "dangling.log")
    for pattern in ("a/*.log", "a/.*.log", "a/app.log*", "*/*.log", "a/app.log", "a/none.log", "nodir/*.log",
                    "a/[aw]*.log", "a/*.lo?"):
        full = str(tmp_path / pattern)
        got = {p: st.st_size for p, st in glob_stat(full)}
        want = {p: os.stat(p).st_size for p in glob.glob(full) if os.path.exists(p)}
        assert got == want, pattern
    assert sorted(os.path.basename(p) for p, _ in glob_stat(str(tmp_path / "a" / "*.log"))) == [
        "app.log", "dir.log", "link.log", "web.log", "x[1].log"]
