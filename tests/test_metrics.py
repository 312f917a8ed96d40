"""/metrics from the daemon subprocess: prometheus_client's own parser, exact values, bounded cardinality,
and `promtool check metrics` when promtool is installed."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from test_http_support import Daemon, access_lines, expected

N = 900
PATHS = 37  # more distinct paths than the exported top 10: the rest must be summed under value="other"


@pytest.fixture(scope="module")
def exposition(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = Daemon(tmp_path_factory.mktemp("metrics"))
    d.append(access_lines(N, paths=PATHS) + b"garbage line\n")
    with d:
        d.wait_lines(N + 1)
        status, headers, body = d.request("/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        yield body.decode()


@pytest.fixture(scope="module")
def families(exposition: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(exposition)}


def values(family, **labels: str) -> dict[tuple, float]:
    return {tuple(sorted((k, v) for k, v in s.labels.items() if k not in labels)): s.value
            for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())}


def one(families: dict, name: str, **labels: str) -> float:
    [value] = values(families[name], **labels).values()
    return value


def test_totals(families: dict) -> None:
    assert one(families, "tailstat_lines") == N + 1
    assert one(families, "tailstat_parsed_lines") == N
    assert one(families, "tailstat_parse_errors") == 1
    assert one(families, "tailstat_parse_error_reasons", reason="no_match") == 1
    assert families["tailstat_lines"].type == "counter"
    assert one(families, "tailstat_bytes") == len(access_lines(N, paths=PATHS)) + len(b"garbage line\n")


def test_per_file(families: dict) -> None:
    [path] = {s.labels["path"] for s in families["tailstat_file_lines"].samples}
    assert path.endswith("/logs/access.log")
    assert one(families, "tailstat_file_lines", path=path) == N + 1
    assert one(families, "tailstat_file_parse_errors", path=path) == 1
    assert one(families, "tailstat_file_lag_bytes", path=path) == 0
    assert one(families, "tailstat_file_rotations", path=path) == 0
    assert families["tailstat_file_lag_bytes"].type == "gauge"


def test_dimensions_top_k_plus_other(families: dict) -> None:
    fam = families["tailstat_field_lines"]
    for field, counts in expected(N, paths=PATHS).items():
        got = {s.labels["value"]: s.value for s in fam.samples if s.labels["field"] == field}
        other = got.pop("other")
        assert len(got) == min(len(counts), 10)
        assert all(counts[value] == n for value, n in got.items())  # exact counts of real values
        # the exported values are a top 10 (ties at the cut may pick any of the tied values)
        assert sorted(got.values(), reverse=True) == [c for _, c in counts.most_common(10)]
        assert other == N - sum(got.values())
        assert one(families, "tailstat_field_distinct_values", field=field) == len(counts)
    path_other = next(s.value for s in fam.samples if s.labels == {"field": "path", "value": "other"})
    assert path_other == N - 10 * 25  # 37 paths: 12 with 25 lines (10 of them exported), 25 with 24


def test_measures_are_summaries_with_quantiles(families: dict) -> None:
    fam = families["tailstat_measure"]
    assert fam.type == "summary"
    samples = {(s.name, s.labels.get("quantile")): s.value for s in fam.samples if s.labels["measure"] == "bytes_sent"}
    sent = [100 + i % 50 for i in range(N)]
    assert samples[("tailstat_measure_count", None)] == N
    assert samples[("tailstat_measure_sum", None)] == sum(sent)
    for q in ("0.5", "0.9", "0.99", "0.999"):
        exact = sorted(sent)[min(N - 1, int(float(q) * N))]
        assert abs(samples[("tailstat_measure", q)] - exact) <= 0.02 * exact, q
    assert one(families, "tailstat_measure_min", measure="bytes_sent") == 100
    assert one(families, "tailstat_measure_max", measure="bytes_sent") == 149


def test_health(families: dict) -> None:
    assert one(families, "tailstat_queue_depth_batches") >= 0
    assert one(families, "tailstat_queue_capacity_batches") == 6  # 2 * TAILSTAT_WORKERS + 2
    assert one(families, "tailstat_parse_seconds") > 0
    assert one(families, "tailstat_parsed_batches") >= 1
    assert one(families, "tailstat_open_files") == 1
    assert one(families, "tailstat_checkpoint_failures") == 0
    assert one(families, "tailstat_checkpoint_ok") == 1
    assert 0 <= one(families, "tailstat_checkpoint_age_seconds") < 60
    assert one(families, "tailstat_http_stream_clients") == 0
    assert one(families, "tailstat_build_info", version="0.1.0") == 1
    assert one(families, "process_open_fds") > 0


def test_label_cardinality_is_bounded(families: dict) -> None:
    per_field = Counter(s.labels["field"] for s in families["tailstat_field_lines"].samples)
    # status 3, method 3, client 7 values, each plus "other"; path: 37 values cut to 10 plus "other"
    assert per_field == {"status": 4, "method": 4, "client": 8, "path": 11}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_exposition(exposition: str) -> None:
    done = subprocess.run(["promtool", "check", "metrics"], input=exposition.encode(), capture_output=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout + done.stderr == b""  # no lint warnings either


def test_openmetrics_when_asked(tmp_path) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

    with Daemon(tmp_path) as d:
        status, headers, body = d.request("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert status == 200 and headers["content-type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in parse_openmetrics(body.decode())}  # the strict parser: # EOF, types, names
    assert families["tailstat_lines"].samples[0].value == 0
    assert families["tailstat_build"].type == "info"
