"""Heavy hitters: the mergeable Misra-Gries summary behind every dimension's top list (see sketches.py for the
contract the three summaries share)."""

from __future__ import annotations

import heapq
import operator
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
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
        add_counts(self._counts, counts)
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
        add_counts(self._counts, other._counts)
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


def add_counts(tracked: Counter, counts: Mapping[str, int]) -> None:
    """tracked[v] += n for every (v, n) of counts, in C-level maps (a Python loop costs about twice as much)."""
    keys = counts.keys()
    dict.update(tracked, zip(keys, map(operator.add, map(tracked.get, keys, repeat(0)), counts.values())))


def _count_desc_value_asc(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]
