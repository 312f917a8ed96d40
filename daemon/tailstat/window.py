"""Windows: every statistic over the last 1m, 5m, 15m, 1h and 24h, from a ring of mergeable slot aggregates.

Time is cut into slots of `slot_seconds` (10 s by default; a smaller value shrinks every window by the same
factor, for tests). A slot is addressed by its index, ``int(event_time // slot_seconds)``, so slot numbers are
absolute and the same before and after a restart. The ring keeps three tiers:

    tier  width         kept while younger than    serves
    0     1 slot (10 s)  96 slots  (16 min)         1m, 5m, 15m to within 10 s
    1     6 slots (1 m)  372 slots (62 min)         1h to within 1 min
    2     90 slots (15m) 8820 slots (24.5 h)        24h to within 15 min

A tier's slot that ages past its tier folds (merges) into the coarser tier's slot that contains it; a slot
older than the last tier is dropped. A window of W slots is the merge of every kept slot whose start lies in
the last W slots (the current one included). Lines whose event time is older than the ring count only in the
all-time aggregate; event times in the future count in the current slot.

Each slot holds small bounded summaries: per dimension a TopK of `capacity` (Misra-Gries: a window's reported
count c of a value has its true count in [c, c + top_error], top_error <= window total / (capacity + 1), since
merged summaries' errors add up to at most that) and a Distinct (exact up to EXACT_DISTINCT values, then a
HyperLogLog of DISTINCT_PRECISION: a union of slots has the error of one sketch, ~1.6 %); per measure a
Quantiles sketch (relative error 1 %, count/sum/min/max exact); the counters are exact.

Plain data, no lock: the Store owns one Ring and calls it under its own lock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tailstat.partial import DEFERRED, Column, FieldSketch, Partial
from tailstat.sketches import Distinct, Quantiles, RegisterCodes, TopK

DEFAULT_SLOT_SECONDS = 10.0
DISTINCT_PRECISION = 12  # 4 KiB of registers per slot and high-cardinality dimension
EXACT_DISTINCT = 100  # a slot's Distinct holds at most this many values exactly before it becomes registers
HOT_SLOTS = 2  # slots written with HOT_CAPACITY at once (the most recently written ones)
HOT_CAPACITY = 5000  # a hot slot's TopK size (at most the all-time one): prunes seldom, shrinks when sealed
WINDOWS: dict[str, int] = {"1m": 6, "5m": 30, "15m": 90, "1h": 360, "24h": 8640}  # in slots (of 10 s)
ACCEPTED = (*WINDOWS, "all")
STEPS: dict[str, int] = {"10s": 1, "1m": 6, "5m": 30, "1h": 360}  # series steps, in slots
DEFAULT_STEPS = {"1m": "10s", "5m": "10s", "15m": "10s", "1h": "1m", "24h": "1h"}  # <= 120 points each
TIERS = ((1, 96), (6, 372), (90, 8820))  # (slot width, kept while start > now - this), in slots
# fixed per-slot error bound of a distinct estimate (1.04 / sqrt(2**precision))
DISTINCT_ERROR = 1.04 / math.sqrt(1 << DISTINCT_PRECISION)

class Slot:
    """One slot's aggregate: exact counters plus bounded sketches. Mergeable: merging slots equals counting
    their lines in one (exactly while each TopK and Distinct is below capacity).

    A dimension's distinct values are its Distinct plus its TopK's keys: the Distinct is only fed with the keys
    (and the new values) before the TopK could prune them, so a batch costs one C-level count, not a hash per
    value. While a slot is hot (being written) its TopKs have the all-time capacity and seldom prune; sealing
    shrinks them to the window capacity, which bounds the memory of all the others."""

    __slots__ = ("bytes", "classes", "dims", "distinct", "dropped", "errors", "events", "files", "hot", "lines",
                 "measures", "parsed", "skipped")

    def __init__(self, hot: bool = False) -> None:
        self.hot = hot
        self.lines = self.bytes = self.parsed = self.events = 0  # events: a stack trace is one (totals.events)
        self.errors: Counter = Counter()
        self.skipped: Counter = Counter()
        self.dropped: dict[str, list[int]] = {}
        self.files: dict[str, list[int]] = {}  # key -> [lines, bytes, parse_errors] read in this slot
        self.dims: dict[str, TopK] = {}
        self.distinct: dict[str, Distinct] = {}  # values the TopK may no longer hold (see the class docstring)
        self.measures: dict[str, Quantiles] = {}
        self.classes: Counter = Counter()  # "2xx", "err", ... -> lines (the event-minute classes)

    # ------------------------------------------------------------------------------------------ adding
    def add(self, part: Partial, capacity: int, dims: dict[str, Any] | None = None,
            exact: int = EXACT_DISTINCT, codes: RegisterCodes | None = None) -> None:
        """Count one partial's lines; `capacity`: the TopK size of a new dimension (hot or sealed). `dims`: the
        partial's dimensions as the store translated them (default: its own); `exact`: the values a new
        dimension's Distinct holds exactly; `codes`: the ring's cache of register codes."""
        self.lines += part.lines
        self.bytes += part.bytes
        self.parsed += part.parsed
        self.events += part.events or part.parsed
        if part.errors:
            self.errors.update(part.errors)
        if part.skipped:
            self.skipped.update(part.skipped)
        self.add_dims(dims if dims is not None else part.dims, capacity, exact, codes)
        for name, sketch in part.measures.items():
            q = self.measures.get(name)
            if q is None:
                self.measures[name] = sketch.copy()
            else:
                q.merge(sketch)
        for (_, klass), n in part.minutes.items():
            if klass:
                self.classes[klass] += n

    def add_dims(self, dims: Mapping[str, Any], capacity: int, exact: int = EXACT_DISTINCT,
                 codes: RegisterCodes | None = None, owned: bool = False) -> None:
        """Count dimensions' values (Columns, Counters or FieldSketches); arguments as for add(). `owned`: the
        Counters are the slot's to keep (a new dimension's TopK takes one as it is, no copy)."""
        for name, counts in dims.items():
            topk = self.dims.get(name)
            if topk is None:
                topk = self.dims[name] = TopK(capacity)
                self.distinct[name] = Distinct(exact, DISTINCT_PRECISION)
            if counts is DEFERRED:  # counted later (Store: one count of a batch's column for both summaries)
                continue
            # A hot slot's Distinct gets only what its TopK stops tracking (the keys count at reading); a
            # sealed one's holds every value, so late lines go straight in.
            if isinstance(counts, Column):
                if not self.hot:
                    self.distinct[name].update(counts.raw, codes)
                dropped = topk.update_values(counts.raw)
            elif isinstance(counts, FieldSketch):
                self.distinct[name].merge(counts.distinct.reduced(DISTINCT_PRECISION))
                dropped = topk.merge(counts.topk)
            else:
                if min(counts.values(), default=1) <= 0:
                    counts = {v: n for v, n in counts.items() if n > 0}
                if not self.hot:
                    self.distinct[name].update(counts.keys(), codes)
                dropped = topk.update_owned(counts) if owned else topk.update(counts)
            if dropped and self.hot:
                self.distinct[name].update(dropped, codes)

    def _spill(self, name: str, codes: RegisterCodes | None = None) -> None:
        self.distinct[name].update(self.dims[name].keys(), codes)

    def add_file(self, key: str, lines: int, nbytes: int, errors: int) -> None:
        rec = self.files.get(key)
        if rec is None:
            self.files[key] = [lines, nbytes, errors]
        else:
            rec[0] += lines
            rec[1] += nbytes
            rec[2] += errors

    def add_dropped(self, reason: str, lines: int, nbytes: int) -> None:
        d = self.dropped.setdefault(reason, [0, 0])
        d[0] += lines
        d[1] += nbytes

    def distinct_of(self, name: str) -> Distinct:
        """The dimension's distinct values. A sealed slot's Distinct has them all already (seal() adds the
        TopK's keys), so reading or merging it hashes nothing; a hot one's adds its TopK's keys."""
        if not self.hot:
            return self.distinct[name]
        view = self.distinct[name].copy()
        view.update(self.dims[name].keys())
        return view

    # ----------------------------------------------------------------------------------------- merging
    def merge(self, other: Slot, deferred: dict[str, list[Distinct]] | None = None) -> None:
        """Add `other` in. `deferred`: collect the Distincts to union there instead (see merge_slots)."""
        self.lines += other.lines
        self.bytes += other.bytes
        self.parsed += other.parsed
        self.events += other.events
        self.errors.update(other.errors)
        self.skipped.update(other.skipped)
        self.classes.update(other.classes)
        for reason, (lines, nbytes) in other.dropped.items():
            self.add_dropped(reason, lines, nbytes)
        for key, (lines, nbytes, errors) in other.files.items():
            self.add_file(key, lines, nbytes, errors)
        for name, topk in other.dims.items():
            theirs = other.distinct_of(name)
            mine = self.dims.get(name)
            if mine is None:
                self.dims[name] = topk.copy()
                self.distinct[name] = theirs.copy() if theirs is other.distinct[name] else theirs
                continue
            if deferred is None:
                self.distinct[name].merge(theirs)
            else:
                deferred.setdefault(name, []).append(theirs)
            dropped = mine.merge(topk)
            if dropped and self.hot:
                self.distinct[name].update(dropped)
        for name, q in other.measures.items():
            mine_q = self.measures.get(name)
            if mine_q is None:
                self.measures[name] = q.copy()
            else:
                mine_q.merge(q)

    def seal(self, capacity: int, codes: RegisterCodes | None = None) -> None:
        """No longer written to (often): TopKs shrink to `capacity`, caches go (memory, not state)."""
        if self.hot:
            for name in self.dims:
                self._spill(name, codes)  # from now on the Distinct holds every value
        self.hot = False
        for name, topk in self.dims.items():
            if topk.capacity > capacity:
                self.dims[name] = topk.shrunk(capacity)
        for distinct in self.distinct.values():
            distinct.forget_recent()

    # ----------------------------------------------------------------------------------- serialising
    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines, "bytes": self.bytes, "parsed": self.parsed, "events": self.events,
            "errors": dict(self.errors), "skipped": dict(self.skipped),
            "dropped": {k: list(v) for k, v in self.dropped.items()},
            "files": {k: list(v) for k, v in self.files.items()},
            "dims": {n: {"topk": t.to_dict(), "distinct": self.distinct[n].to_dict()} for n, t in self.dims.items()},
            "measures": {n: q.to_dict() for n, q in self.measures.items()},
            "classes": dict(self.classes),
            "hot": self.hot,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Slot:
        slot = cls()
        slot.lines, slot.bytes, slot.parsed = int(data["lines"]), int(data["bytes"]), int(data["parsed"])
        slot.events = int(data.get("events", slot.parsed))  # a ring checkpointed before events were windowed
        slot.errors = Counter({str(k): int(v) for k, v in data["errors"].items()})
        slot.skipped = Counter({str(k): int(v) for k, v in data["skipped"].items()})
        slot.dropped = {str(k): [int(v[0]), int(v[1])] for k, v in data["dropped"].items()}
        slot.files = {str(k): [int(v[0]), int(v[1]), int(v[2])] for k, v in data["files"].items()}
        for name, d in data["dims"].items():
            slot.dims[name] = TopK.from_dict(d["topk"])
            slot.distinct[name] = Distinct.from_dict(d["distinct"])
        slot.measures = {n: Quantiles.from_dict(d) for n, d in data["measures"].items()}
        slot.classes = Counter({str(k): int(v) for k, v in data["classes"].items()})
        slot.hot = bool(data.get("hot", False))
        return slot


def merge_slots(slots: Iterable[Slot]) -> Slot:
    """One new Slot counting all of `slots` (a window's answer); the inputs are not changed."""
    total = Slot()
    deferred: dict[str, list[Distinct]] = {}
    for slot in slots:
        total.merge(slot, deferred)
    for name, sketches in deferred.items():
        total.distinct[name].merge_all(sketches)
    return total


class Ring:
    """The tiers of slots (see the module docstring), keyed by each slot's first index."""

    def __init__(self, slot_seconds: float = DEFAULT_SLOT_SECONDS, capacity: int = 100,
                 hot_capacity: int = 10000) -> None:
        if slot_seconds <= 0:
            raise ValueError(f"slot_seconds must be > 0, got {slot_seconds}")
        self.slot_seconds = slot_seconds
        self.capacity = capacity
        self.hot_capacity = max(capacity, min(hot_capacity, HOT_CAPACITY))
        # a slot's Distinct is exact up to EXACT_DISTINCT values, or the all-time capacity if smaller: a process
        # worker's compacted partial (a sketch past that capacity) then counts as in thread mode
        self.exact = min(EXACT_DISTINCT, hot_capacity)
        self.codes = RegisterCodes(DISTINCT_PRECISION)  # values met in several slots are hashed once
        self.tiers: list[dict[int, Slot]] = [{} for _ in TIERS]
        self.hot: dict[tuple[int, int], Slot] = {}  # (tier, start) -> slot, least recently written first
        # each window's merge of its sealed slots, valid while no sealed slot changes (cold_version) and the
        # current slot stays: a query then merges only that and the hot slots
        self.cold_version = 0
        self._cache: dict[str, tuple[tuple[int | None, int], Slot]] = {}
        self.now_slot: int | None = None  # the slot index the tiers were last advanced to
        # called before any hot slot is sealed: the owner adds the counts it holds back for hot slots first
        self.before_seal: Callable[[], None] | None = None

    def index(self, t: float) -> int:
        return int(t // self.slot_seconds)

    # ------------------------------------------------------------------------------------------ writing
    def advance(self, now: float) -> int:
        """Fold the slots that aged out of their tier into the next one; returns the current slot index."""
        current = self.index(now)
        if current == self.now_slot:
            return current
        self.now_slot = current
        stale = [k for k in self.hot if k != (0, current)]
        if stale and self.before_seal is not None:
            self.before_seal()
        for key in stale:
            self.hot.pop(key).seal(self.capacity, self.codes)
        for level, (_, keep) in enumerate(TIERS):
            tier = self.tiers[level]
            old = [start for start in tier if start <= current - keep]
            for start in sorted(old):
                slot = tier.pop(start)
                if level + 1 < len(TIERS):  # (folded again below if it is too old for that tier too)
                    width = TIERS[level + 1][0]
                    target = start - start % width
                    into = self.tiers[level + 1].get(target)
                    if into is None:
                        self.tiers[level + 1][target] = slot
                    else:
                        into.merge(slot)
        return current

    def slot_for(self, index: int | None, current: int) -> Slot | None:
        """The slot that counts lines of slot index `index` (None: now); None if older than the ring."""
        if index is None or index > current:
            index = current
        for level, (width, keep) in enumerate(TIERS):
            if index > current - keep:
                start = index - index % width
                tier = self.tiers[level]
                slot = tier.get(start)
                if slot is None:
                    slot = tier[start] = Slot(hot=True)
                    self.hot[(level, start)] = slot
                    if len(self.hot) > HOT_SLOTS:
                        if self.before_seal is not None:
                            self.before_seal()
                        self.hot.pop(next(iter(self.hot))).seal(self.capacity, self.codes)
                        self.cold_version += 1
                elif not slot.hot:
                    self.cold_version += 1  # a sealed slot is about to change (late lines)
                elif next(reversed(self.hot)) != (level, start):
                    self.hot[(level, start)] = self.hot.pop((level, start))  # the newest written
                return slot
        return None

    def add_counts(self, slot: Slot, dims: Mapping[str, Counter], measures: Mapping[str, Quantiles]) -> None:
        """Counts and sketches held back for `slot` (hot when they were taken; see before_seal) into it; they
        become its own."""
        if not slot.hot:
            self.cold_version += 1
        slot.add_dims(dims, self.hot_capacity if slot.hot else self.capacity, self.exact, self.codes, owned=True)
        for name, sketch in measures.items():
            q = slot.measures.get(name)
            if q is None:
                slot.measures[name] = sketch
            else:
                q.merge(sketch)

    def add(self, partial: Partial, now: float, pieces: list[tuple[Partial, dict[str, Any]]] | None = None) -> None:
        """Count a merged partial in the slot(s) of its lines' event times: its own `slot`, or one slot per part
        of its `slots`. `pieces`: (piece, its dimensions translated) as Store.merge made them (default: as is)."""
        current = self.advance(now)
        if pieces is None:
            pieces = [(piece, piece.dims) for piece in partial.pieces()]
        if partial.slots is None:
            indices: list[int | None] = [partial.slot]
        else:
            indices = list(partial.slots)
        for index, (piece, dims) in zip(indices, pieces):
            slot = self.slot_for(index, current)
            if slot is not None:
                slot.add(piece, self.hot_capacity if slot.hot else self.capacity, dims, self.exact, self.codes)

    def add_files(self, commits: Iterable[tuple[str, int | None, int, int, int]], now: float) -> None:
        """Per-file counts go to the slot of their ingestion time (the file records are about reading)."""
        slot = self.slot_for(None, self.advance(now))
        assert slot is not None
        for key, _, lines, nbytes, errors in commits:
            slot.add_file(key, lines, nbytes, errors)

    def add_dropped(self, reason: str, lines: int, nbytes: int, now: float) -> None:
        slot = self.slot_for(None, self.advance(now))
        assert slot is not None
        slot.add_dropped(reason, lines, nbytes)

    # ------------------------------------------------------------------------------------------ reading
    def slots_in(self, window: str, now: float) -> list[tuple[int, int, Slot]]:
        """(start, width, slot) of every kept slot whose start lies in the window, oldest first."""
        current = self.advance(now)
        first = current - WINDOWS[window] + 1
        out = []
        for level, (width, _) in enumerate(TIERS):
            out.extend((start, width, slot) for start, slot in self.tiers[level].items() if start >= first)
        out.sort(key=lambda item: item[0])
        return out

    def merged(self, window: str, now: float) -> Slot:
        """The window's slots merged into one new Slot (sealed ones through the cache)."""
        slots = [slot for _, _, slot in self.slots_in(window, now)]
        key = (self.now_slot, self.cold_version)
        hit = self._cache.get(window)
        if hit is None or hit[0] != key:
            hit = self._cache[window] = (key, merge_slots([s for s in slots if not s.hot]))
        return merge_slots([hit[1], *(s for s in slots if s.hot)])

    def slot_count(self) -> int:
        return sum(map(len, self.tiers))

    # ----------------------------------------------------------------------------------- serialising
    def to_dict(self) -> dict[str, Any]:
        return {"slot_seconds": self.slot_seconds, "capacity": self.capacity, "now_slot": self.now_slot,
                "tiers": [[[start, slot.to_dict()] for start, slot in sorted(tier.items())]
                          for tier in self.tiers]}

    def load(self, data: Mapping[str, Any]) -> None:
        """Restore from to_dict(); a ring saved with another slot length is dropped (its slots mean other
        times). Raises KeyError/ValueError/TypeError on malformed data."""
        tiers = [{int(start): Slot.from_dict(d) for start, d in tier} for tier in data["tiers"]]
        if len(tiers) != len(TIERS):
            raise ValueError(f"ring has {len(tiers)} tiers, expected {len(TIERS)}")
        if float(data["slot_seconds"]) != self.slot_seconds:
            return
        for tier in tiers:
            for slot in tier.values():
                slot.seal(self.capacity, self.codes)  # a restart starts with no hot slot
        self.tiers = tiers
        self.hot = {}
        self._cache = {}
        self.cold_version += 1
        self.now_slot = None if data.get("now_slot") is None else int(data["now_slot"])


def with_window_slots(cfg: Any) -> Any:
    """`cfg` (a Config) with every source's parser spec set to tag lines with TAILSTAT_WINDOW_SLOT slots."""
    from dataclasses import replace

    sources = tuple(replace(s, spec=replace(s.spec, slot_seconds=cfg.window_slot)) for s in cfg.sources)
    return cfg.with_overrides(sources=sources)


def parse_window(raw: str | None) -> str:
    """A window name from a query or flag; ValueError naming the accepted ones."""
    value = "all" if raw is None or raw == "" else raw.strip()
    if value not in ACCEPTED:
        raise ValueError(f"window={raw!r} is not valid; accepted: {', '.join(ACCEPTED)}")
    return value
