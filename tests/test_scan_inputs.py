"""`tailstat scan` on what operators have: rotated logs compressed with gzip, bzip2, xz or zstd (recognised by
content, not by name), standard input, pipes and `<(...)`; an input that cannot be read is reported and skipped,
the others still counted, and the exit status says so. Real files, real shell pipelines, both scan modes."""

from __future__ import annotations

import bz2
import gzip
import lzma
import subprocess
import sys
import zlib
from pathlib import Path

import orjson
import pytest
import zstandard

from test_http_support import access_lines, expected

SCAN = [sys.executable, "-m", "tailstat", "scan"]
ENV = {"PATH": "/usr/bin:/bin", "TAILSTAT_BATCH_BYTES": "4KiB", "TAILSTAT_WORKERS": "2"}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, timeout=120, check=False, env={**ENV, **env})


def complete_lines(data: bytes) -> bytes:
    return data[: data.rfind(b"\n") + 1]


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_compressed_rotations_by_content_and_unreadable_inputs_skipped(tmp_path: Path, executor: str) -> None:
    zstd = zstandard.ZstdCompressor()
    broken_gz = gzip.compress(access_lines(400, 155))
    broken_gz = broken_gz[: len(broken_gz) // 2]
    survived = complete_lines(zlib.decompressobj(31).decompress(broken_gz))  # what zcat gets out of it
    k = survived.count(b"\n")
    assert 0 < k < 400
    files = {
        "access.log": (access_lines(50, 0), None),
        "access.log.1": (gzip.compress(access_lines(20, 50)) + gzip.compress(access_lines(20, 70)), "gzip"),
        "access.log.2.bz2": (bz2.compress(access_lines(30, 90)), "bzip2"),
        "access.log.3.xz": (lzma.compress(access_lines(20, 120)), "xz"),
        "access.log.4.zst": (zstd.compress(access_lines(6, 140)) + zstd.compress(access_lines(4, 146)), "zstd"),
        "looks.gz": (access_lines(5, 150), None),  # plain text, whatever its name says
        "broken.gz": (broken_gz, "gzip"),
    }
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "dir").mkdir()
    args = [str(tmp_path / n) for n in ["access.log", "missing.log", *list(files)[1:], "dir"]]
    done = run([*SCAN, "--json", "--format", "combined", *args], TAILSTAT_EXECUTOR=executor)
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        f"tailstat: {tmp_path}/missing.log: no such file (skipped)",
        f"tailstat: {tmp_path}/dir: is a directory; give the log files in it (e.g. DIR/*.log) (skipped)",
        (f"tailstat: {tmp_path}/broken.gz: cannot read its gzip content past byte {len(survived):,} (the "
         "compressed data ends before its end-of-stream marker); the complete lines before are counted"),
    ]
    doc = orjson.loads(done.stdout)
    per_file = {Path(f["path"]).name: (f["lines"], f.get("compression"), f["lag_bytes"]) for f in doc["files"]}
    assert per_file == {"access.log": (50, None, 0), "access.log.1": (40, "gzip", 0),
                        "access.log.2.bz2": (30, "bzip2", 0), "access.log.3.xz": (20, "xz", 0),
                        "access.log.4.zst": (10, "zstd", 0), "looks.gz": (5, None, 0), "broken.gz": (k, "gzip", 0)}
    n = 155 + k
    assert (doc["totals"]["lines"], doc["totals"]["parsed"]) == (n, n)
    assert doc["totals"]["bytes"] == len(access_lines(155)) + len(survived)
    assert dict(doc["fields"]["status"]["top"]) == dict(expected(n)["status"])


def test_everything_readable_exits_0(tmp_path: Path) -> None:
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(access_lines(12)))
    done = run([*SCAN, "--json", str(tmp_path / "a.log.gz")])
    assert (done.returncode, done.stderr) == (0, b"")
    assert orjson.loads(done.stdout)["totals"]["lines"] == 12


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_stdin_pipes_and_process_substitution(tmp_path: Path, executor: str) -> None:
    gz = tmp_path / "access.log.2.gz"
    gz.write_bytes(gzip.compress(access_lines(70)))
    (tmp_path / "access.log").write_bytes(access_lines(30, 70))
    cmd = " ".join(SCAN)
    shell = {
        f"zcat {gz} | {cmd} --json -": {"<stdin>": 70},
        f"cat {gz} | {cmd} --json -": {"<stdin>": 70},  # compressed on stdin: decompressed by content
        f"{cmd} --json <(zcat {gz}) {tmp_path}/access.log": {"/dev/fd/63": 70, f"{tmp_path}/access.log": 30},
        f"{cmd} --json - < {gz}": {"<stdin>": 70},
    }
    for line, want in shell.items():
        done = subprocess.run(["bash", "-c", line], capture_output=True, timeout=120, check=False,
                              env={**ENV, "TAILSTAT_EXECUTOR": executor})
        assert (done.returncode, done.stderr) == (0, b""), line
        doc = orjson.loads(done.stdout)
        got = {f["path"]: f["lines"] for f in doc["files"]}
        if "/dev/fd/63" in want:  # the shell picks the descriptor number
            got = {("/dev/fd/63" if p.startswith("/dev/fd/") else p): n for p, n in got.items()}
        assert got == want, line
        assert doc["totals"]["lines"] == sum(want.values())
        assert dict(doc["fields"]["status"]["top"]) == dict(expected(sum(want.values()))["status"]), line


def test_zstd_without_the_package_is_skipped_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "a.log.zst").write_bytes(zstandard.ZstdCompressor().compress(access_lines(3)))
    (tmp_path / "b.log").write_bytes(access_lines(4))
    code = ("import sys; sys.modules['zstandard'] = None; from tailstat.cli import main; "
            "raise SystemExit(main(sys.argv[1:]))")
    done = run([sys.executable, "-c", code, "scan", "--json", str(tmp_path / "a.log.zst"), str(tmp_path / "b.log")])
    assert done.returncode == 1
    assert done.stderr.decode().strip() == (
        f"tailstat: {tmp_path}/a.log.zst: is zstd-compressed, and the Python package zstandard is not installed "
        "(pip install zstandard), or decompress it first (zstdcat FILE | tailstat scan -) (skipped)")
    assert orjson.loads(done.stdout)["totals"]["lines"] == 4
