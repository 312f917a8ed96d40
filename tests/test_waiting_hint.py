"""First start on existing logs with TAILSTAT_READ_FROM=end: `stats` and `top` say which files only wait for
new lines and that TAILSTAT_READ_FROM=beginning counts what is there (from the file records' skipped_at_start,
which the tailer sets: contract item 5). Documents come from a real daemon run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tailstat.render import table
from tailstat.top import Rates, view
from test_http_support import Daemon, access_lines, base_env, cli, until

HINT_2 = ("* 2 files wait for new lines: the {n:,} bytes already there were skipped at the first start "
          "(TAILSTAT_READ_FROM=end); TAILSTAT_READ_FROM=beginning at a first start counts them")


def first_start_on_existing_logs(tmp: Path) -> tuple[Daemon, dict[str, int]]:
    logs = tmp / "logs"
    logs.mkdir(parents=True)
    sizes = {}
    for name, n in (("access.log", 5), ("other.log", 3)):
        (logs / name).write_bytes(access_lines(n))
        sizes[name] = len(access_lines(n))
    return Daemon(tmp, TAILSTAT_READ_FROM="end"), sizes


def top_text(doc: dict) -> str:
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(view(doc, Rates(doc, None), "http://x", width=80, height=24))
    return console.export_text()


def rendered_hint_checks(doc: dict, sizes: dict[str, int]) -> None:
    text = table(doc, width=80).splitlines()
    rows = {ln.split()[0].rsplit("/", 1)[-1]: ln.split()[1:] for ln in text if "/logs/" in ln}
    # format: "unknown" until the tailer detects it from the existing lines (contract item 5), then "combined"
    assert rows == {"access.log": ["combined*", "0", "0", "0"], "other.log": ["combined*", "0", "0", "0"]} or \
        rows == {"access.log": ["unknown*", "0", "0", "0"], "other.log": ["unknown*", "0", "0", "0"]}
    hint = " ".join(ln.strip() for ln in text[text.index(next(ln for ln in text if ln.startswith("* "))):]
                    if ln.startswith(("* ", "  ")))
    assert hint.startswith(HINT_2.format(n=sum(sizes.values())))
    assert max(len(ln) for ln in text) <= 80
    assert "2 files wait for new lines (TAILSTAT_READ_FROM=beginning counts what is there)" in top_text(doc)


def test_rendering_from_a_first_start_document(tmp_path: Path) -> None:
    d, sizes = first_start_on_existing_logs(tmp_path)
    with d:
        doc = until(d.stats, lambda doc: len(doc["files"]) == 2, what="both files tracked")
        assert doc["totals"]["lines"] == 0
        for f in doc["files"]:  # what the tailer records (contract item 5) where it does not yet
            f.setdefault("skipped_at_start", sizes[Path(f["path"]).name])
        rendered_hint_checks(doc, sizes)
        d.append(access_lines(1))  # access.log gets a line: it no longer waits
        doc = d.wait_lines(1)
    for f in doc["files"]:
        f.setdefault("skipped_at_start", sizes[Path(f["path"]).name])
    text = table(doc, width=80)
    assert f"* 1 file waits for new lines: the {sizes['other.log']:,} bytes already there" in text.replace("\n  ", " ")
    assert "1 file waits for new lines (TAILSTAT_READ_FROM=beginning" in top_text(doc)
    del doc["files"][1]["skipped_at_start"]
    assert "wait" not in table(doc, width=80) and "wait" not in top_text(doc)


def test_stats_and_top_from_the_daemon(tmp_path: Path) -> None:
    d, sizes = first_start_on_existing_logs(tmp_path)
    with d:
        doc = until(d.stats, lambda doc: len(doc["files"]) == 2, what="both files tracked")
        if "skipped_at_start" not in doc["files"][0]:
            pytest.skip("the daemon's file records have no skipped_at_start yet (the tailer's part, issue 11)")
        env = base_env(tmp_path, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{d.port}")
        stats = cli(env, "stats").stdout.decode()
        assert HINT_2.format(n=sum(sizes.values()))[:60] in stats
        top = cli(env, "top", "--iterations", "1").stdout.decode()
        assert "2 files wait for new lines (TAILSTAT_READ_FROM=beginning counts what is there)" in top
