"""Statistics end to end through the store: top-K error bounds, distinct estimates, percentiles against exact
answers on generated data; rates; per-minute event-time counts (bounded, with breakdowns); skipped measures."""

from __future__ import annotations

import math
import random
import time
from collections import Counter

import pytest

from tailstat.aggregate import Store
from tailstat.formats import build_spec, parse_batch
from tailstat.partial import Partial
from tailstat.sketches import Quantiles


def access_lines(rng: random.Random, n: int, paths: int, clients: int, zipf: float = 1.1) -> list[str]:
    weights = [1 / (k ** zipf) for k in range(1, paths + 1)]
    chosen = rng.choices(range(paths), weights, k=n)
    out = []
    for i, p in enumerate(chosen):
        minute = 55 + (i * 60 // n)
        status = rng.choice(("200", "200", "200", "404", "500", "301"))
        size = int(rng.lognormvariate(7, 1.5))
        rt = rng.lognormvariate(-3, 1)
        out.append(f'10.{(i % clients) >> 16 & 255}.{(i % clients) >> 8 & 255}.{i % clients & 255} - - '
                   f'[10/Oct/2025:{13 + minute // 60:02d}:{minute % 60:02d}:07 +0000] "GET /p/{p} HTTP/1.1" '
                   f'{status} {size} "-" "ua" {rt:.4f} {rt * 0.9:.4f}')
    return out


def scan(lines: list[str], capacity: int = 1000, batch: int = 2000, **spec_kw: object) -> Store:
    store = Store(topk_capacity=capacity)
    spec = build_spec("combined_timed", (), (), None)
    for i in range(0, len(lines), batch):
        store.merge(parse_batch(spec, ("\n".join(lines[i:i + batch]) + "\n").encode()))
    return store


@pytest.fixture(scope="module")
def generated() -> tuple[list[str], Store]:
    lines = access_lines(random.Random(7), 60_000, paths=30_000, clients=20_000)
    return lines, scan(lines)


def test_topk_counts_within_the_reported_error_bound(generated: tuple[list[str], Store]) -> None:
    lines, store = generated
    exact = Counter(line.split('"')[1].split()[1] for line in lines)
    doc = store.snapshot(top=50)
    path = doc["fields"]["path"]
    assert path["total"] == 60_000
    assert path["top_is_exact"] is False  # 30,000 paths, capacity 1,000
    error = path["top_error"]
    assert 0 < error <= 60_000 / (1000 + 1)
    for value, count in path["top"]:
        assert count <= exact[value] <= count + error
    # every value more frequent than the bound is reported, the heaviest in order
    assert [v for v, _ in path["top"][:10]] == [v for v, _ in exact.most_common(10)]


def test_distinct_switches_to_an_estimate_within_a_few_percent(generated: tuple[list[str], Store]) -> None:
    lines, store = generated
    doc = store.snapshot()
    exact_paths = len({line.split('"')[1].split()[1] for line in lines})
    assert doc["fields"]["path"]["distinct_is_estimate"] is True
    assert abs(doc["fields"]["path"]["distinct"] - exact_paths) <= 0.03 * exact_paths  # ~0.8 % std error
    assert doc["fields"]["client"]["distinct_is_estimate"] is True
    assert abs(doc["fields"]["client"]["distinct"] - 20_000) <= 600
    assert doc["fields"]["status"] == {**doc["fields"]["status"], "distinct": 4, "distinct_is_estimate": False,
                                       "top_is_exact": True, "top_error": 0}


def test_percentiles_within_one_percent_of_the_exact_ranks(generated: tuple[list[str], Store]) -> None:
    lines, store = generated
    values = sorted(float(line.rsplit(" ", 2)[1]) for line in lines)
    m = store.snapshot()["measures"]["request_time"]
    assert (m["count"], m["min"], m["max"]) == (60_000, values[0], values[-1])
    assert m["sum"] == pytest.approx(math.fsum(values), rel=1e-12)
    assert m["mean"] == pytest.approx(math.fsum(values) / 60_000, rel=1e-12)
    for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)):
        exact = values[math.floor(q * (len(values) - 1))]
        assert abs(m[key] - exact) <= 0.01 * exact, key


def test_minutes_by_event_time_with_status_classes(generated: tuple[list[str], Store]) -> None:
    lines, store = generated
    minutes = store.snapshot()["minutes"]
    expected: dict[int, Counter] = {}
    for line in lines:
        stamp = line.split("[", 1)[1][:17]  # 10/Oct/2025:13:55
        minute = (1760104500 + (int(stamp[12:14]) - 13) * 3600 + (int(stamp[15:17]) - 55) * 60) // 60
        klass = line.split('" ', 1)[1][0] + "xx"
        expected.setdefault(minute, Counter()).update(("lines", klass))
    assert [m["minute"] for m in minutes] == sorted(expected)
    for m in minutes:
        assert m == {"minute": m["minute"], **expected[m["minute"]]}


def test_minutes_stay_bounded_and_survive_a_wild_timestamp() -> None:
    store = Store(event_minutes=5)
    for minute in range(1000, 1100):
        store.merge(Partial(lines=2, parsed=2, minutes=Counter({(minute, "2xx"): 1, (minute, "5xx"): 1})))
        assert len(store._minutes) <= 5 + 60
    # a year-3000 timestamp: far beyond the wall clock, so not kept per minute (its line still counts)
    store.merge(Partial(lines=1, parsed=1, minutes=Counter({(99_999_999, ""): 1})))
    for minute in range(1100, 1170):
        store.merge(Partial(lines=1, parsed=1, minutes=Counter({(minute, "2xx"): 1})))
    doc = store.snapshot()
    assert [m["minute"] for m in doc["minutes"]] == [1165, 1166, 1167, 1168, 1169]
    assert doc["minutes"][0] == {"minute": 1165, "lines": 1, "2xx": 1}
    assert doc["totals"]["lines"] == 2 * 100 + 1 + 70


def test_minutes_from_json_levels_are_bounded() -> None:
    store = Store()
    data = b"".join(b'{"time": "2025-10-10T13:55:%02dZ", "level": "%s"}\n' % (i % 60, lv.encode())
                    for i, lv in enumerate(["info", "ERROR", "warn", "req-1", "req-2", "debug"] * 5))
    store.merge(parse_batch(build_spec("json", (), (), None), data))
    (bucket,) = store.snapshot()["minutes"]
    assert bucket == {"minute": 1760104500 // 60, "lines": 30, "info": 5, "error": 5, "warn": 5, "debug": 5,
                      "other": 10}


def test_rates_over_1_5_15_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    store = Store()  # started at 1,000,000
    for second in range(0, 900, 10):  # every 10 s: 10 lines, 1 error, 1000 bytes
        clock[0] = 1_000_000 + second
        store.merge(Partial(lines=10, parsed=9, bytes=1000))
    clock[0] = 1_000_000 + 899
    rates = store.snapshot()["rates"]
    assert rates["1m"] == {"lines": 1.0, "parse_errors": 0.1, "bytes": 100.0}  # 6 merges in the last 60 s
    assert rates["5m"] == {"lines": 1.0, "parse_errors": 0.1, "bytes": 100.0}
    assert rates["15m"] == {"lines": 1.0, "parse_errors": 0.1, "bytes": 100.0}
    clock[0] = 1_000_000 + 899 + 120  # two quiet minutes
    rates = store.snapshot()["rates"]
    assert rates["1m"]["lines"] == 0.0
    assert rates["5m"]["lines"] == pytest.approx(180 / 300)
    assert rates["15m"]["lines"] == pytest.approx(780 / 900)


def test_rates_right_after_start_are_not_diluted(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [2_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    store = Store()
    clock[0] += 9  # 10 seconds of life, the current one included
    store.merge(Partial(lines=100, parsed=100, bytes=5000))
    assert store.snapshot()["rates"]["1m"] == {"lines": 10.0, "parse_errors": 0.0, "bytes": 500.0}


def test_skipped_measures_by_reason_reach_the_document() -> None:
    store = Store()
    data = (b'{"d": 1}\n{"d": "fast"}\n{"d": "-"}\n{"d": [1]}\n{"d": "2.5"}\n{"d": NaN}\n')
    store.merge(parse_batch(build_spec("json", (), ("d",), None), data))
    doc = store.snapshot()
    assert doc["totals"] == {**doc["totals"], "lines": 6, "parsed": 5, "parse_errors": 1}
    assert doc["skipped_measures"] == {"not_a_number:d": 2, "missing:d": 1}
    assert doc["measures"]["d"] == {**doc["measures"]["d"], "count": 2, "sum": 3.5, "min": 1.0, "max": 2.5}


def test_quantiles_add_values_equals_add_counts() -> None:
    rng = random.Random(3)
    values = [rng.choice((0.0, -1.5, 2.0)) * rng.lognormvariate(0, 3) for _ in range(5000)]
    a, b = Quantiles(), Quantiles()
    a.add_values(values)
    b.add_counts(Counter(values))
    assert (a.to_dict()["positive"], a.to_dict()["negative"], a.count) == (
        b.to_dict()["positive"], b.to_dict()["negative"], b.count)


def test_distinct_stays_exact_while_the_topk_stands_in_for_it_and_after() -> None:
    """A dimension's distinct set is read from its TopK's keys until the TopK could prune; counts, the
    mergeable state and a checkpoint round trip must match a Distinct fed every value, across that switch."""
    from tailstat.partial import Column
    from tailstat.sketches import Distinct

    store, reference = Store(topk_capacity=10), Distinct(10)
    for i in range(16):
        values = (f"v{i}",) * 3  # one new value per batch: lost if the TopK's keys are not carried over
        store.merge(Partial(lines=3, parsed=3, dims={"x": Column(values)}))
        reference.update(values)
        if i in (4, 12):  # restore into a fresh store from a checkpoint: taken while shadowed, and after
            restored = Store(topk_capacity=10)
            restored.load_state(store.export_state())
            store = restored
        field = store.snapshot()["fields"]["x"]
        assert (field["distinct"], field["distinct_is_estimate"]) == (reference.count(), reference.is_estimate), i
        assert store.snapshot(mergeable=True)["state"]["fields"]["x"]["distinct"] == reference.to_dict(), i
    assert (reference.count(), reference.is_estimate) == (16, True)


@pytest.mark.parametrize("kind", ["counter", "fieldsketch", "document"])
def test_a_shadowed_distinct_is_filled_before_other_summaries_merge_in(kind: str) -> None:
    """Counter and sketch batches (process workers) and merged stats documents go through the Distinct itself:
    what the TopK alone knew must be in it first."""
    from tailstat.partial import Column, FieldSketch

    store = Store(topk_capacity=10)
    store.merge(Partial(lines=4, parsed=4, dims={"x": Column(("a", "b", "c", "d"))}))
    if kind == "document":
        other = Store(topk_capacity=10)
        other.merge(Partial(lines=2, parsed=2, dims={"x": Column(("e", "f"))}))
        store.merge_document(other.snapshot(mergeable=True))
    else:
        counts = Counter({"e": 1, "f": 1})
        store.merge(Partial(lines=2, parsed=2, dims={"x": counts if kind == "counter" else FieldSketch.of(counts)}))
    store.merge(Partial(lines=1, parsed=1, dims={"x": Column(("g",))}))
    assert store.snapshot()["fields"]["x"]["distinct"] == 7


def test_a_checkpoint_restored_under_a_smaller_capacity_keeps_its_exact_distinct_count() -> None:
    from tailstat.partial import Column

    big = Store(topk_capacity=1000)
    big.merge(Partial(lines=500, parsed=500, dims={"x": Column(tuple(f"v{i}" for i in range(500)))}))
    small = Store(topk_capacity=100)
    small.load_state(big.export_state())
    field = small.snapshot()["fields"]["x"]
    assert (field["distinct"], field["distinct_is_estimate"]) == (500, False)
    assert "exact" in small.export_state()["distinct"]["x"]


def test_a_counter_that_could_make_the_topk_prune_ends_the_shadow_first() -> None:
    from tailstat.partial import Column
    from tailstat.sketches import Distinct

    store, reference = Store(topk_capacity=5), Distinct(5)
    store.merge(Partial(lines=2, parsed=2, dims={"x": Column(("a", "b"))}))
    big = Counter({f"v{i}": 1 for i in range(12)} | {"zero": 0})  # past 2 x capacity: the TopK prunes
    store.merge(Partial(lines=12, parsed=12, dims={"x": big}))
    reference.update(["a", "b", *(f"v{i}" for i in range(12))])  # a zero count is not an occurrence
    field = store.snapshot()["fields"]["x"]
    assert field["top_is_exact"] is False
    assert (field["distinct"], field["distinct_is_estimate"]) == (reference.count(), reference.is_estimate)
