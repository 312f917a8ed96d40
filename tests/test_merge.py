"""Mergeable statistics: aggregate(A) merged with aggregate(B) equals aggregate(A + B) -- exactly for counts,
within the stated bounds for sketches -- and `tailstat merge` over saved documents."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tailstat.aggregate import Store
from tailstat.formats import build_spec, parse_batch
from tailstat.merge import merge_documents

SPEC = build_spec("combined_timed", ("user",), (), None)

line_st = st.one_of(
    st.builds(
        lambda c, u, mi, p, s, b, rt, up: (
            f'10.0.0.{c} - {u} [10/Oct/2025:13:{mi:02d}:07 +0000] "GET /p/{p} HTTP/1.1" {s} {b} "-" "ua" '
            f"{rt} {up}"),
        st.integers(0, 40), st.sampled_from(["-", "alice", "bob"]), st.integers(0, 59), st.integers(0, 60),
        st.sampled_from(["200", "404", "500", "301"]), st.one_of(st.integers(0, 10**6), st.just("-")),
        st.sampled_from(["0.001", "0.250", "1.5", "12.000", "-", "x"]), st.sampled_from(["0.002", "-", "0.3, 0.1"])),
    st.sampled_from(["garbage", "", '{"json": 1}']),
)


def aggregate(lines: list[str], capacity: int, batch: int = 7) -> Store:
    store = Store(topk_capacity=capacity, event_minutes=60)
    for i in range(0, len(lines), batch):
        store.merge(parse_batch(SPEC, "".join(ln + "\n" for ln in lines[i:i + batch]).encode()))
    return store


def roundtrip(doc: dict) -> dict:
    return orjson.loads(orjson.dumps(doc))  # what a saved file holds


@settings(max_examples=80, deadline=None)
@given(st.lists(line_st, max_size=120), st.lists(line_st, max_size=120), st.sampled_from([10, 10_000]))
def test_merge_of_aggregates_equals_aggregate_of_both(a: list[str], b: list[str], capacity: int) -> None:
    doc_a = roundtrip(aggregate(a, capacity).snapshot(top=1000, mergeable=True))
    doc_b = roundtrip(aggregate(b, capacity).snapshot(top=1000, mergeable=True))
    both = aggregate(a + b, capacity).snapshot(top=1000, mergeable=True)
    merged = merge_documents([("a", doc_a), ("b", doc_b)], top=1000)

    for key in ("totals", "errors", "skipped_measures", "minutes"):
        assert merged[key] == both[key], key
    assert merged["fields"].keys() == both["fields"].keys()
    exact = Counter()
    for name in both["fields"]:
        m, w = merged["fields"][name], both["fields"][name]
        assert m["total"] == w["total"]
        assert (m["distinct"], m["distinct_is_estimate"]) == (w["distinct"], w["distinct_is_estimate"])
        truth = {f"{name}:{v}": c for v, c in exact_counts(a + b, name).items()}
        exact.update(truth)
        if w["top_is_exact"] and m["top_is_exact"]:
            assert m["top"] == w["top"]
        for value, count in m["top"]:  # a lower bound within the reported error
            assert count <= truth[f"{name}:{value}"] <= count + m["top_error"]
    for name, w in both["measures"].items():
        m = merged["measures"][name]
        assert (m["count"], m["min"], m["max"]) == (w["count"], w["min"], w["max"])
        if w["count"]:
            assert abs(m["sum"] - w["sum"]) <= 1e-9 * max(1.0, abs(w["sum"]))
        for q in ("p50", "p90", "p99", "p99.9"):
            assert m[q] == w[q]  # the same buckets: the same estimate
    # the state merges to the same sketches, so merges compose
    assert merged["state"]["measures"].keys() == both["state"]["measures"].keys()
    for name, w in both["state"]["measures"].items():
        assert merged["state"]["measures"][name]["positive"] == w["positive"]


def exact_counts(lines: list[str], name: str) -> Counter:
    doc = aggregate(lines, 10**6).snapshot(top=10**6)
    return Counter(dict(map(tuple, doc["fields"].get(name, {"top": []})["top"])))


def test_merges_compose() -> None:
    parts = [[f'10.0.0.{i % 7} - - [10/Oct/2025:13:5{j}:07 +0000] "GET /{i % 5} HTTP/1.1" 200 {i} "-" "u" 0.1 0.1'
              for i in range(50 * j, 50 * j + 50)] for j in range(3)]
    docs = [(f"p{j}", roundtrip(aggregate(p, 100).snapshot(mergeable=True))) for j, p in enumerate(parts)]
    ab = roundtrip(merge_documents(docs[:2]))
    stepwise = merge_documents([("ab", ab), docs[2]])
    at_once = merge_documents(docs)
    for key in ("totals", "fields", "measures", "minutes", "errors"):
        assert stepwise[key] == at_once[key], key
    assert at_once["totals"]["lines"] == 150
    assert [f["origin"] for f in stepwise["files"]] == [f["origin"] for f in at_once["files"]]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args=[sys.executable, "-m", "tailstat", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, check=False, env={"PATH": "/usr/bin:/bin", "TAILSTAT_WORKERS": "1"})


def test_cli_scan_mergeable_then_merge(tmp_path: Path) -> None:
    host1, host2 = tmp_path / "host1.log", tmp_path / "host2.log"
    line = '10.0.0.{} - - [10/Oct/2025:13:55:07 +0000] "GET /{} HTTP/1.1" {} 100 "-" "u"\n'
    host1.write_text("".join(line.format(i % 3, i % 4, "200") for i in range(30)) + "junk\n")
    host2.write_text("".join(line.format(i % 5, i % 2, "503") for i in range(20)))
    for name in ("host1", "host2"):
        out = run_cli("scan", "--json", "--mergeable", "--format", "combined", f"{name}.log", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        (tmp_path / f"{name}.json").write_text(out.stdout)
    merged = run_cli("merge", "host1.json", "host2.json", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    doc = json.loads(merged.stdout)
    assert doc["schema"] == 1
    assert doc["totals"] == {"lines": 51, "bytes": host1.stat().st_size + host2.stat().st_size, "parsed": 50,
                             "parse_errors": 1, "events": 50, "dropped_lines": 0, "dropped_bytes": 0}
    assert doc["errors"] == {"no_match": 1}
    assert doc["fields"]["status"]["top"] == [["200", 30], ["503", 20]]
    assert doc["fields"]["client"]["distinct"] == 5
    assert doc["measures"]["bytes_sent"]["sum"] == 5000
    assert doc["minutes"] == [{"minute": 1760104500 // 60, "lines": 50, "2xx": 30, "5xx": 20}]
    assert [(Path(f["path"]).name, f["origin"]) for f in doc["files"]] == [("host1.log", "host1.json"),
                                                                           ("host2.log", "host2.json")]
    assert "state" in doc
    table = run_cli("merge", "--table", "host1.json", "host2.json", cwd=tmp_path)
    assert table.stdout.splitlines()[0] == f"lines 51  parsed 50  parse errors 1  bytes {doc['totals']['bytes']:,}"


def test_cli_merge_refuses_documents_without_state(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text('1.1.1.1 - - [10/Oct/2025:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" "c"\n')
    plain = run_cli("scan", "--json", "a.log", cwd=tmp_path)
    (tmp_path / "plain.json").write_text(plain.stdout)
    (tmp_path / "broken.json").write_text("{not json")
    out = run_cli("merge", "plain.json", cwd=tmp_path)
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr.strip() == ('tailstat: merge: plain.json: has no "state" section, so its sketches cannot be '
                                  "merged; save documents with `tailstat scan --json --mergeable` (or the daemon's "
                                  "mergeable snapshot)")
    out = run_cli("merge", "broken.json", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.startswith("tailstat: merge: broken.json: not a JSON document")
    out = run_cli("merge", "missing.json", cwd=tmp_path)
    assert (out.returncode, out.stderr.strip()) == (1, "tailstat: merge: missing.json: no such file")


def test_daemon_documents_from_two_hosts_merge(tmp_path: Path) -> None:
    """`GET /stats?mergeable=1` from two running daemons (two "hosts"), then `tailstat merge`."""
    from test_http_support import Daemon, access_lines

    docs = []
    for host, (n, start) in enumerate([(300, 0), (200, 300)]):
        with Daemon(tmp_path / f"host{host}", TAILSTAT_FORMAT="combined") as d:
            d.append(access_lines(n, start=start))
            d.wait_lines(n)
            doc = d.stats("mergeable=1")
            assert "state" in doc
            path = tmp_path / f"host{host}.json"
            path.write_text(json.dumps(doc))
            docs.append(path)
    out = subprocess.run(check=False, args=[sys.executable, "-m", "tailstat", "merge", *map(str, docs)], capture_output=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    merged = json.loads(out.stdout)
    assert merged["totals"]["lines"] == 500
    with Daemon(tmp_path / "both", TAILSTAT_FORMAT="combined") as d:
        d.append(access_lines(500))
        d.wait_lines(500)
        both = d.stats("top=10")
    assert merged["fields"]["status"]["top"] == both["fields"]["status"]["top"]
    assert merged["measures"]["bytes_sent"]["sum"] == both["measures"]["bytes_sent"]["sum"]
