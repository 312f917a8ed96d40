"""The partial aggregate: what one parse call returns for one batch of complete lines.

Plain data only (ints, dicts, Counters, tuples) so it pickles cheaply for a process pool, and carries no
lock: the store merges it under its own lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

SAMPLE_CHARS = 200
# A dimension's counts that the store holds back to add later, in place of a Column (see Store.merge)
DEFERRED: Mapping[str, int] = MappingProxyType({})


@dataclass(slots=True)
class Partial:
    lines: int = 0
    bytes: int = 0
    parsed: int = 0
    # events: a multiline event (a stack trace) is one event of several lines; 0 means one event per parsed line
    events: int = 0
    # reason -> number of lines that could not be parsed for that reason
    errors: Counter = field(default_factory=Counter)
    # a few truncated lines that failed, for the rate-limited warning
    samples: list[str] = field(default_factory=list)
    # dimension name -> Counter of value -> lines, or a FieldSketch once a worker compacted a big one
    dims: dict[str, Any] = field(default_factory=dict)
    # measure name -> this batch's values as a mergeable Quantiles sketch (bounded size, cheap to pickle)
    measures: dict[str, Any] = field(default_factory=dict)
    # "reason:field" -> measure values skipped (e.g. not a number); the line itself still parsed
    skipped: Counter = field(default_factory=Counter)
    # (epoch minute of the log's own timestamp, class such as "2xx" or "err" or "") -> lines
    minutes: Counter = field(default_factory=Counter)
    # The window ring's slot (int(event time // slot seconds)) of every line here; None: the time of ingestion.
    # When a batch's lines fall in several slots, `slots` holds one part per slot (each a Partial of those lines
    # only), the counters above (lines, bytes, parsed, errors, samples) still hold the whole batch, and `dims`,
    # `measures`, `skipped` and `minutes` are empty: they are in the parts (`pieces()`).
    slot: int | None = None
    slots: dict[int | None, Partial] | None = None
    # `tailstat scan --since/--until`: lines not counted (their time is out of range, or they have none), and the
    # earliest and latest event time (epoch seconds) of the lines counted
    outside: int = 0
    first: float | None = None
    last: float | None = None

    def add_error(self, reason: str, line: bytes, count: int = 1) -> None:
        self.errors[reason] += count
        if len(self.samples) < 3:
            self.samples.append(line[:SAMPLE_CHARS].decode("utf-8", "replace"))

    def compact(self, capacity: int) -> Partial:
        """Replace every dimension Counter with more than `capacity` values by a bounded FieldSketch, so the
        partial costs the same to pickle and merge however many distinct values its lines had."""
        from tailstat.sketches import Distinct, TopK

        for name, counts in list(self.dims.items()):
            if isinstance(counts, Column):
                counts = self.dims[name] = counts.counts()
            if isinstance(counts, Counter) and len(counts) > capacity:
                topk, distinct = TopK(capacity), Distinct(capacity)
                topk.update(counts)
                distinct.update(counts.keys())
                self.dims[name] = FieldSketch(topk, distinct)
        for part in (self.slots or {}).values():
            part.compact(capacity)
        return self

    def pieces(self) -> list[Partial]:
        """What holds this partial's dimensions, measures and minutes: itself, or its slot parts."""
        return [self] if self.slots is None else list(self.slots.values())

    def absorb(self, other: Partial) -> None:
        """Fold another partial into this one (used to combine sub-batches in one worker), slots included."""
        if self.lines == 0 and self.slots is None and not self.dims:
            self.slot = other.slot  # an empty partial takes its first one's time
        if self.slots is None and other.slots is None and self.slot == other.slot:
            self._absorb_flat(other)
            return
        if self.slots is None:  # becomes split: its aggregates move into the part of its slot
            mine = {self.slot: self.flat_copy()} if self.lines else {}
            self.dims, self.measures, self.skipped, self.minutes = {}, {}, Counter(), Counter()
        else:
            mine = self.slots
        theirs = other.slots if other.slots is not None else {other.slot: other}
        for index, part in theirs.items():
            if index in mine:
                mine[index]._absorb_flat(part)
            else:
                mine[index] = part.flat_copy()
        self.slots, self.slot = mine, None
        self._absorb_counters(other)

    def flat_copy(self) -> Partial:
        """A copy of this partial's own counts (not its slot parts), sharing nothing mutable."""
        copy = Partial()
        copy._absorb_flat(self)
        copy.samples = list(self.samples)
        return copy

    def _absorb_counters(self, other: Partial) -> None:
        self.outside += other.outside
        if other.first is not None:
            self.first = other.first if self.first is None else min(self.first, other.first)
            self.last = other.last if self.last is None else max(self.last, other.last)  # type: ignore[type-var]
        self.lines += other.lines
        self.bytes += other.bytes
        self.parsed += other.parsed
        self.errors.update(other.errors)
        self.samples.extend(other.samples[: max(0, 3 - len(self.samples))])

    def _absorb_flat(self, other: Partial) -> None:
        self.outside += other.outside
        if other.first is not None:
            self.first = other.first if self.first is None else min(self.first, other.first)
            self.last = other.last if self.last is None else max(self.last, other.last)  # type: ignore[type-var]
        if self.events or other.events:
            self.events = (self.events or self.parsed) + (other.events or other.parsed)
        self.lines += other.lines
        self.bytes += other.bytes
        self.parsed += other.parsed
        self.errors.update(other.errors)
        self.samples.extend(other.samples[: max(0, 3 - len(self.samples))])
        for name, c in other.dims.items():
            mine = self.dims.get(name)
            if mine is None:
                self.dims[name] = c if isinstance(c, Column | FieldSketch) else c.copy()  # (never mutated here)
                continue
            if isinstance(mine, Column):  # a second batch: count from here on (concatenating is quadratic)
                mine = self.dims[name] = Counter(mine.raw)
            if isinstance(c, Column) and isinstance(mine, Counter):
                mine.update(c.raw)  # counted in C
            elif isinstance(mine, Counter) and isinstance(c, Counter):
                mine.update(c)
            else:
                self.dims[name] = FieldSketch.of(mine).merged(FieldSketch.of(c))
        for name, sketch in other.measures.items():
            if name in self.measures:
                self.measures[name].merge(sketch)
            else:
                self.measures[name] = sketch.copy()
        self.skipped.update(other.skipped)
        self.minutes.update(other.minutes)


class Column(Mapping):
    """One batch's raw values of a dimension, one per parsed line, read as a Mapping of value -> count.

    The store counts the raw values straight into its summaries (C-level Counter.update and set.update), which
    costs less than building a per-batch Counter and merging it; anything that reads it as a Mapping (tests,
    absorb, compact) gets the counts, built once on first use. Empty values (no method in a "-" request) are
    not values."""

    __slots__ = ("_counts", "raw")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.raw = tuple(filter(None, values)) if "" in values else values
        self._counts: Counter | None = None

    def counts(self) -> Counter:
        if self._counts is None:
            self._counts = Counter(self.raw)
        return self._counts

    def __getitem__(self, key: str) -> int:
        return self.counts()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.counts())

    def __len__(self) -> int:
        return len(self.counts())

    def __pos__(self) -> Counter:
        return +self.counts()

    def __reduce__(self) -> tuple:  # pickles as the raw values, like it was built
        return (Column, (self.raw,))

    def copy(self) -> Counter:
        return Counter(self.counts())


@dataclass(slots=True)
class FieldSketch:
    """A dimension's values as bounded sketches: heavy hitters (with error bound) and a distinct count."""

    topk: Any
    distinct: Any

    @classmethod
    def of(cls, value: Any, capacity: int = 10000) -> FieldSketch:
        if isinstance(value, FieldSketch):
            return value
        from tailstat.sketches import Distinct, TopK

        topk, distinct = TopK(capacity), Distinct(capacity)
        topk.update(value)
        distinct.update(value.keys())
        return cls(topk, distinct)

    def merged(self, other: FieldSketch) -> FieldSketch:
        topk, distinct = self.topk.copy(), self.distinct.copy()
        topk.merge(other.topk)
        distinct.merge(other.distinct)
        return FieldSketch(topk, distinct)
