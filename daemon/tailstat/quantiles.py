"""Quantiles: a relative-error DDSketch plus exact count, sum, min and max (see sketches.py for the contract
the three summaries share)."""

from __future__ import annotations

import heapq
import math
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import repeat
from typing import Any, Self

from tailstat.topk import add_counts


class Quantiles:
    """Relative-error quantiles (DDSketch, Masson et al. 2019) plus exact count, sum, min and max.

    A value ``v > 0`` falls in bucket ``ceil(log(v) / log(gamma))`` with ``gamma = (1 + a) / (1 - a)``;
    negative values go to a mirrored store by magnitude, zeros to a counter. ``quantile(q)`` returns the
    value of rank ``floor(q * (count - 1))`` in the sorted input (the lower rank: no interpolation), within a
    relative error ``a`` and clamped to ``[min, max]``. The guarantee holds for magnitudes in the normal
    float range.

    Memory is bounded: when a store holds more than ``max_buckets`` buckets, its lowest-magnitude buckets
    are collapsed into one (DDSketch's collapsing-lowest store). After a collapse the guarantee holds only
    for ranks above the collapsed bucket -- the upper quantiles of positive values. At the default accuracy,
    2048 buckets span about 17 orders of magnitude, so real latencies and sizes never collapse. Collapsing
    keeps merging order-independent: a merge equals building from the union, bucket for bucket.

    ``sum`` is a float sum, so it is exact for integers below 2**53 and otherwise subject to rounding.
    """

    __slots__ = (
        "_count",
        "_gamma",
        "_log_gamma",
        "_max",
        "_max_buckets",
        "_min",
        "_negative",
        "_positive",
        "_relative_accuracy",
        "_sum",
        "_zero_count",
    )

    def __init__(self, relative_accuracy: float = 0.01, max_buckets: int = 2048) -> None:
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError(f"Quantiles relative_accuracy must be in (0, 1), got {relative_accuracy}")
        if max_buckets < 1:
            raise ValueError(f"Quantiles max_buckets must be >= 1, got {max_buckets}")
        self._relative_accuracy = relative_accuracy
        self._max_buckets = max_buckets
        self._gamma = (1.0 + relative_accuracy) / (1.0 - relative_accuracy)
        self._log_gamma = math.log(self._gamma)
        self._positive: dict[int, int] = {}
        self._negative: dict[int, int] = {}
        self._zero_count = 0
        self._count = 0
        self._sum = 0.0
        # Infinite sentinels keep the per-value update branch-free; the properties report None instead.
        self._min = math.inf
        self._max = -math.inf

    @property
    def count(self) -> int:
        return self._count

    @property
    def sum(self) -> float:
        return self._sum

    @property
    def min(self) -> float | None:
        return self._min if self._count else None

    @property
    def max(self) -> float | None:
        return self._max if self._count else None

    @property
    def mean(self) -> float | None:
        return self._sum / self._count if self._count else None

    def __repr__(self) -> str:
        return f"Quantiles(count={self._count}, relative_accuracy={self._relative_accuracy})"

    def add_counts(self, values: Mapping[float, int]) -> None:
        if not values:
            return
        keys = list(map(float, values.keys()))
        counts = list(values.values())
        if min(counts) > 0 and not any(map(math.isnan, keys)) and not any(map(math.isinf, keys)):
            self._add_fast(keys, counts)
        else:
            self._add_checked(values)

    def add_values(self, values: list[float]) -> None:
        """Add one occurrence of each value (finite floats). Every per-value step is a C-level map/Counter,
        so a batch of thousands of values costs no Python bytecode per value."""
        if not values:
            return
        self._count += len(values)
        self._sum += math.fsum(values) if len(values) < 64 else sum(values)
        self._min = min(self._min, min(values))
        self._max = max(self._max, max(values))
        log_gamma = self._log_gamma
        if self._min > 0.0:
            positives: Iterable[float] = values
        else:
            positives = list(filter((0.0).__lt__, values))
            negatives = [-v for v in filter((0.0).__gt__, values)]
            self._zero_count += len(values) - len(positives) - len(negatives)
            if negatives:
                self._add_indices(self._negative, Counter(map(
                    math.ceil, map(operator.truediv, map(math.log, negatives), repeat(log_gamma)))))
        self._add_indices(self._positive, Counter(map(
            math.ceil, map(operator.truediv, map(math.log, positives), repeat(log_gamma)))))

    def _add_indices(self, store: dict[int, int], counts: Counter) -> None:
        if not counts:
            return
        get = store.get
        for index, n in counts.items():
            store[index] = get(index, 0) + n
        self._collapse(store)

    def _add_fast(self, keys: list[float], counts: list[int]) -> None:
        """The common case (all finite, all counts positive): per-value work done by C-level map/sum."""
        self._count += sum(counts)
        self._sum += sum(map(operator.mul, keys, counts))
        self._min = min(self._min, min(keys))
        self._max = max(self._max, max(keys))
        log_gamma = self._log_gamma
        positive, negative = self._positive, self._negative
        pos = [(k, n) for k, n in zip(keys, counts) if k > 0.0] if self._min <= 0.0 else list(zip(keys, counts))
        if pos:
            pk, pn = zip(*pos)
            get = positive.get
            for index, n in zip(map(math.ceil, map(operator.truediv, map(math.log, pk), repeat(log_gamma))), pn):
                positive[index] = get(index, 0) + n
            self._collapse(positive)
        if self._min <= 0.0:
            get = negative.get
            for k, n in zip(keys, counts):
                if k < 0.0:
                    index = math.ceil(math.log(-k) / log_gamma)
                    negative[index] = get(index, 0) + n
                elif k == 0.0:
                    self._zero_count += n
            self._collapse(negative)

    def _add_checked(self, values: Mapping[float, int]) -> None:
        positive, negative = self._positive, self._negative
        positive_get, negative_get = positive.get, negative.get
        log, ceil, isfinite = math.log, math.ceil, math.isfinite
        log_gamma = self._log_gamma
        low, high = self._min, self._max
        count = zeros = 0
        total = 0.0
        for raw_value, n in values.items():
            if n <= 0 or not isfinite(raw_value):
                continue
            value = float(raw_value)
            count += n
            total += value * n
            low = min(low, value)
            high = max(high, value)
            if value > 0.0:
                index = ceil(log(value) / log_gamma)
                positive[index] = positive_get(index, 0) + n
            elif value < 0.0:
                index = ceil(log(-value) / log_gamma)
                negative[index] = negative_get(index, 0) + n
            else:
                zeros += n
        self._count += count
        self._sum += total
        self._zero_count += zeros
        self._min, self._max = low, high
        self._collapse(positive)
        self._collapse(negative)

    def merge(self, other: Quantiles) -> None:
        if other._relative_accuracy != self._relative_accuracy:
            raise ValueError(
                f"cannot merge Quantiles with relative_accuracy {other._relative_accuracy} "
                f"into {self._relative_accuracy}"
            )
        if other is self:
            other = other.copy()
        for mine, theirs in ((self._positive, other._positive), (self._negative, other._negative)):
            if theirs:
                add_counts(mine, theirs)  # type: ignore[arg-type] - int bucket keys: the same C-level maps
                self._collapse(mine)
        self._zero_count += other._zero_count
        self._count += other._count
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def quantile(self, q: float) -> float | None:
        """Estimate of the value at rank ``floor(q * (count - 1))``; None when nothing was added."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile q must be in [0, 1], got {q}")
        if not self._count:
            return None
        return self._estimate(q)

    def summary(self) -> dict[str, int | float | None]:
        if not self._count:
            return dict.fromkeys(("sum", "min", "max", "mean", "p50", "p90", "p99", "p99.9"), None) | {
                "count": 0
            }
        # Twelve significant digits drop float accumulation noise from exact statistics; six are far finer
        # than the sketch's accuracy for the estimates.
        return {
            "count": self._count,
            "sum": _round_significant(self._sum, 12),
            "min": _round_significant(self._min, 12),
            "max": _round_significant(self._max, 12),
            "mean": _round_significant(self._sum / self._count, 12),
            "p50": _round_significant(self._estimate(0.5), 6),
            "p90": _round_significant(self._estimate(0.9), 6),
            "p99": _round_significant(self._estimate(0.99), 6),
            "p99.9": _round_significant(self._estimate(0.999), 6),
        }

    def copy(self) -> Self:
        clone = type(self)(self._relative_accuracy, self._max_buckets)
        clone._positive = dict(self._positive)
        clone._negative = dict(self._negative)
        clone._zero_count = self._zero_count
        clone._count = self._count
        clone._sum = self._sum
        clone._min = self._min
        clone._max = self._max
        return clone

    def to_dict(self) -> dict[str, Any]:
        # JSON object keys are strings only, so buckets travel as sorted [index, count] pairs.
        return {
            "relative_accuracy": self._relative_accuracy,
            "max_buckets": self._max_buckets,
            "count": self._count,
            "sum": self._sum,
            "min": self.min,
            "max": self.max,
            "zero_count": self._zero_count,
            "positive": [[index, n] for index, n in sorted(self._positive.items())],
            "negative": [[index, n] for index, n in sorted(self._negative.items())],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        sketch = cls(float(data["relative_accuracy"]), int(data["max_buckets"]))
        sketch._positive = {int(index): int(n) for index, n in data["positive"]}
        sketch._negative = {int(index): int(n) for index, n in data["negative"]}
        sketch._zero_count = int(data["zero_count"])
        sketch._count = int(data["count"])
        sketch._sum = float(data["sum"])
        if sketch._count:
            sketch._min = float(data["min"])
            sketch._max = float(data["max"])
        return sketch

    def _estimate(self, q: float) -> float:
        rank = math.floor(q * (self._count - 1))
        return min(max(self._value_at_rank(rank), self._min), self._max)

    def _value_at_rank(self, rank: int) -> float:
        seen = 0
        # Ascending value order: negatives from the largest magnitude down, then zeros, then positives up.
        for index in sorted(self._negative, reverse=True):
            seen += self._negative[index]
            if seen > rank:
                return -self._bucket_value(index)
        seen += self._zero_count
        if seen > rank:
            return 0.0
        for index in sorted(self._positive):
            seen += self._positive[index]
            if seen > rank:
                return self._bucket_value(index)
        return self._max  # only reached if a loaded document's counts disagree with its buckets

    def _bucket_value(self, index: int) -> float:
        # Bucket ``index`` holds (gamma**(index-1), gamma**index]; this point is within the relative
        # accuracy of both ends.
        try:
            return 2.0 * math.exp(index * self._log_gamma) / (1.0 + self._gamma)
        except OverflowError:
            return math.inf  # only near the float maximum; the caller clamps to max

    def _collapse(self, store: dict[int, int]) -> None:
        excess = len(store) - self._max_buckets
        if excess <= 0:
            return
        lowest = heapq.nsmallest(excess + 1, store)
        store[lowest[-1]] += sum(store.pop(index) for index in lowest[:-1])


def _round_significant(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")
