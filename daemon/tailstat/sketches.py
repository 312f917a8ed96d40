"""Mergeable, bounded-memory summaries behind the statistics: heavy hitters, distinct counts, quantiles.

All three share one contract so the aggregate store can treat them alike:

- updates take one parsed batch already reduced to distinct values (a Counter from the parser), so the
  Python-level work is per distinct value, never per line;
- ``merge(other)`` works in place, and merging two summaries equals summarising the concatenated inputs
  (exactly while a summary is still exact, within the documented bounds after that);
- ``to_dict``/``from_dict`` round-trip through JSON (checkpoints, saved stats documents), and instances
  pickle (``__slots__``, no stored callables) so partial aggregates can cross a process pool.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import math
import operator
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from itertools import repeat
from operator import methodcaller
from typing import Any, Self


class TopK:
    """Heavy hitters: exact counts while small, the mergeable Misra-Gries summary beyond that.

    Counts are exact until more than ``2 * capacity`` values are tracked. Then the summary is pruned as in
    Agarwal et al., "Mergeable summaries" (2012): with ``t`` the ``(capacity + 1)``-th largest count, ``t``
    is subtracted from every count, counts that reach 0 are dropped and ``t`` is added to ``error``. From then
    on a reported count ``c`` is a lower bound -- the true count lies in ``[c, c + error]`` -- with
    ``error <= total / (capacity + 1)``, so every value whose true count exceeds that is still tracked.
    Merging summaries of different capacities keeps the bound of the smaller one.
    """

    __slots__ = ("_capacity", "_counts", "_error", "_total")

    def __init__(self, capacity: int = 10000) -> None:
        if capacity < 1:
            raise ValueError(f"TopK capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._counts: Counter = Counter()  # a Counter: update_values() counts a column in C
        self._error = 0
        self._total = 0

    @property
    def error(self) -> int:
        return self._error

    @property
    def exact(self) -> bool:
        return self._error == 0

    @property
    def total(self) -> int:
        return self._total

    @property
    def capacity(self) -> int:
        return self._capacity

    def keys(self) -> Iterable[str]:
        """The values tracked: every value counted so far while ``exact`` and no more than 2 x capacity."""
        return self._counts.keys()

    def __len__(self) -> int:
        return len(self._counts)

    def counts(self) -> Mapping[str, int]:
        """The tracked counts (read-only: do not mutate)."""
        return self._counts

    def __repr__(self) -> str:
        return f"TopK(capacity={self._capacity}, tracked={len(self._counts)}, error={self._error})"

    def update(self, counts: Mapping[str, int]) -> list[str]:
        if min(counts.values(), default=1) <= 0:
            # A Counter left over from subtraction can hold zero or negative counts; they are not
            # occurrences and would break the lower-bound invariant.
            counts = {value: n for value, n in counts.items() if n > 0}
        _add_counts(self._counts, counts)
        self._total += sum(counts.values())
        return self._prune_if_full()

    def update_owned(self, counts: Counter) -> list[str]:
        """update() with positive counts that this summary may keep: an empty one takes the Counter itself."""
        if self._counts:
            return self.update(counts)
        self._counts = counts
        self._total += sum(counts.values())
        return self._prune_if_full()

    def update_values(self, values: Sequence[str]) -> list[str]:
        """Count one occurrence of each value (a batch's raw column, not yet counted): Counter.update over a
        sequence runs in C, so the batch is counted straight into the summary without a Counter of its own."""
        self._counts.update(values)
        self._total += len(values)
        return self._prune_if_full()

    def merge(self, other: TopK) -> list[str]:
        if other is self:
            other = other.copy()
        _add_counts(self._counts, other._counts)
        self._error += other._error
        self._total += other._total
        return self._prune_if_full()

    def top(self, n: int) -> list[tuple[str, int]]:
        """The ``n`` largest counts, ties broken by value ascending so output is deterministic."""
        if n <= 0 or not self._counts:
            return []
        # a bounded heap: O(N log n) even when thousands of values tie (many values seen once)
        return heapq.nsmallest(n, self._counts.items(), key=_count_desc_value_asc)

    def shrunk(self, capacity: int) -> TopK:
        """A copy of capacity `capacity` (smaller): pruned like a full summary if it tracks more values, so the
        error bound becomes total / (capacity + 1)."""
        clone = TopK(capacity)
        clone._total = self._total
        clone._error = self._error
        if len(self._counts) <= capacity:
            clone._counts = Counter(self._counts)
            return clone
        threshold = heapq.nlargest(capacity + 1, self._counts.values())[-1]
        clone._counts = Counter({value: n - threshold for value, n in self._counts.items() if n > threshold})
        clone._error += threshold
        return clone

    def copy(self) -> Self:
        clone = type(self)(self._capacity)
        clone._counts = Counter(self._counts)
        clone._error = self._error
        clone._total = self._total
        return clone

    def to_dict(self) -> dict[str, Any]:
        return {
            "capacity": self._capacity,
            "counts": dict(self._counts),
            "error": self._error,
            "total": self._total,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        sketch = cls(int(data["capacity"]))
        sketch._counts = Counter({str(value): int(n) for value, n in data["counts"].items()})
        sketch._error = int(data["error"])
        sketch._total = int(data["total"])
        return sketch

    def _prune_if_full(self) -> list[str]:
        """Prune when full; returns the values it stopped tracking (update/update_values/merge return them, for
        a distinct count kept beside, see window.Slot)."""
        # Pruning is a pass over every count, so the dict may grow to twice the capacity before being cut
        # back to at most capacity: the cost is amortised over many batches.
        if len(self._counts) <= 2 * self._capacity:
            return _NONE
        threshold = heapq.nlargest(self._capacity + 1, self._counts.values())[-1]
        dropped = [value for value, n in self._counts.items() if n <= threshold]
        self._counts = Counter({value: n - threshold for value, n in self._counts.items() if n > threshold})
        self._error += threshold
        return dropped


_NONE: list[str] = []  # (never appended to)


def _add_counts(tracked: Counter, counts: Mapping[str, int]) -> None:
    """tracked[v] += n for every (v, n) of counts, in C-level maps (a Python loop costs about twice as much)."""
    keys = counts.keys()
    dict.update(tracked, zip(keys, map(operator.add, map(tracked.get, keys, repeat(0)), counts.values())))


def _count_desc_value_asc(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


class Distinct:
    """Distinct count: an exact set up to ``exact_limit`` values, HyperLogLog beyond that.

    The HyperLogLog uses ``2**precision`` one-byte registers (16 KiB at the default 14, standard error
    1.04 / sqrt(2**14) ~ 0.8 %) and a blake2b hash, so registers are stable across processes and restarts
    (the builtin ``hash()`` is salted per process) and saved sketches stay mergeable. Summaries in HyperLogLog
    form merge only with the same precision.

    Adding a value to the registers twice changes nothing, so in HyperLogLog form the values added recently
    are remembered (at most ``max(exact_limit, 1024)`` of them, dropped wholesale when full) and a batch only
    hashes the values not among them: the heavy values that recur in every batch are hashed about once per
    cache generation instead of once per batch. The cache is not state: it is neither saved nor merged.
    """

    __slots__ = ("_exact_limit", "_precision", "_recent", "_registers", "_values")

    def __init__(self, exact_limit: int = 10000, precision: int = 14) -> None:
        if exact_limit < 0:
            raise ValueError(f"Distinct exact_limit must be >= 0, got {exact_limit}")
        if not 4 <= precision <= 18:
            raise ValueError(f"Distinct precision must be in 4..18, got {precision}")
        self._exact_limit = exact_limit
        self._precision = precision
        self._values: set[str] = set()
        # Empty while exact; the set is emptied once this holds the registers, so only one form uses memory.
        self._registers = bytearray()
        self._recent: set[str] = set()  # in HyperLogLog form: values known to be in the registers already

    @property
    def is_estimate(self) -> bool:
        return len(self._registers) > 0

    def __repr__(self) -> str:
        return f"Distinct(count={self.count()}, is_estimate={self.is_estimate})"

    def update(self, values: Iterable[str], codes: RegisterCodes | None = None) -> None:
        """Add values. `codes`: a cache of values' register codes shared by sketches of its precision (the
        window slots), so a value met again in another sketch is not hashed again."""
        if codes is not None and codes.precision == self._precision:
            if not self.is_estimate:
                self._values.update(values)
                if len(self._values) <= self._exact_limit:
                    return
                values, self._values = self._values, set()
                self._registers = bytearray(1 << self._precision)
            codes.add(self._registers, values)
            return
        if self.is_estimate:
            fresh = set(values)
            fresh -= self._recent
            if not fresh:
                return
            _hll_add(self._registers, self._precision, fresh)
            if len(self._recent) + len(fresh) > max(self._exact_limit, 1024):
                self._recent = fresh
            else:
                self._recent |= fresh
            return
        self._values.update(values)
        if len(self._values) > self._exact_limit:
            self._switch_to_registers()

    def merge(self, other: Distinct) -> None:
        if other is self:
            return  # a union with itself changes nothing
        if not self.is_estimate and not other.is_estimate:
            self.update(other._values)
            return
        if other.is_estimate and other._precision != self._precision:
            raise ValueError(f"cannot merge HyperLogLog precision {other._precision} into {self._precision}")
        if not self.is_estimate:
            self._switch_to_registers()
        if other.is_estimate:
            self._registers = bytearray(map(max, self._registers, other._registers))
        else:
            _hll_add(self._registers, self._precision, other._values)

    def merge_all(self, others: list[Distinct]) -> None:
        """merge() of each of `others`, with the registers of all of them maxed in one pass (a window's union
        of many slot sketches: one C-level max per register instead of one per register and sketch)."""
        estimates = [o for o in others if o.is_estimate and o is not self]
        for other in others:
            if not other.is_estimate and other is not self:
                self.merge(other)
        if not estimates:
            return
        for other in estimates:
            if other._precision != self._precision:
                raise ValueError(f"cannot merge HyperLogLog precision {other._precision} into {self._precision}")
        if not self.is_estimate:
            self._switch_to_registers()
        self._registers = bytearray(map(max, self._registers, *(o._registers for o in estimates)))

    def count(self) -> int:
        if self.is_estimate:
            return _hll_estimate(self._registers)
        return len(self._values)

    def forget_recent(self) -> None:
        """Drop the recent-values cache (memory only: a sketch no longer written to needs none)."""
        self._recent = set()

    def reduced(self, precision: int) -> Distinct:
        """This count at a lower precision: register j of 2**precision is the largest of the registers whose
        index ends in j's bits (the index is the hash's low bits and the rank comes from its high bits, so
        this equals sketching the same values at that precision, up to ranks past 64 - precision)."""
        if precision > self._precision:
            raise ValueError(f"cannot raise HyperLogLog precision {self._precision} to {precision}")
        clone = type(self)(self._exact_limit, precision)
        if not self.is_estimate:
            clone.update(self._values)
            return clone
        size = 1 << precision
        registers = self._registers[:size]
        for start in range(size, len(self._registers), size):
            registers = bytearray(map(max, registers, self._registers[start:start + size]))
        clone._registers = bytearray(registers)
        return clone

    def copy(self) -> Self:
        clone = type(self)(self._exact_limit, self._precision)
        clone._values = set(self._values)
        clone._registers = bytearray(self._registers)
        clone._recent = set(self._recent)
        return clone

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        # the recent-values cache is not state: a pickled partial (process pool) stays sketch-sized
        return None, {"_exact_limit": self._exact_limit, "_precision": self._precision, "_values": self._values,
                      "_registers": self._registers}

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        for name, value in state[1].items():
            setattr(self, name, value)
        self._recent = set()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"exact_limit": self._exact_limit, "precision": self._precision}
        if self.is_estimate:
            data["hll"] = base64.b64encode(self._registers).decode("ascii")
        else:
            data["exact"] = sorted(self._values)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        sketch = cls(int(data["exact_limit"]), int(data.get("precision", 14)))
        if "hll" in data:
            registers = bytearray(base64.b64decode(data["hll"]))
            if len(registers) != 1 << sketch._precision:
                raise ValueError(
                    f"HyperLogLog has {len(registers)} registers, precision "
                    f"{sketch._precision} needs {1 << sketch._precision}"
                )
            sketch._registers = registers
        else:
            sketch._values = {str(value) for value in data["exact"]}
        return sketch

    def _switch_to_registers(self) -> None:
        self._registers = bytearray(1 << self._precision)
        _hll_add(self._registers, self._precision, self._values)
        self._recent = self._values  # all of them are in the registers now
        self._values = set()


class RegisterCodes:
    """Values -> their HyperLogLog register code (index << 7 | rank) at one precision, remembered for up to
    `limit` values (then forgotten wholesale): sketches sharing it hash a recurring value once, and add a batch
    as one register update per distinct code. Not state: codes are a pure function of the value."""

    __slots__ = ("_codes", "limit", "precision")

    def __init__(self, precision: int, limit: int = 10000) -> None:
        self.precision = precision
        self.limit = limit
        self._codes: dict[str, int] = {}

    def add(self, registers: bytearray, values: Iterable[str]) -> None:
        codes = self._codes
        values = set(values)
        missing = values.difference(codes)  # (a C-level pass over `values`, looked up in the dict)
        if missing:
            if len(codes) + len(missing) > self.limit:
                codes.clear()
                missing = list(values)
            p = self.precision
            mask, width = (1 << p) - 1, 64 - p
            hashes = list(map(int.from_bytes, map(_digest, map(_blake2b_8, map(_encode, missing))), repeat("little")))
            ranks = map(operator.sub, repeat(width + 1), map(int.bit_length, map(operator.rshift, hashes, repeat(p))))
            codes.update(zip(missing, map(operator.or_, map(operator.lshift, map(operator.and_, hashes, repeat(mask)),
                                                             repeat(7)), ranks)))
        found = set(map(codes.__getitem__, values))
        for code in found:
            index, rank = code >> 7, code & 127
            if rank > registers[index]:  # noqa: PLR1730 - cheaper than a max() call
                registers[index] = rank


# surrogatepass: lines decoded with surrogateescape may carry lone surrogates, which must hash, not raise.
_encode = methodcaller("encode", "utf-8", "surrogatepass")
_blake2b_8 = partial(hashlib.blake2b, digest_size=8)
_digest = methodcaller("digest")


def _hash64(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(_encode(value), digest_size=8).digest(), "little")


def _hll_add(registers: bytearray, precision: int, values: Iterable[str]) -> None:
    mask = (1 << precision) - 1
    width = 64 - precision
    # The hashes come from a chain of C-level maps (the same value as _hash64): no Python frame per value.
    for hashed in map(int.from_bytes, map(_digest, map(_blake2b_8, map(_encode, values))), repeat("little")):
        # The low bits pick the register; the register keeps the largest rank seen, where rank is
        # 1 + the number of leading zeros of the remaining (64 - precision)-bit word.
        index = hashed & mask
        rank = width + 1 - (hashed >> precision).bit_length()
        if rank > registers[index]:  # noqa: PLR1730 - cheaper than a max() call, once per value
            registers[index] = rank


def _hll_estimate(registers: bytearray) -> int:
    # Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog sketches", 2017;
    # also Redis's). The classic raw estimate with a linear-counting switch at 2.5 * m is off by up to 3 %
    # just past the switch (measured at p=14, ~41,000 values); this one stays near the 0.8 % standard
    # error over the whole range, needs no empirical bias tables, and no large-range correction at 64 bits.
    m = len(registers)
    width = 64 - (m.bit_length() - 1)
    # Registers take at most 65 distinct values: a C-level histogram leaves a short Python loop.
    histogram = Counter(registers)
    z = m * _hll_tau((m - histogram.get(width + 1, 0)) / m)
    for rank in range(width, 0, -1):
        z = 0.5 * (z + histogram.get(rank, 0))
    z += m * _hll_sigma(histogram.get(0, 0) / m)
    return round(m * m / (2.0 * math.log(2.0) * z))


def _hll_sigma(x: float) -> float:
    # Corrects for empty registers: the small-range part of the estimate. Series run until they converge.
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous, z = z, z + x * y
        y += y
        if z == previous:
            return z


def _hll_tau(x: float) -> float:
    # Corrects for saturated registers (rank 65 - precision): the large-range part of the estimate.
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        y *= 0.5
        previous, z = z, z - (1.0 - x) ** 2 * y
        if z == previous:
            return z / 3.0


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
                _add_counts(mine, theirs)  # type: ignore[arg-type] - int bucket keys: the same C-level maps
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
