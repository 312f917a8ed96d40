"""Sketches: exact while small, within their stated bounds beyond, and mergeable/persistable either way."""

from __future__ import annotations

import base64
import json
import math
import pickle
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailstat.sketches import Distinct, Quantiles, TopK


def json_round_trip(data: dict) -> dict:
    return json.loads(json.dumps(data, allow_nan=False))


def lower_rank_value(ordered: list[float], q: float) -> float:
    return ordered[math.floor(q * (len(ordered) - 1))]


# --- TopK ---------------------------------------------------------------------------------------------------


def zipf_lines(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [f"/page/{int(rng.paretovariate(1.1))}" for _ in range(n)]


def test_topk_is_exact_under_capacity() -> None:
    lines = zipf_lines(1, 30_000)
    expected = Counter(lines)
    assert len(expected) < 1000
    sketch = TopK(capacity=1000)
    for start in range(0, len(lines), 6000):
        sketch.update(Counter(lines[start : start + 6000]))
    assert sketch.to_dict()["counts"] == dict(expected)
    assert (sketch.error, sketch.exact, sketch.total, len(sketch)) == (0, True, 30_000, len(expected))
    by_count_then_value = sorted(expected.items(), key=lambda item: (-item[1], item[0]))
    assert sketch.top(25) == by_count_then_value[:25]


def test_topk_top_breaks_ties_by_value() -> None:
    sketch = TopK(capacity=10)
    sketch.update({"b": 3, "c": 5, "a": 3, "d": 1})
    assert sketch.top(3) == [("c", 5), ("a", 3), ("b", 3)]
    assert sketch.top(0) == []
    assert sketch.top(10) == [("c", 5), ("a", 3), ("b", 3), ("d", 1)]


def test_topk_ignores_non_positive_counts() -> None:
    batch = Counter(a=2, b=1) - Counter(b=1)
    batch["c"] = 0
    sketch = TopK()
    sketch.update(batch)
    sketch.update({"d": -4})
    assert (sketch.to_dict()["counts"], sketch.total) == ({"a": 2}, 2)


def assert_within_misra_gries_bounds(sketch: TopK, truth: Counter[str], capacity: int) -> None:
    reported = dict(sketch.top(len(sketch)))
    assert sketch.total == sum(truth.values())
    assert sketch.error <= sketch.total / (capacity + 1)
    for value, count in reported.items():
        assert truth[value] - sketch.error <= count <= truth[value]
    for value, true_count in truth.items():
        if true_count > sketch.total / (capacity + 1):
            assert value in reported


def test_topk_over_capacity_keeps_heavy_hitters_within_bounds() -> None:
    capacity = 20
    lines = zipf_lines(2, 120_000)
    truth = Counter(lines)
    assert len(truth) > 10 * capacity
    sketch = TopK(capacity)
    for start in range(0, len(lines), 6000):
        sketch.update(Counter(lines[start : start + 6000]))
    assert not sketch.exact
    assert len(sketch) <= 2 * capacity
    assert_within_misra_gries_bounds(sketch, truth, capacity)
    assert [value for value, _ in sketch.top(5)] == [value for value, _ in truth.most_common(5)]


words = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"]), max_size=60)


@given(words, words)
def test_topk_merge_equals_summary_of_concatenation_when_exact(left: list[str], right: list[str]) -> None:
    merged, other, whole = TopK(100), TopK(100), TopK(100)
    merged.update(Counter(left))
    other.update(Counter(right))
    merged.merge(other)
    whole.update(Counter(left + right))
    assert merged.to_dict() == whole.to_dict()
    assert merged.to_dict()["counts"] == dict(Counter(left + right))


@given(st.lists(words, min_size=1, max_size=6))
def test_topk_merge_stays_within_bounds_when_pruned(batches: list[list[str]]) -> None:
    capacity = 2
    merged = TopK(capacity)
    for batch in batches:
        part = TopK(capacity)
        part.update(Counter(batch))
        merged.merge(part)
    assert_within_misra_gries_bounds(merged, Counter(w for batch in batches for w in batch), capacity)


def test_topk_round_trips_through_json_pickle_and_copy() -> None:
    sketch = TopK(capacity=3)
    sketch.update(Counter(zipf_lines(3, 2000)))
    assert sketch.error > 0
    restored = TopK.from_dict(json_round_trip(sketch.to_dict()))
    assert restored.to_dict() == sketch.to_dict()
    assert pickle.loads(pickle.dumps(sketch)).to_dict() == sketch.to_dict()
    clone = sketch.copy()
    clone.update({"new": 1})
    assert "new" not in sketch.to_dict()["counts"]


# --- Distinct -----------------------------------------------------------------------------------------------


def test_distinct_is_exact_below_limit() -> None:
    sketch = Distinct(exact_limit=10_000)
    for batch in range(4):
        sketch.update(f"user-{i}" for i in range(batch * 1000, batch * 1000 + 3000))
    assert (sketch.count(), sketch.is_estimate) == (6000, False)
    assert sketch.to_dict()["exact"][:2] == ["user-0", "user-1"]


def test_distinct_switches_to_hyperloglog_past_limit() -> None:
    sketch = Distinct(exact_limit=100)
    sketch.update(str(i) for i in range(100))
    assert (sketch.is_estimate, sketch.count()) == (False, 100)
    sketch.update(["100"])
    assert sketch.is_estimate
    assert "exact" not in sketch.to_dict()
    assert sketch.count() == 101  # linear counting is exact-ish this far below the register count


def test_distinct_estimate_within_two_percent() -> None:
    sketch = Distinct()
    done = 0
    # 41,000 sits just past the classic estimator's linear-counting switch (2.5 * 2**14), where it is
    # 3 % high for these strings.
    for target in (20_000, 41_000, 60_000, 200_000):
        sketch.update(f"ip-{i}" for i in range(done, target))
        done = target
        assert sketch.is_estimate
        assert abs(sketch.count() - target) <= 0.02 * target


def test_distinct_merge_of_overlapping_sets_within_two_percent() -> None:
    left, right = Distinct(), Distinct()
    left.update(f"ip-{i}" for i in range(120_000))
    right.update(f"ip-{i}" for i in range(80_000, 200_000))
    left.merge(right)
    assert abs(left.count() - 200_000) <= 0.02 * 200_000
    small = Distinct()
    small.update(f"ip-{i}" for i in range(199_000, 201_000))
    small.merge(left)
    assert small.is_estimate
    assert abs(small.count() - 201_000) <= 0.02 * 201_000


def test_distinct_merge_of_exact_sets_is_a_union() -> None:
    left, right = Distinct(exact_limit=10), Distinct(exact_limit=10)
    left.update(["a", "b", "c"])
    right.update(["c", "d"])
    left.merge(right)
    assert left.to_dict()["exact"] == ["a", "b", "c", "d"]
    right.update(str(i) for i in range(9))
    left.merge(right)
    assert (left.is_estimate, left.count()) == (True, 13)


def test_distinct_refuses_to_merge_different_precisions() -> None:
    left, right = Distinct(exact_limit=0, precision=12), Distinct(exact_limit=0, precision=14)
    left.update(["a"])
    right.update(["b"])
    with pytest.raises(ValueError, match="precision 14 into 12"):
        left.merge(right)


def test_distinct_hash_is_stable_across_processes() -> None:
    # A literal, so a change of hash or register layout (which would make saved sketches unmergeable)
    # fails here. hash() would differ per process and break this.
    sketch = Distinct(exact_limit=0)
    sketch.update(["tailstat"])
    registers = base64.b64decode(sketch.to_dict()["hll"])
    assert len(registers) == 2**14
    assert [(index, rank) for index, rank in enumerate(registers) if rank] == [(7221, 1)]


@pytest.mark.parametrize("values", [["x", "y", "\udcff"], [f"v{i}" for i in range(50)]])
def test_distinct_round_trips_through_json_pickle_and_copy(values: list[str]) -> None:
    sketch = Distinct(exact_limit=20)
    sketch.update(values)
    restored = Distinct.from_dict(json_round_trip(sketch.to_dict()))
    assert (restored.to_dict(), restored.count()) == (sketch.to_dict(), sketch.count())
    assert pickle.loads(pickle.dumps(sketch)).to_dict() == sketch.to_dict()
    clone = sketch.copy()
    clone.update(f"w{i}" for i in range(100))
    assert restored.to_dict() == sketch.to_dict()


# --- Quantiles ----------------------------------------------------------------------------------------------


def test_quantiles_lognormal_within_one_percent() -> None:
    rng = random.Random(4)
    data = [rng.lognormvariate(3.0, 1.5) for _ in range(100_000)]
    sketch = Quantiles()
    for start in range(0, len(data), 6000):
        sketch.add_counts(Counter(data[start : start + 6000]))
    ordered = sorted(data)
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = lower_rank_value(ordered, q)
        assert abs(sketch.quantile(q) - exact) <= 0.01 * exact
    assert (sketch.count, sketch.min, sketch.max) == (100_000, ordered[0], ordered[-1])
    assert sketch.sum == pytest.approx(math.fsum(data), rel=1e-12)
    assert (sketch.quantile(0.0), sketch.quantile(1.0)) == (ordered[0], ordered[-1])


def test_quantiles_zero_and_negative_values() -> None:
    sketch = Quantiles()
    sketch.add_counts({-250.0: 1, -3: 2, 0.0: 3, 7.5: 1, 40: 3, math.nan: 5, math.inf: 1, 1.0: 0})
    assert sketch.summary() == {
        "count": 10,
        "sum": -128.5,
        "min": -250.0,
        "max": 40.0,
        "mean": -12.85,
        "p50": 0.0,
        "p90": 40.0,
        "p99": 40.0,
        "p99.9": 40.0,
    }
    ordered = [-250.0, -3.0, -3.0, 0.0, 0.0, 0.0, 7.5, 40.0, 40.0, 40.0]
    for q in (0.0, 0.1, 0.2, 0.3, 0.6, 0.7, 0.8):
        exact = lower_rank_value(ordered, q)
        assert abs(sketch.quantile(q) - exact) <= 0.01 * abs(exact)


def test_quantiles_empty() -> None:
    sketch = Quantiles()
    assert (sketch.quantile(0.5), sketch.count, sketch.min, sketch.max, sketch.mean) == (
        None,
        0,
        None,
        None,
        None,
    )
    assert sketch.summary() == {
        "count": 0,
        "sum": None,
        "min": None,
        "max": None,
        "mean": None,
        "p50": None,
        "p90": None,
        "p99": None,
        "p99.9": None,
    }
    with pytest.raises(ValueError, match="must be in"):
        sketch.quantile(1.5)


magnitudes = st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False)
signed_values = st.one_of(st.just(0.0), magnitudes, magnitudes.map(lambda v: -v))


@given(st.lists(signed_values, min_size=1, max_size=200), st.floats(min_value=0.0, max_value=1.0))
def test_quantiles_within_relative_accuracy_of_lower_rank(values: list[float], q: float) -> None:
    sketch = Quantiles(relative_accuracy=0.02)
    sketch.add_counts(Counter(values))
    exact = lower_rank_value(sorted(values), q)
    # The factor allows float rounding when a value sits exactly on a bucket boundary.
    assert abs(sketch.quantile(q) - exact) <= 0.02 * abs(exact) * (1 + 1e-9)


integers = st.lists(st.integers(min_value=-(10**6), max_value=10**6).map(float), max_size=80)


@settings(deadline=None)
@given(integers, integers, st.integers(min_value=1, max_value=12))
def test_quantiles_merge_equals_union_bucket_for_bucket(
    left: list[float], right: list[float], max_buckets: int
) -> None:
    # Integer-valued floats keep the sum exact, so the whole documents must match, collapsing included.
    merged, other, whole = (
        Quantiles(max_buckets=max_buckets),
        Quantiles(max_buckets=max_buckets),
        Quantiles(max_buckets=max_buckets),
    )
    merged.add_counts(Counter(left))
    other.add_counts(Counter(right))
    merged.merge(other)
    whole.add_counts(Counter(left + right))
    assert merged.to_dict() == whole.to_dict()
    assert len(merged.to_dict()["positive"]) <= max_buckets


def test_quantiles_collapse_bounds_memory_and_keeps_upper_quantiles() -> None:
    rng = random.Random(5)
    data = [10 ** rng.uniform(0, 6) for _ in range(20_000)]
    sketch = Quantiles(max_buckets=64)
    sketch.add_counts(Counter(data))
    assert len(sketch.to_dict()["positive"]) == 64
    exact = lower_rank_value(sorted(data), 0.99)
    assert abs(sketch.quantile(0.99) - exact) <= 0.01 * exact
    assert (sketch.count, sketch.min, sketch.max) == (20_000, min(data), max(data))


def test_quantiles_refuses_to_merge_different_accuracy() -> None:
    with pytest.raises(ValueError, match="relative_accuracy 0.02 into 0.01"):
        Quantiles(0.01).merge(Quantiles(0.02))


def test_quantiles_round_trips_through_json_pickle_and_copy() -> None:
    rng = random.Random(6)
    sketch = Quantiles()
    sketch.add_counts(Counter(round(rng.gauss(0, 100), 2) for _ in range(5000)))
    sketch.add_counts({0.0: 4})
    sketch.add_counts({-0.0: 1})
    document = sketch.to_dict()
    assert document["negative"] and document["positive"] and document["zero_count"] == 5
    restored = Quantiles.from_dict(json_round_trip(document))
    assert restored.to_dict() == document
    assert restored.summary() == sketch.summary()
    unpickled = pickle.loads(pickle.dumps(sketch))
    assert (unpickled.to_dict(), unpickled.summary()) == (document, sketch.summary())
    clone = sketch.copy()
    clone.add_counts({1e9: 1})
    assert sketch.to_dict() == document
    empty = Quantiles.from_dict(json_round_trip(Quantiles().to_dict()))
    assert (empty.count, empty.min, empty.quantile(0.5)) == (0, None, None)
