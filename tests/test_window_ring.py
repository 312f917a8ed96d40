"""The window ring against a model: folding into coarser tiers, expiry, late and future event times, and
merges that are exact while the slots are below capacity (hypothesis drives random event sequences)."""

from __future__ import annotations

from collections import Counter

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tailstat.partial import Column, Partial
from tailstat.sketches import Quantiles
from tailstat.window import TIERS, WINDOWS, Ring

VALUES = ("a", "b", "c", "d", "e")


def partial(values: list[str], slot: int | None) -> Partial:
    q = Quantiles()
    q.add_values([float(len(v) * 10 + i) for i, v in enumerate(values)])
    return Partial(lines=len(values), bytes=10 * len(values), parsed=len(values), dims={"v": Column(tuple(values))},
                   measures={"ms": q}, slot=slot)


def where(index: int, current: int) -> int | None:
    """The first slot index of the ring slot that holds event slot `index` (model of the tiers)."""
    index = min(index, current)
    for width, keep in TIERS:
        if index > current - keep:
            return index - index % width
    return None


def model(events: list[tuple[int, int, list[str]]], window: str, current: int) -> Counter:
    """Values of the events whose ring slot starts inside `window` at `current` (events: now, slot, values)."""
    first = current - WINDOWS[window] + 1
    out: Counter = Counter()
    for now, index, values in events:
        at = where(min(index, now), current)  # clamped to the time it was counted
        if at is not None and at >= first and where(min(index, now), now) is not None:
            out.update(values)
    return out


events_strategy = st.lists(
    st.tuples(st.integers(0, 400), st.integers(-20, 9000), st.lists(st.sampled_from(VALUES), min_size=1, max_size=6)),
    min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(events_strategy)
def test_windows_equal_the_model(steps: list[tuple[int, int, list[str]]]) -> None:
    ring = Ring(slot_seconds=1.0, capacity=10)
    now = 100_000
    events = []
    for advance, lag, values in steps:
        now += advance
        index = now - lag  # lag < 0: a future event time, counted now
        ring.add(partial(values, index), now + 0.5)
        events.append((now, index, values))
    for window in WINDOWS:
        want = model(events, window, now)
        got = ring.merged(window, now + 0.5)
        assert got.lines == sum(want.values()), window
        counts = dict(got.dims["v"].top(10)) if "v" in got.dims else {}
        assert counts == dict(want), window
        if want:
            assert got.dims["v"].exact and got.distinct_of("v").count() == len(want)
            assert got.measures["ms"].count == sum(want.values())
    # the checkpoint form round-trips to the same windows
    again = Ring(slot_seconds=1.0, capacity=10)
    again.load(orjson.loads(orjson.dumps(ring.to_dict())))
    for window in WINDOWS:
        a, b = ring.merged(window, now + 0.5), again.merged(window, now + 0.5)
        assert view(a) == view(b)


def view(slot) -> dict:
    """What a window shows of a merged slot (a restored ring's slots are sealed, so capacities differ)."""
    dims = {n: (t.top(50), t.error, t.total, slot.distinct_of(n).count()) for n, t in slot.dims.items()}
    return {"lines": slot.lines, "bytes": slot.bytes, "dims": dims,
            "measures": {n: q.summary() for n, q in slot.measures.items()}}


def test_a_slot_folds_into_coarser_tiers_then_expires() -> None:
    ring = Ring(slot_seconds=10.0)
    t0 = 1_000_000 * 10.0
    ring.add(partial(["a", "b"], None), t0)
    assert ring.merged("1m", t0).lines == 2 and [len(t) for t in ring.tiers] == [1, 0, 0]
    later = t0 + 20 * 60  # 20 min: past the 10 s tier (16 min), in the 1 min tier
    assert ring.merged("15m", later).lines == 0 and ring.merged("1h", later).lines == 2
    assert [len(t) for t in ring.tiers] == [0, 1, 0]
    later = t0 + 2 * 3600  # in the 15 min tier: only the 24h window still has it
    assert ring.merged("1h", later).lines == 0 and ring.merged("24h", later).lines == 2
    assert [len(t) for t in ring.tiers] == [0, 0, 1]
    assert ring.merged("24h", t0 + 25 * 3600).lines == 0 and ring.slot_count() == 0


def test_lines_older_than_the_ring_count_nowhere_and_future_ones_now() -> None:
    ring = Ring(slot_seconds=10.0)
    now = 1_000_000 * 10.0
    ring.add(partial(["old"], ring.index(now - 25 * 3600)), now)
    ring.add(partial(["soon"], ring.index(now + 3600)), now)
    assert ring.merged("24h", now).lines == 1
    assert ring.merged("1m", now).dims["v"].top(5) == [("soon", 1)]


def test_a_batch_over_several_slots_counts_each_part_in_its_slot() -> None:
    ring = Ring(slot_seconds=10.0)
    now = 1_000_000 * 10.0
    whole = partial(["a", "b", "c"], None)
    whole.slots = {ring.index(now - 120): partial(["a"], None), ring.index(now): partial(["b", "c"], None)}
    ring.add(whole, now)
    assert ring.merged("1m", now).dims["v"].top(5) == [("b", 1), ("c", 1)]
    assert ring.merged("5m", now).lines == 3


def test_merged_top_lists_keep_their_error_bound_past_capacity() -> None:
    """Many distinct values over many slots: every count is a lower bound within top_error of the truth, and
    top_error <= total / (capacity + 1)."""
    ring = Ring(slot_seconds=1.0, capacity=10)
    truth: Counter = Counter()
    now = 5_000_000
    for step in range(60):
        values = [f"hot{step % 3}"] * 30 + [f"cold{step}-{i}" for i in range(40)]
        truth.update(values)
        ring.add(partial(values, None), now + step + 0.5)
    got = ring.merged("15m", now + 59.5)
    topk = got.dims["v"]
    assert topk.total == sum(truth.values()) and not topk.exact
    assert topk.error <= topk.total / (10 + 1)
    for value, count in topk.top(10):
        assert count <= truth[value] <= count + topk.error
    assert {v for v, _ in topk.top(3)} == {"hot0", "hot1", "hot2"}
    distinct = got.distinct_of("v")
    assert distinct.is_estimate and abs(distinct.count() - len(truth)) <= 0.05 * len(truth)


def test_sketch_helpers_of_the_slots() -> None:
    from tailstat.sketches import Distinct, TopK

    values = [f"v{i}" for i in range(30000)]
    wide, narrow = Distinct(10, 14), Distinct(10, 12)
    wide.update(values)
    narrow.update(values)
    assert wide.reduced(12).count() == narrow.count()  # folding registers == sketching at the lower precision
    parts = [Distinct(10, 12) for _ in range(5)]
    for i, part in enumerate(parts):
        part.update(values[i * 5000:(i + 2) * 5000])
    one, each = Distinct(10, 12), Distinct(10, 12)
    one.merge_all(parts)
    for part in parts:
        each.merge(part)
    assert one.count() == each.count() and one.is_estimate
    topk = TopK(10)
    gone: set[str] = set()
    for start in range(0, 300, 7):
        gone.update(topk.update_values([f"x{i}" for i in range(start, start + 7)] + ["hot"] * 3))
    assert gone | set(topk.keys()) == {f"x{i}" for i in range(301)} | {"hot"}  # what it drops, it says
    small = topk.shrunk(3)
    assert len(small) <= 3 and small.total == topk.total and small.error <= small.total / 4
    assert small.top(1)[0][0] == "hot"


def test_register_codes_give_the_registers_hashing_gives() -> None:
    from tailstat.sketches import Distinct, RegisterCodes

    codes = RegisterCodes(12, limit=3000)  # small: the cache is forgotten and rebuilt along the way
    cached, plain = Distinct(10, 12), Distinct(10, 12)
    for start in range(0, 20000, 1500):
        batch = [f"k{i % 7000}" for i in range(start, start + 2500)]
        cached.update(batch, codes)
        plain.update(batch)
    assert cached.is_estimate and cached.to_dict() == plain.to_dict()
