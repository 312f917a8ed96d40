"""The all-time summaries: per dimension a TopK and a Distinct, per measure a Quantiles, and the event minutes.

Plain data with no lock: the Store owns one and calls it under its lock.
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any

from tailstat.partial import DEFERRED, Column, FieldSketch, Partial
from tailstat.sketches import Distinct, Quantiles, TopK
from tailstat.storestate import Sketches

FEW_VALUES = 1024  # a dimension with at most this many values so far is counted once per batch (see count_dim)
FUTURE_MINUTES = 24 * 60  # event times further ahead of the wall clock are not kept per minute


class Summaries:
    """`windows`: a window ring counts the same batches (a Column of few values is made a Counter once, for
    both)."""

    def __init__(self, capacity: int, event_minutes: int, windows: bool) -> None:
        self.capacity = capacity
        self.event_minutes = event_minutes
        self.windows = windows
        self.topk: dict[str, TopK] = {}
        self.distinct: dict[str, Distinct] = {}
        # Dimensions whose TopK still tracks every value seen (never pruned, at most capacity values): their
        # distinct set is the TopK's keys, so a batch costs one Counter.update, not also a set.update. Their
        # Distinct stays empty until the first batch that could make the TopK prune; see distinct_of.
        self.shadowed: set[str] = set()
        self.measures: dict[str, Quantiles] = {}
        self.minutes: dict[int, Counter] = {}

    def count(self, piece: Partial, dims: dict[str, Any], now: float) -> None:
        """A piece's dimensions (translated), measures and minutes."""
        for name, counts in dims.items():
            counts = self.count_dim(name, counts)
            if counts is not None:
                dims[name] = counts
        for name, sketch in piece.measures.items():
            self.add_measure(name, sketch)
        if piece.minutes:
            self.merge_minutes(piece.minutes, now)

    def add_measure(self, name: str, sketch: Quantiles) -> None:
        q = self.measures.get(name)
        if q is None:
            q = self.measures[name] = Quantiles()
        q.merge(sketch)

    def count_dim(self, name: str, counts: Any) -> Counter | None:
        """One dimension's counts; returns the Counter it made of a Column, for the window slot to reuse (None
        if it made none)."""
        topk = self.topk.get(name)
        if topk is None:
            topk = self.topk[name] = TopK(self.capacity)
            self.distinct[name] = Distinct(self.capacity)
            self.shadowed.add(name)
        made = None
        if counts is DEFERRED:  # held back: see holdback.py
            return None
        if isinstance(counts, Column) and self.windows and len(topk) <= FEW_VALUES:
            # few values seen: count the column once, for this summary and the window slot alike
            counts = made = counts.counts()
        if isinstance(counts, Column):  # raw values: counted straight into the summaries, in C
            if name in self.shadowed and len(topk) + len(counts.raw) <= topk.capacity:
                topk.update_values(counts.raw)  # cannot prune: still holds every value seen
                return None
            self.unshadow(name).update(counts.raw)
            topk.update_values(counts.raw)
        elif isinstance(counts, FieldSketch):  # compacted by a worker: merge the sketches
            self.unshadow(name).merge(counts.distinct)
            topk.merge(counts.topk)
        elif name in self.shadowed and len(topk) + len(counts) <= topk.capacity:
            topk.update(counts)  # (a compacted worker partial) cannot prune: still holds every value
        else:
            # zero or negative counts (a Counter left over from subtraction) are not occurrences
            seen = counts.keys() if min(counts.values(), default=1) > 0 else [
                value for value, n in counts.items() if n > 0]
            self.unshadow(name).update(seen)
            topk.update(counts)
        return made

    def merge_minutes(self, minutes: Counter, now: float) -> None:
        # a day of clock skew is allowed; later "event times" are bad timestamps and must not push the real
        # minutes out of the window (the lines themselves are counted as usual)
        latest = int(now // 60) + FUTURE_MINUTES
        for (minute, klass), n in minutes.items():
            if minute > latest:
                continue
            bucket = self.minutes.get(minute)
            if bucket is None:
                bucket = self.minutes[minute] = Counter()
            bucket["lines"] += n
            if klass:
                bucket[klass] += n
        self.prune_minutes()

    def prune_minutes(self) -> None:
        if len(self.minutes) > self.event_minutes + 60:
            # Keep the newest minutes by count, not by span: one line with a wild timestamp (a year ahead)
            # takes one slot instead of pushing every real minute out of the window.
            keep = heapq.nlargest(self.event_minutes, self.minutes)
            self.minutes = {m: self.minutes[m] for m in keep}

    def unshadow(self, name: str) -> Distinct:
        """`name`'s Distinct, filled from its TopK's keys if it was shadowed (before the TopK may prune)."""
        distinct = self.distinct[name]
        if name in self.shadowed:
            self.shadowed.discard(name)
            distinct.update(self.topk[name].keys())
        return distinct

    def distinct_of(self, name: str) -> Distinct:
        """`name`'s distinct count for reading: a shadowed one is its own (empty, or restored equal to the
        keys) plus the TopK's keys (at most capacity of them), and stays shadowed."""
        if name not in self.shadowed:
            return self.distinct[name]
        view = self.distinct[name].copy()
        view.update(self.topk[name].keys())
        return view

    def merge_sketches(self, theirs: Sketches) -> None:
        """Another aggregate's sketches and minutes (a mergeable document's), which become ours."""
        topk, distinct, measures, minutes = theirs.topk, theirs.distinct, theirs.measures, theirs.minutes
        for name, sketch in topk.items():
            if name in self.topk:
                self.unshadow(name).merge(distinct[name])
                self.topk[name].merge(sketch)
            else:
                self.topk[name], self.distinct[name] = sketch, distinct[name]
        for name, q in measures.items():
            if name in self.measures:
                self.measures[name].merge(q)
            else:
                self.measures[name] = q
        for minute, counts in minutes.items():
            self.minutes.setdefault(minute, Counter()).update(counts)
        self.prune_minutes()

    def restore(self, saved: Sketches) -> None:
        """Replace everything by a checkpoint's."""
        topk, distinct, measures, minutes = saved.topk, saved.distinct, saved.measures, saved.minutes
        self.topk, self.distinct, self.measures = topk, distinct, measures
        # an exact TopK with as many values as an exact Distinct counted the same stream: the same set
        self.shadowed = {n for n, s in topk.items() if s.exact and len(s) <= s.capacity == self.capacity
                         and n in distinct and not distinct[n].is_estimate and distinct[n].count() == len(s)}
        self.minutes = minutes

    def to_state(self) -> dict[str, Any]:
        """The checkpoint's "topk", "distinct", "measures" and "minutes"."""
        return {
            "topk": {n: s.to_dict() for n, s in self.topk.items()},
            "distinct": {n: self.distinct_of(n).to_dict() for n in self.distinct},
            "measures": {n: s.to_dict() for n, s in self.measures.items()},
            "minutes": [[m, dict(c)] for m, c in self.minutes.items()],
        }
