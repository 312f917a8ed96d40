"""`tailstat merge` knows each document's identity (host, sources, files, time range): the same document twice,
or a fleet document that already contains an input (per its merged_from), is skipped and named (exit 3);
documents that overlap without being the same are refused (exit 1). Real scans, a real daemon, the real CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from test_http_support import Daemon, access_lines


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tailstat", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, check=False, env={"PATH": "/usr/bin:/bin", "TAILSTAT_WORKERS": "1"})


def save(cwd: Path, out: str, *args: str) -> dict:
    done = run(cwd, *args)
    assert done.returncode == 0, done.stderr
    (cwd / out).write_text(done.stdout)
    return json.loads(done.stdout)


def scans(tmp: Path) -> dict[str, dict]:
    docs = {}
    for i, name in enumerate(("a", "b", "c")):
        (tmp / f"{name}.log").write_bytes(access_lines(10 * (i + 1), start=100 * i))
        docs[name] = save(tmp, f"{name}.json", "scan", "--json", "--mergeable", "--format", "combined", f"{name}.log")
    return docs


def test_scan_documents_carry_their_identity(tmp_path: Path) -> None:
    a = scans(tmp_path)["a"]
    st = os.stat(tmp_path / "a.log")
    ident = a["identity"]
    assert ident["host"] == socket.gethostname()
    assert ident["sources"] == ["combined"]
    assert ident["files"] == [f"a.log@{st.st_dev}:{st.st_ino}:{a['files'][0]['identity']['fingerprint']}"]
    assert (ident["first_minute"], ident["last_minute"]) == (1728568500 // 60, 1728568500 // 60)
    assert ident["totals"] == {"lines": 10, "bytes": len(access_lines(10)), "parse_errors": 0}
    assert len(ident["id"]) == 16


def test_the_same_document_twice_is_skipped(tmp_path: Path) -> None:
    docs = scans(tmp_path)
    done = run(tmp_path, "merge", "a.json", "b.json", "a.json")
    assert done.returncode == 3
    assert done.stderr == "tailstat: merge: a.json: skipped: already merged (the same document as a.json)\n"
    merged = json.loads(done.stdout)
    assert merged["totals"]["lines"] == docs["a"]["totals"]["lines"] + docs["b"]["totals"]["lines"] == 30
    assert [m["name"] for m in merged["merged_from"]] == ["a.json", "b.json"]


def test_a_fleet_document_that_already_contains_an_input(tmp_path: Path) -> None:
    scans(tmp_path)
    fleet = save(tmp_path, "fleet.json", "merge", "a.json", "b.json")
    again = run(tmp_path, "merge", "fleet.json", "b.json")
    assert again.returncode == 3
    assert again.stderr == ("tailstat: merge: b.json: skipped: already merged (already contained, per its "
                            "merged_from, in fleet.json)\n")
    assert json.loads(again.stdout)["totals"] == fleet["totals"]
    grown = save(tmp_path, "fleet2.json", "merge", "fleet.json", "c.json")  # a new host joins: counted
    assert grown["totals"]["lines"] == 60
    assert [m["name"] for m in grown["merged_from"]] == ["a.json", "b.json", "c.json"]
    inner = run(tmp_path, "merge", "fleet2.json", "fleet.json")
    assert inner.returncode == 3 and json.loads(inner.stdout)["totals"]["lines"] == 60
    assert inner.stderr == ("tailstat: merge: fleet.json: skipped: already merged (already contained, per its "
                            "merged_from, in fleet2.json)\n")
    before = run(tmp_path, "merge", "a.json", "fleet.json", "c.json")  # a.json first, then a fleet holding it
    assert before.returncode == 3 and json.loads(before.stdout)["totals"]["lines"] == 60
    assert before.stderr == ("tailstat: merge: a.json: skipped: already merged (already contained, per its "
                             "merged_from, in fleet.json)\n")
    save(tmp_path, "bc.json", "merge", "b.json", "c.json")
    partial = run(tmp_path, "merge", "fleet.json", "bc.json")
    assert (partial.returncode, partial.stdout) == (1, "")
    assert partial.stderr == ("tailstat: merge: bc.json: holds some documents that fleet.json holds too, but not "
                              "all; merge the original documents instead\n")


def test_two_saves_of_the_same_growing_file_overlap_and_are_refused(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(access_lines(100))
    save(tmp_path, "early.json", "scan", "--json", "--mergeable", "a.log")
    with open(log, "ab") as fh:
        fh.write(access_lines(50, 100))
    save(tmp_path, "late.json", "scan", "--json", "--mergeable", "a.log")
    done = run(tmp_path, "merge", "early.json", "late.json")
    assert (done.returncode, done.stdout) == (1, "")
    st = log.stat()
    fp = json.loads((tmp_path / "late.json").read_text())["files"][0]["identity"]["fingerprint"]
    assert done.stderr == (f"tailstat: merge: late.json: overlaps early.json: both counted a.log@{st.st_dev}:"
                           f"{st.st_ino}:{fp} on host {socket.gethostname()} over overlapping minutes (two saves "
                           "of the same logs?); merging would count those lines twice\n")


def test_two_snapshots_of_one_daemon_are_refused(tmp_path: Path) -> None:
    with Daemon(tmp_path / "d") as d:
        d.append(access_lines(40))
        d.wait_lines(40)
        (tmp_path / "s1.json").write_text(json.dumps(d.stats("mergeable=1")))
        d.append(access_lines(5, 40))
        d.wait_lines(45)
        s2 = d.stats("mergeable=1")
        (tmp_path / "s2.json").write_text(json.dumps(s2))
    assert s2["identity"]["host"] == socket.gethostname() and len(s2["identity"]["files"]) == 1
    done = run(tmp_path, "merge", "s1.json", "s2.json")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("tailstat: merge: s2.json: overlaps s1.json: both counted ")
    same = run(tmp_path, "merge", "s2.json", "s2.json")
    assert same.returncode == 3 and json.loads(same.stdout)["totals"]["lines"] == 45


def test_the_daemon_and_a_scan_of_the_same_file_under_another_path_are_refused(tmp_path: Path) -> None:
    with Daemon(tmp_path / "d") as d:  # the daemon names tmp/d/logs/access.log by its absolute path
        d.append(access_lines(40))
        d.wait_lines(40)
        (tmp_path / "daemon.json").write_text(json.dumps(d.stats("mergeable=1")))
    save(tmp_path, "scan.json", "scan", "--json", "--mergeable", "d/logs/access.log")  # a relative path
    done = run(tmp_path, "merge", "daemon.json", "scan.json")
    assert (done.returncode, done.stdout) == (1, "")
    st = (tmp_path / "d" / "logs" / "access.log").stat()
    fp = json.loads((tmp_path / "scan.json").read_text())["files"][0]["identity"]["fingerprint"]
    assert done.stderr == (f"tailstat: merge: scan.json: overlaps daemon.json: both counted d/logs/access.log@"
                           f"{st.st_dev}:{st.st_ino}:{fp} on host {socket.gethostname()} over overlapping minutes "
                           "(two saves of the same logs?); merging would count those lines twice\n")
