"""Prometheus view of the stats document: a custom collector, rendered by prometheus_client.

Every scrape takes one stats document (one short lock hold in the store) and turns it into metric families;
nothing is kept between scrapes. Label cardinality is bounded: per dimension only the top METRICS_TOP values
get their own series, the rest is summed under value="other"; label values are cut to MAX_LABEL_CHARS.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.samples import Sample

METRICS_TOP = 10
MAX_LABEL_CHARS = 200
OTHER = "other"
QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99"), ("0.999", "p99.9"))

Document = dict[str, Any]


def _label(value: str) -> str:
    return value if len(value) <= MAX_LABEL_CHARS else value[: MAX_LABEL_CHARS - 1] + "\u2026"


class StatsCollector:
    """A prometheus_client collector over `document()` (the stats document with health refreshed)."""

    def __init__(self, document: Callable[[], Document], extra: Callable[[], Iterator[Metric]] | None = None) -> None:
        self._document = document
        self._extra = extra

    def collect(self) -> Iterator[Metric]:
        doc = self._document()
        yield from _totals(doc)
        yield from _files(doc)
        yield from _fields(doc)
        yield from _measures(doc)
        yield from _health(doc)
        if self._extra is not None:
            yield from self._extra()


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _totals(doc: Document) -> Iterator[Metric]:
    t = doc["totals"]
    yield _counter("tailstat_lines", "Complete lines ingested, parsed or not.", t["lines"])
    yield _counter("tailstat_bytes", "Bytes of complete lines ingested.", t["bytes"])
    yield _counter("tailstat_parsed_lines", "Lines that matched their format.", t["parsed"])
    yield _counter("tailstat_parse_errors", "Lines that did not match their format.", t["parse_errors"])
    reasons = CounterMetricFamily("tailstat_parse_error_reasons", "Parse errors by reason.", labels=["reason"])
    for reason, n in sorted(doc.get("errors", {}).items()):
        reasons.add_metric([_label(reason)], n)
    yield reasons
    lines = CounterMetricFamily("tailstat_dropped_lines", "Lines lost without being parsed, by reason.",
                                labels=["reason"])
    nbytes = CounterMetricFamily("tailstat_dropped_bytes", "Bytes lost without being parsed, by reason.",
                                 labels=["reason"])
    for reason, d in sorted(doc.get("dropped", {}).items()):
        lines.add_metric([_label(reason)], d["lines"])
        nbytes.add_metric([_label(reason)], d["bytes"])
    yield lines
    yield nbytes


def _files(doc: Document) -> Iterator[Metric]:
    # Counters per path are cumulative over every file that lived at the path (the document's "paths",
    # pathcounters.py): a rotation, a forgotten rotated file or a restart never makes one go down. Without
    # them (a plain document), the current records are summed per path. The lag is a gauge of now.
    lag: Counter = Counter()
    for f in doc["files"]:
        lag[_label(f["path"])] += f.get("lag_bytes", 0)
    sums: dict[str, Counter] = {}
    paths = doc.get("paths")
    if paths is None:
        paths = {}
        for f in doc["files"]:
            s = paths.setdefault(f["path"], Counter())
            for name in ("lines", "bytes", "parse_errors"):
                s[name] += f.get(name, 0)
            for name in ("rotations", "truncations"):
                s[name] = max(s[name], f.get(name, 0))
    for path, counts in paths.items():
        s = sums.setdefault(_label(path), Counter())
        s.update(counts)  # two paths cut to one label: summed (a rotation count summed is still monotonic)
    for path in lag:
        sums.setdefault(path, Counter())["lag_bytes"] = lag[path]
    specs = (
        ("lines", CounterMetricFamily, "tailstat_file_lines", "Lines ingested from this path (all its files)."),
        ("bytes", CounterMetricFamily, "tailstat_file_bytes", "Bytes ingested from this path."),
        ("parse_errors", CounterMetricFamily, "tailstat_file_parse_errors", "Parse errors in this path."),
        ("lag_bytes", GaugeMetricFamily, "tailstat_file_lag_bytes", "Bytes written but not yet ingested."),
        ("rotations", CounterMetricFamily, "tailstat_file_rotations", "Rotations seen at this path."),
        ("truncations", CounterMetricFamily, "tailstat_file_truncations", "Truncations seen at this path."),
    )
    for key, family_type, name, text in specs:
        family = family_type(name, text, labels=["path"])
        for path in sorted(sums):
            family.add_metric([path], sums[path][key])
        yield family


def _fields(doc: Document) -> Iterator[Metric]:
    counts = CounterMetricFamily(
        "tailstat_field_lines",
        f"Lines per dimension value: the top {METRICS_TOP} values, the rest summed under value=\"{OTHER}\".",
        labels=["field", "value"])
    distinct = GaugeMetricFamily("tailstat_field_distinct_values", "Distinct values seen per dimension "
                                 "(an estimate past the sketch's exact range).", labels=["field"])
    for name, field in sorted(doc["fields"].items()):
        per_value: Counter = Counter()
        for value, n in field["top"][:METRICS_TOP]:
            per_value[_label(str(value))] += n
        # The literal value "other", if it is one, is reported together with the rest.
        per_value[OTHER] += field["total"] - sum(n for _, n in field["top"][:METRICS_TOP])
        for value, n in per_value.items():
            counts.add_metric([_label(name), value], n)
        distinct.add_metric([_label(name)], field["distinct"])
    yield counts
    yield distinct


def _measures(doc: Document) -> Iterator[Metric]:
    summary = SummaryMetricFamily("tailstat_measure", "Numeric fields: count, sum and estimated quantiles.",
                                  labels=["measure"])
    lo = GaugeMetricFamily("tailstat_measure_min", "Smallest value seen per measure.", labels=["measure"])
    hi = GaugeMetricFamily("tailstat_measure_max", "Largest value seen per measure.", labels=["measure"])
    for name, m in sorted(doc["measures"].items()):
        if not m.get("count"):
            continue
        label = _label(name)
        for quantile, key in QUANTILES:
            summary.samples.append(Sample("tailstat_measure", {"measure": label, "quantile": quantile}, m[key]))
        summary.add_metric([label], m["count"], m["sum"])
        lo.add_metric([label], m["min"])
        hi.add_metric([label], m["max"])
    yield summary
    yield lo
    yield hi


def _health(doc: Document) -> Iterator[Metric]:
    h = doc.get("health", {})
    yield _gauge("tailstat_queue_depth_batches", "Batches waiting between tailing and parsing.",
                 h.get("queue_depth", 0))
    yield _gauge("tailstat_queue_capacity_batches", "Capacity of the tail->parse queue.",
                 h.get("queue_capacity", 0))
    yield _counter("tailstat_parse_seconds", "Time spent parsing batches, summed over workers.",
                   h.get("parse_seconds", 0.0))
    yield _counter("tailstat_parsed_batches", "Batches parsed and merged.", h.get("batches", 0))
    yield _counter("tailstat_failed_batches", "Batches that failed twice and were counted as errors.",
                   h.get("failed_batches", 0))
    yield _gauge("tailstat_open_files", "Log files currently held open.", h.get("open_files", 0))
    yield _gauge("tailstat_tracked_files", "Log files tracked (open or not).", h.get("tracked_files", 0))
    yield _gauge("tailstat_unreadable_files", "Matching files that cannot be read (retried).",
                 h.get("unreadable_files", 0))
    c = doc.get("checkpoint", {})
    yield _counter("tailstat_checkpoint_failures", "Checkpoint writes that failed.", c.get("failures", 0))
    yield _gauge("tailstat_checkpoint_ok", "1 when the last checkpoint write succeeded.", 1 if c.get("ok") else 0)
    if c.get("last_success"):
        yield _gauge("tailstat_checkpoint_last_success_timestamp_seconds",
                     "Unix time of the last successful checkpoint.", c["last_success"])
        yield _gauge("tailstat_checkpoint_age_seconds", "Seconds since the last successful checkpoint.",
                     max(0.0, time.time() - c["last_success"]))
    yield _gauge("tailstat_uptime_seconds", "Seconds since the daemon started.", doc.get("uptime", 0.0))
    daemon = doc.get("daemon", {})
    yield InfoMetricFamily("tailstat_build", "tailstat version.", value={"version": str(daemon.get("version", ""))})


def make_registry(collector: StatsCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)  # process_* : CPU, memory, open fds of the daemon itself
    return registry


def render(registry: CollectorRegistry, accept: str = "") -> tuple[bytes, str]:
    """The exposition and its content type, negotiated by prometheus_client from the Accept header
    (Prometheus text 0.0.4 by default, OpenMetrics when the scraper asks for it)."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
