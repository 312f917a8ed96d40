"""One tail pass over many files: aiofiles (one thread hop per read) vs the tailer's way (one I/O-thread call
that reads every file of the pass). Why tailstat does not use aiofiles on its hot path (README, design).

    python -m bench.aiofiles_pass [--files 1000] [--passes 20] [--bytes 4096]

Each pass appends `--bytes` to every file, then reads what is new from every file through descriptors kept
open, both ways, in the same run (aiofiles is installed on demand: `pip install aiofiles`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path


def read_all(fds: list[int], offsets: list[int]) -> int:
    total = 0
    for i, fd in enumerate(fds):
        while chunk := os.pread(fd, 1 << 18, offsets[i]):
            offsets[i] += len(chunk)
            total += len(chunk)
    return total


def append_all(paths: list[Path], data: bytes) -> None:
    for p in paths:
        with open(p, "ab") as fh:
            fh.write(data)


async def run(files: int, passes: int, nbytes: int) -> None:
    import aiofiles

    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"f{i}.log" for i in range(files)]
        for p in paths:
            p.write_bytes(b"")
        fds = [os.open(p, os.O_RDONLY) for p in paths]
        handles = [await aiofiles.open(p, "rb") for p in paths]
        offsets = [0] * files
        line = b"x" * (nbytes - 1) + b"\n"
        loop = asyncio.get_running_loop()
        t_thread = t_aio = 0.0
        for _ in range(passes):
            append_all(paths, line)
            t0 = time.perf_counter()
            got = await loop.run_in_executor(None, read_all, fds, offsets)
            t_thread += time.perf_counter() - t0
            assert got == files * nbytes
            t0 = time.perf_counter()
            got = 0
            for h in handles:
                while chunk := await h.read(1 << 18):
                    got += len(chunk)
            t_aio += time.perf_counter() - t0
            assert got == files * nbytes
        for h in handles:
            await h.close()
        for fd in fds:
            os.close(fd)
    print(f"{files} files, {passes} passes of {nbytes} B per file (load average {os.getloadavg()[0]:.2f})")
    print(f"one I/O-thread call per pass: {t_thread / passes * 1000:8.2f} ms per pass")
    print(f"aiofiles, a hop per read:     {t_aio / passes * 1000:8.2f} ms per pass "
          f"({t_aio / t_thread:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--bytes", type=int, default=4096)
    args = parser.parse_args()
    asyncio.run(run(args.files, args.passes, args.bytes))


if __name__ == "__main__":
    main()
