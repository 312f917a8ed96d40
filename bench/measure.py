"""Run a command and measure it; print comparison tables.

``run_measured`` reaps the child with ``os.wait4`` so the CPU time and peak RSS are that child's (and, on Linux,
include its own reaped children: CPU is summed, ``ru_maxrss`` is the largest single process, not a sum).
Numbers are only comparable within one run on one machine: report ratios against a baseline measured in the
same run, never absolute timings in tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20


@dataclass(frozen=True)
class Measurement:
    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    cpu_s: float  # user + sys of the child and its reaped descendants
    user_s: float
    sys_s: float
    peak_rss_mb: float  # MiB; ru_maxrss of the largest process in the child's tree
    stdout: str
    stderr: str
    timed_out: bool = False

    def check(self) -> Measurement:
        """Raise if the command failed; return self so calls chain."""
        if self.timed_out or self.returncode != 0:
            why = "timed out" if self.timed_out else f"exit status {self.returncode}"
            raise RuntimeError(f"{' '.join(self.argv)}: {why}\n{self.stderr[-2000:]}")
        return self


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout_s: float | None = None,
) -> Measurement:
    """Run `argv` to completion; stdout/stderr go through temporary files so nothing blocks on a full pipe."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        # Own process group: a timeout or Ctrl-C kills the whole tree (pool workers included).
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        timed_out = threading.Event()

        def kill_tree() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout_s, kill_tree) if timeout_s else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # we reaped it: Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return Measurement(
        argv=tuple(argv),
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss * 1024 / MIB,  # ru_maxrss is in KiB on Linux
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out.is_set(),
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class Row:
    """One line of a comparison table; `file_bytes` is the size of the input (for MiB/s)."""

    name: str
    lines: int
    seconds: float
    cpu_s: float
    file_bytes: int
    peak_rss_mb: float | None = None

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else float("inf")

    @property
    def mib_per_s(self) -> float:
        return self.file_bytes / MIB / self.seconds if self.seconds > 0 else float("inf")

    @classmethod
    def from_measurement(cls, name: str, m: Measurement, lines: int, file_bytes: int) -> Row:
        return cls(name, lines, m.wall_s, m.cpu_s, file_bytes, m.peak_rss_mb)


def markdown_table(rows: Sequence[Row], baseline: str) -> str:
    """A markdown table; the ratio column is each row's lines/s divided by the `baseline` row's (>1: faster)."""
    by_name = {r.name: r for r in rows}
    if baseline not in by_name:
        raise KeyError(f"baseline {baseline!r} is not among the rows: {sorted(by_name)}")
    base = by_name[baseline].lines_per_s
    header = ["name", "lines", "seconds", "lines/s", "MiB/s", "cpu_s", "peak RSS MiB", f"× {baseline}"]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for r in rows:
        rss = f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "-"
        cells = [
            r.name,
            f"{r.lines:,}",
            f"{r.seconds:.3f}",
            f"{r.lines_per_s:,.0f}",
            f"{r.mib_per_s:.1f}",
            f"{r.cpu_s:.2f}",
            rss,
            f"{r.lines_per_s / base:.2f}",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def report(text: str, out: str | None) -> None:
    """Print a benchmark's report and, when asked, write it to a file too."""
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")


def print_table(rows: Sequence[Row], baseline: str) -> None:
    print(markdown_table(rows, baseline))
