"""Window hold-back: the raw counts of batches that land in a hot window slot, held back and counted once.

A batch counted in a hot slot would otherwise count every raw value twice (the all-time summaries and the slot)
and merge every measure sketch twice. Its Columns are instead counted once into a pending Counter per slot and
dimension (one C-level Counter.update per batch) and its sketches merged once; the Store adds the sums to the
all-time summaries and the slot together when the slot is read or sealed, or a dimension holds PENDING_VALUES
distinct values. Plain data with no lock: the Store owns one and calls it under its lock.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from tailstat.partial import DEFERRED, Column, Partial
from tailstat.sketches import Quantiles
from tailstat.window import Ring, Slot

PENDING_VALUES = 4096  # distinct values one dimension holds back at most before they are added


class Held:
    """What is held back for one hot window slot."""

    __slots__ = ("dims", "measures", "slot")

    def __init__(self, slot: Slot) -> None:
        self.slot = slot
        self.dims: dict[str, Counter] = {}
        self.measures: dict[str, Quantiles] = {}


class HoldBack:
    """The held-back counts of the hot slots: id(slot) -> what is held, and the most distinct values one held
    dimension has."""

    __slots__ = ("slots", "values")

    def __init__(self) -> None:
        self.slots: dict[int, Held] = {}
        self.values = 0

    def hold(self, ring: Ring, current: int, partial: Partial,
             pieces: list[tuple[Partial, dict[str, Any]]]) -> list[tuple[Partial, dict[str, Any]]]:
        """The pieces that count in a hot slot of `ring` (at slot index `current`) give their raw Columns
        (replaced by DEFERRED) and measure sketches to the slot's held counts. Returns the pieces as they are
        left to count now. (`ring.slot_for` may seal a slot, and so take() what is held, midway.)"""
        indices = [partial.slot] if partial.slots is None else list(partial.slots)
        out = []
        for index, (piece, dims) in zip(indices, pieces):
            slot = ring.slot_for(index, current)  # (made hot now if new, as ring.add would)
            if slot is None or not slot.hot:
                out.append((piece, dims))
                continue
            held = self.slots.get(id(slot))
            if held is None:
                held = self.slots[id(slot)] = Held(slot)
            for name, counts in dims.items():
                if isinstance(counts, Column):
                    pending = held.dims.get(name)
                    if pending is None:
                        pending = held.dims[name] = Counter()
                    pending.update(counts.raw)  # counted in C
                    self.values = max(self.values, len(pending))
                    dims[name] = DEFERRED
            if piece.measures:
                for name, sketch in piece.measures.items():
                    q = held.measures.get(name)
                    if q is None:
                        held.measures[name] = sketch.copy()  # (the partial stays as it was given)
                    else:
                        q.merge(sketch)
                piece = copy.copy(piece)
                piece.measures = {}
            out.append((piece, dims))
        return out

    def over_bound(self) -> bool:
        return self.values > PENDING_VALUES

    def take(self) -> list[Held]:
        """Everything held, which is held no more."""
        held, self.slots, self.values = list(self.slots.values()), {}, 0
        return held
