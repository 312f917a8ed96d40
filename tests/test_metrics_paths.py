"""Per-file Prometheus counters never decrease for the same labels: a real `mv` rotation, a gzipped rotation whose
file record disappears, and a daemon restart (the counters come back from the checkpoint), scraped before and
after and checked by value."""

from __future__ import annotations

import subprocess
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from test_http_support import Daemon, access_lines, until

FAMILIES = ("tailstat_file_lines", "tailstat_file_bytes", "tailstat_file_parse_errors", "tailstat_file_rotations")


def scrape(d: Daemon) -> dict[str, dict[str, float]]:
    """{family: {path name: value}} of the per-file counters."""
    status, _, body = d.request("/metrics")
    assert status == 200
    out: dict[str, dict[str, float]] = {name: {} for name in FAMILIES}
    for family in text_string_to_metric_families(body.decode()):
        if family.name in out:
            assert family.type == "counter"
            for s in family.samples:
                if s.name.endswith("_total"):
                    out[family.name][Path(s.labels["path"]).name] = s.value
    return out


def test_per_path_counters_survive_rotation_gzip_and_restart(tmp_path: Path) -> None:
    settings = {"TAILSTAT_ROTATED_GRACE": "0.2", "TAILSTAT_RESCAN_INTERVAL": "0.2",
                "TAILSTAT_CHECKPOINT_INTERVAL": "0.2"}
    d = Daemon(tmp_path, **settings)
    first = access_lines(390) + b"not a log line\n"
    d.append(first)
    logs = tmp_path / "logs"
    with d:
        d.wait_lines(391)
        before = scrape(d)
        assert before == {"tailstat_file_lines": {"access.log": 391}, "tailstat_file_bytes": {"access.log": len(first)},
                          "tailstat_file_parse_errors": {"access.log": 1}, "tailstat_file_rotations": {"access.log": 0}}
        (logs / "access.log").rename(logs / "access.log.1")  # what logrotate's `create` does
        second = access_lines(10, 390)
        d.append(second)  # the new access.log
        d.wait_lines(401)
        # access.log counts every file that lived there (391 + 10, never back to 10); the rotated file, now at
        # access.log.1, got no new line there
        want = {"tailstat_file_lines": {"access.log": 401, "access.log.1": 0},
                "tailstat_file_bytes": {"access.log": len(first) + len(second), "access.log.1": 0},
                "tailstat_file_parse_errors": {"access.log": 1, "access.log.1": 0},
                "tailstat_file_rotations": {"access.log": 1, "access.log.1": 1}}
        until(lambda: scrape(d), lambda m: m == want, what=f"the counters after the rotation: {want}")
        subprocess.run(["gzip", str(logs / "access.log.1")], check=True)  # the rotated file goes away
        until(lambda: d.stats()["files"], lambda files: [Path(f["path"]).name for f in files] == ["access.log"],
              what="the rotated file's record forgotten")
        assert scrape(d) == want  # the forgotten file's series stays, at its value
    assert d.proc is not None and d.proc.returncode == 0
    d2 = Daemon(tmp_path, **settings)
    with d2:
        restarted = scrape(d2)
        assert restarted == want
        d2.append(access_lines(5, 400))
        d2.wait_lines(406)
        assert scrape(d2)["tailstat_file_lines"]["access.log"] == 406


def test_path_counters_are_bounded_keeping_every_live_path() -> None:
    from tailstat.pathcounters import PathCounters

    c = PathCounters(kept=2)
    for i, path in enumerate(["/l/live", "/l/a.1", "/l/b.1", "/l/c.1", "/l/d.1"]):
        c.add(path, i + 1, 10 * (i + 1), 0)
    c.add("/l/a.1", 1, 1, 0)  # counted again: now the most recent
    assert c.needs_prune(live_count=1)
    c.prune(["/l/live"])
    assert {p: v["lines"] for p, v in c.snapshot().items()} == {"/l/live": 1, "/l/d.1": 5, "/l/a.1": 3}
    assert not c.needs_prune(live_count=1)


def test_a_checkpoint_without_path_counters_starts_them_from_its_records() -> None:
    from tailstat.aggregate import Store

    store = Store()
    store.upsert_file("k", path="/l/x.log", rotations=2)
    state = store.export_state()
    state.pop("paths")
    state["files"]["k"].update(lines=7, bytes=70, parse_errors=1)
    again = Store()
    again.load_state(state)
    assert again.snapshot(paths=True)["paths"] == {
        "/l/x.log": {"lines": 7, "bytes": 70, "parse_errors": 1, "rotations": 2, "truncations": 0}}
