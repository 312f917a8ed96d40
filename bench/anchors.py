"""Reference points for `tailstat scan`: the bare parse kernel, mtail and goaccess on the same file.

    python -m bench.anchors FILE [--tools kernel,kernel2,mtail,mtail_kernel,goaccess] [--repeat N]

Each ``run_*`` function runs the tool as a subprocess (through ``bench.measure.run_measured``, which reaps it
with ``os.wait4``: the child's own user+sys CPU and peak RSS, the same numbers a ``RUSAGE_CHILDREN`` delta
gives but for that child alone), checks that the tool really parsed every line, and returns an
``AnchorResult`` whose first three fields are (wall seconds, CPU seconds, lines/s).

What each tool does beyond the kernel (so the ratios are read fairly):
- kernel: matches up to $body_bytes_sent; counts status, method, path, client, bytes.  Nothing else.
- mtail: what `tailstat scan` computes by default (bench/mtail/tailstat/combined.mtail): whole-line validation,
  the four dimensions, the byte count's sum and distribution, lines per event-time minute and status class.
- mtail_kernel: only the kernel's counters, prefix match (bench/mtail/kernel/combined.mtail); a reference row.
- goaccess: parses every field (dates, referers, user agents -> browser/OS) and fills all its panels; only
  the query string is stripped (-q) so its request keys match the kernel's path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from bench.measure import Measurement, Row, print_table, run_measured

BENCH_DIR = Path(__file__).resolve().parent
MTAIL_PROGS = BENCH_DIR / "mtail" / "tailstat"
MTAIL_KERNEL_PROGS = BENCH_DIR / "mtail" / "kernel"
MTAIL = "/usr/bin/mtail"
GOACCESS = "/usr/bin/goaccess"


class AnchorResult(NamedTuple):
    seconds: float
    cpu_s: float
    lines_per_s: float
    lines: int
    peak_rss_mb: float
    measurement: Measurement

    def row(self, name: str, file_bytes: int) -> Row:
        return Row(name, self.lines, self.seconds, self.cpu_s, file_bytes, self.peak_rss_mb)


def count_lines(path: str | os.PathLike[str]) -> int:
    lines = 0
    last = b"\n"
    with open(path, "rb", buffering=0) as f:
        while block := f.read(1 << 22):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def _result(m: Measurement, lines: int) -> AnchorResult:
    return AnchorResult(m.wall_s, m.cpu_s, lines / m.wall_s, lines, m.peak_rss_mb, m)


def _expect(tool: str, what: str, got: object, want: object) -> None:
    if got != want:
        raise RuntimeError(f"{tool}: {what} is {got}, expected {want}: it did not parse every line")


def run_kernel(path: str, processes: int = 1, lines: int | None = None, full_line: bool = False) -> AnchorResult:
    """`python -m bench.kernel FILE --processes N` in this interpreter; wall time includes interpreter start."""
    lines = count_lines(path) if lines is None else lines
    argv = [sys.executable, "-m", "bench.kernel", str(path), "--processes", str(processes)]
    if full_line:
        argv.append("--full-line")
    m = run_measured(argv, cwd=str(BENCH_DIR.parent)).check()
    report = json.loads(m.stdout)
    _expect("kernel", "matched lines", report["matched"], lines)
    return _result(m, lines)


def run_mtail(
    path: str, lines: int | None = None, progs: str | os.PathLike[str] = MTAIL_PROGS
) -> AnchorResult:
    """mtail 3.0.0-rc50 one-shot run.  Settled command line:

        mtail --one_shot --one_shot_format=json --logtostderr --address 127.0.0.1 --port 0 \\
              --progs bench/mtail/tailstat --logs FILE

    --one_shot reads the files from start to EOF, prints the metric store (JSON) and exits.  It still starts
    its HTTP listener, so --port 0 takes a free port (parallel runs do not clash) and --logtostderr keeps
    glog from writing log files into /tmp.  Checked: lines_total and the sum over requests_by_status both
    equal the file's line count.
    """
    lines = count_lines(path) if lines is None else lines
    argv = [
        MTAIL, "--one_shot", "--one_shot_format=json", "--logtostderr", "--address", "127.0.0.1", "--port", "0",
        "--progs", str(progs), "--logs", str(path),
    ]  # fmt: skip
    m = run_measured(argv).check()
    metrics = json.loads(m.stdout)

    def values(name: str) -> list[int]:
        return [lv["Value"]["Value"] for lv in metrics[name][0]["LabelValues"]]

    _expect("mtail", "lines_total", sum(values("lines_total")), lines)
    _expect("mtail", "sum of requests_by_status", sum(values("requests_by_status")), lines)
    return _result(m, lines)


def run_goaccess(path: str, lines: int | None = None) -> AnchorResult:
    """goaccess 1.7 non-interactive JSON report.  Settled command line:

        goaccess FILE --log-format=COMBINED --no-global-config -p /dev/null --no-progress \\
                 --no-parsing-spinner -q -o OUT.json

    With -o and stdin not a terminal it parses and writes the report without the curses UI (real-time HTML is
    off unless --real-time-html is given).  --no-global-config and -p /dev/null keep /etc/goaccess/goaccess.conf
    and ~/.goaccessrc out; -q strips query strings (the kernel keys on the path before "?").  Checked:
    general.total_requests equals the line count and general.failed_requests is 0.
    """
    lines = count_lines(path) if lines is None else lines
    with tempfile.TemporaryDirectory(prefix="bench-goaccess-") as tmp:
        report_path = os.path.join(tmp, "report.json")
        argv = [
            GOACCESS, str(path), "--log-format=COMBINED", "--no-global-config", "-p", "/dev/null",
            "--no-progress", "--no-parsing-spinner", "-q", "-o", report_path,
        ]  # fmt: skip
        m = run_measured(argv).check()
        with open(report_path, "rb") as f:
            general = json.load(f)["general"]
    _expect("goaccess", "general.total_requests", general["total_requests"], lines)
    _expect("goaccess", "general.failed_requests", general["failed_requests"], 0)
    return _result(m, lines)


TOOLS = {
    "kernel": lambda path, lines: run_kernel(path, 1, lines),
    "kernel2": lambda path, lines: run_kernel(path, 2, lines),
    "kernel_full": lambda path, lines: run_kernel(path, 1, lines, full_line=True),
    "mtail": run_mtail,
    "mtail_kernel": lambda path, lines: run_mtail(path, lines, MTAIL_KERNEL_PROGS),
    "goaccess": run_goaccess,
}


def best_of(tool: str, path: str, lines: int, repeat: int) -> AnchorResult:
    """The fastest of `repeat` runs (the least disturbed one); the spread is printed to stderr."""
    runs = [TOOLS[tool](path, lines) for _ in range(repeat)]
    if repeat > 1:
        walls = [r.seconds for r in runs]
        print(f"{tool}: wall {min(walls):.3f}..{max(walls):.3f} s, median {statistics.median(walls):.3f}",
              file=sys.stderr)  # fmt: skip
    return min(runs, key=lambda r: r.seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run the anchors on a log file and print a table")
    parser.add_argument("file")
    parser.add_argument(
        "--tools", default="kernel,kernel2,mtail,goaccess", help=f"comma list of {sorted(TOOLS)}"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; the fastest is reported")
    parser.add_argument("--baseline", default="kernel")
    args = parser.parse_args(argv)
    tools = args.tools.split(",")
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}; known: {sorted(TOOLS)}")

    lines = count_lines(args.file)
    file_bytes = os.path.getsize(args.file)
    rows = []
    for tool in tools:
        result = best_of(tool, args.file, lines, args.repeat)
        rows.append(result.row(tool, file_bytes))
        fields = {k: v for k, v in result._asdict().items() if k != "measurement"}
        print(json.dumps({"tool": tool, **fields}), file=sys.stderr)
    print_table(rows, args.baseline if args.baseline in tools else tools[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
