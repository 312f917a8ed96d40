"""The store with its window ring: a batch's raw Columns (thread mode) are counted once, and its measure sketches
merged once, and added to the all-time summaries and the hot slot later, at the next read, seal or bound
(Store._hold_back). Against the same batches
given as Counters (counted at once, as process mode's compacted partials are), every window's document and the
checkpointed ring must be the same, across slot changes, sealing, late and future lines and reads in between."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from tailstat import aggregate
from tailstat.aggregate import PENDING_VALUES, Store
from tailstat.partial import Column, Partial
from tailstat.sketches import Quantiles
from tailstat.window import WINDOWS, Ring

VALUES = tuple("abcdefgh")
START = 1_000_000.0


def batch(parts: list[tuple[int | None, list[str]]], as_column: bool) -> Partial:
    """A partial of `parts` (slot index, values): one slot, or split over several as split_slots makes them."""
    def piece(values: list[str]) -> Partial:
        dims = {"v": Column(tuple(values)) if as_column else Counter(values),
                "w": Column(tuple(v * 2 for v in values)) if as_column else Counter(v * 2 for v in values)}
        q = Quantiles()
        q.add_values([float(ord(v)) for v in values])
        return Partial(lines=len(values), bytes=3 * len(values), parsed=len(values), dims=dims, measures={"ms": q})

    lines = sum(len(values) for _, values in parts)
    if len(parts) == 1:
        whole = piece(parts[0][1])
        whole.slot = parts[0][0]
        return whole
    slots: dict[int | None, Partial] = {}
    for index, values in parts:
        slots[index] = piece(values)
    return Partial(lines=lines, bytes=3 * lines, parsed=lines, slots=slots)


def view(store: Store) -> dict:
    """What the documents say, less the wall-clock fields."""
    out = {}
    for window in ("all", *WINDOWS):
        doc = store.snapshot(top=20, window=window)
        out[window] = {"totals": doc["totals"], "fields": doc["fields"], "measures": doc["measures"],
                       "start": doc.get("window_start")}
    return out


steps_strategy = st.lists(
    st.tuples(
        st.integers(0, 30),  # seconds the clock moves on first
        st.lists(st.tuples(st.one_of(st.none(), st.integers(-1200, 5)),  # slot offset from now (None: now)
                           st.lists(st.sampled_from(VALUES), min_size=1, max_size=12)), min_size=1, max_size=3),
        st.booleans()),  # read the documents after it
    min_size=1, max_size=30)


@settings(max_examples=120, deadline=None)
@given(steps_strategy)
def test_held_back_columns_count_as_counters_do(steps: list) -> None:
    clock = [START]
    fake_time = SimpleNamespace(time=lambda: clock[0])
    with mock.patch.object(aggregate, "time", fake_time):
        held = Store(topk_capacity=50, ring=Ring(slot_seconds=1.0, capacity=10, hot_capacity=50))
        direct = Store(topk_capacity=50, ring=Ring(slot_seconds=1.0, capacity=10, hot_capacity=50))
        for seconds, parts, read in steps:
            clock[0] += seconds
            now = int(clock[0])
            indexed = {}
            for offset, values in parts:  # one part per slot, as split_slots makes them
                index = None if offset is None else now + offset
                indexed.setdefault(index, []).extend(values)
            for store, as_column in ((held, True), (direct, False)):
                store.merge(batch(list(indexed.items()), as_column))
            if read:
                assert view(held) == view(direct)
        assert view(held) == view(direct)
        assert held.export_state()["ring"] == direct.export_state()["ring"]
        assert held.export_state()["topk"] == direct.export_state()["topk"]
        assert held.export_state()["measures"] == direct.export_state()["measures"]


def test_held_back_values_are_added_past_the_bound_and_before_a_checkpoint() -> None:
    """More distinct values than PENDING_VALUES in one slot's dimension: added without a read (memory stays
    bounded); a checkpoint taken while some are held back has them all (its ring and all-time counts), and a
    store loaded from it counts the same."""
    clock = [START]
    with mock.patch.object(aggregate, "time", SimpleNamespace(time=lambda: clock[0])):
        store = Store(ring=Ring(slot_seconds=10.0))
        slot = int(START // 10)
        per_batch, distinct = 1000, PENDING_VALUES * 3
        batches = 2 * distinct // per_batch
        for i in range(batches):
            values = tuple(f"v{(i * per_batch + j) % distinct}" for j in range(per_batch))
            store.merge(Partial(lines=per_batch, bytes=per_batch, parsed=per_batch,
                                dims={"v": Column(values)}, slot=slot))
            assert store._pending_values <= PENDING_VALUES  # (the bound itself is what is tested)
        state = store.export_state()
        total = batches * per_batch
        assert state["topk"]["v"]["total"] == total
        assert sum(state["topk"]["v"]["counts"].values()) == total  # (fewer values than its capacity: exact)
        [[_, saved]] = state["ring"]["tiers"][0]
        assert saved["dims"]["v"]["topk"]["total"] == total
        again = Store(ring=Ring(slot_seconds=10.0))
        again.load_state(state)
        doc = again.snapshot(top=3, window="1m")
        assert doc["totals"]["lines"] == total
        assert doc["fields"]["v"]["total"] == total
        # past a slot's exact limit (100): a HyperLogLog of ~1.6 % standard error
        assert doc["fields"]["v"]["distinct_is_estimate"]
        assert abs(doc["fields"]["v"]["distinct"] - distinct) <= distinct * 0.05
        assert doc["fields"]["v"]["top_error"] <= total // 101  # a sealed slot keeps 100 values
        everything = again.snapshot(top=3)["fields"]["v"]  # all-time: past 10,000 values a HyperLogLog (~0.8 %)
        assert everything["total"] == total and abs(everything["distinct"] - distinct) <= distinct * 0.05
