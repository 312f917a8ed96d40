"""The stats table's rates line: one decimal and thousands separators for every rate (not 490.667 beside 368)."""

from __future__ import annotations

import re
from pathlib import Path

from tailstat.render import table
from test_http_support import Daemon, access_lines, base_env, cli


def rates_line(text: str) -> str:
    return next(ln for ln in text.splitlines() if ln.startswith("lines/s "))


def test_rates_have_one_decimal() -> None:
    doc = {"totals": {"lines": 1, "parsed": 1, "parse_errors": 0, "bytes": 1},
           "rates": {"1m": {"lines": 490.6667, "bytes": 12345.678}, "5m": {"lines": 368, "bytes": 0},
                     "15m": {"lines": 20.732, "bytes": 1234567}}}
    assert rates_line(table(doc, width=120)) == (
        "lines/s 1m 490.7  5m 368.0  15m 20.7   bytes/s 1m 12,345.7  5m 0.0  15m 1,234,567.0")


def test_stats_of_the_daemon(tmp_path: Path) -> None:
    d = Daemon(tmp_path)
    d.append(access_lines(30))
    with d:
        d.wait_lines(30)
        env = base_env(tmp_path, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{d.port}", COLUMNS="200")
        shown = rates_line(cli(env, "stats").stdout.decode())
    number = r"\d{1,3}(,\d{3})*\.\d"
    assert re.fullmatch(f"lines/s 1m {number}  5m {number}  15m {number}   "
                        f"bytes/s 1m {number}  5m {number}  15m {number}", shown), shown
