"""Event time -> window slot, for the parse functions: which ring slot each parsed line of a batch counts in.

Every parse function that knows its lines' own timestamps calls `split_slots` once per batch with one key per
parsed line (the raw timestamp text or number, as the line has it; None for a line without one) and a function
that turns a key into epoch seconds. The keys are reduced to their distinct values first (a C-level set), so the
common case -- every line of the batch in one slot -- costs one set() over the keys and a few conversions, and
only sets `partial.slot`. A batch whose lines fall in several slots gets `partial.slots`: one part per slot,
built by the caller's `build(line_indices)` from those lines only; the whole batch's counts stay in the partial
itself (the all-time aggregate's). Unparseable lines have no time of their own: they count at ingestion time
(the part of slot None), and the batch's bytes are shared out by lines (the sum is exact).

A line without a timestamp (or a format without one) counts at the time of ingestion: slot None. Lines older
than the ring and lines in the future are the ring's business (counted only in `all`, and now, respectively).
With `slot_seconds` None (`tailstat scan`: no windows) nothing is computed at all.

`tailstat scan --since/--until` uses the same keys: only the lines whose own time is in [since, until) are
counted; the others -- lines without a time and unparseable ones included -- are counted in `partial.outside`
only, and `partial.first`/`last` give the earliest and latest event time counted (the scan's rates).
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Hashable, Sequence
from itertools import compress, repeat
from typing import TYPE_CHECKING

from tailstat.partial import Partial
from tailstat.window import TIERS

if TYPE_CHECKING:
    from tailstat.parse.spec import ParserSpec


def slot_of(seconds: float | None, slot_seconds: float) -> int | None:
    return None if seconds is None else int(seconds // slot_seconds)


TOO_OLD = -1  # the slot index of every line older than the ring (counted only in `all`)


def ring_slot(index: int | None, current: int) -> int | None:
    """The first index of the ring slot that will hold slot `index` (now `current`): lines of one minute older
    than 16 min, or of one quarter hour older than an hour, are one part, not one per 10 s (they land in one
    coarser slot anyway, and only get older before they are merged); future ones count now."""
    if index is None:
        return None
    if index >= current:
        return current
    for width, keep in TIERS:
        if index > current - keep:
            return index - index % width
    return TOO_OLD


def split_slots(partial: Partial, spec: ParserSpec, keys: Sequence[Hashable],
                to_seconds: Callable[[Hashable], float | None], build: Callable[[list[int]], Partial]) -> bool:
    """Tag `partial` with the slot(s) of its parsed lines (keys[i] is parsed line i's timestamp as written, None
    for none), before the caller aggregates them. Returns True when it aggregated them itself, through
    `build(line indices)` (lines over several slots: one part each; --since/--until: the lines in range), so the
    caller must not; False (the common case: one slot, or no windows) leaves the aggregation to the caller."""
    ranged = spec.since is not None or spec.until is not None
    if spec.slot_seconds is None and not ranged and not spec.event_span:
        return False
    if not keys:
        if ranged:
            _keep_only(partial, Partial(), 0)
        return ranged
    seconds = {key: to_seconds(key) if key is not None else None for key in set(keys)}
    if ranged:  # (`tailstat scan` only: never with window slots)
        lo = -math.inf if spec.since is None else spec.since
        hi = math.inf if spec.until is None else spec.until
        inside = {key for key, t in seconds.items() if t is not None and lo <= t < hi}
        lines = [i for i, key in enumerate(keys) if key in inside] if inside else []
        _keep_only(partial, build(lines) if lines else Partial(), len(lines))
        times = [seconds[key] for key in inside]
        if times:
            partial.first, partial.last = min(times), max(times)
        return True
    times = [t for t in seconds.values() if t is not None]
    if times:
        partial.first, partial.last = min(times), max(times)
    slot_seconds = spec.slot_seconds
    if slot_seconds is None:
        return False
    current = int(time.time() // slot_seconds)
    slots = {key: ring_slot(slot_of(t, slot_seconds), current) for key, t in seconds.items()}
    distinct = set(slots.values())
    unparsed = partial.lines - len(keys)
    if len(distinct) == 1:
        only = distinct.pop()
        if not unparsed or only is None:
            partial.slot = only  # the common case: the caller aggregates, nothing else to do
            return False
        lines_of: dict[int | None, list[int]] = {only: list(range(len(keys)))}
    else:
        lines_of = _lines_by_slot(list(map(slots.__getitem__, keys)), distinct)
    parts = {index: build(lines) for index, lines in lines_of.items()}
    shared = 0
    for index, part in parts.items():
        part.lines = part.parsed = len(lines_of[index])
        part.bytes = partial.bytes * part.lines // max(1, partial.lines)
        shared += part.bytes
    now = parts.get(None)
    if now is None:
        now = parts[None] = Partial()
    now.bytes += partial.bytes - shared
    now.lines += unparsed  # the unparseable lines: they have no time of their own
    now.errors.update(partial.errors)
    now.samples.extend(partial.samples)
    partial.slots = parts
    return True


def _lines_by_slot(line_slots: list[int | None], distinct: set[int | None]) -> dict[int | None, list[int]]:
    """Each slot's line indices, slots in order of first appearance. Logs are mostly in time order, so a slot's
    lines are mostly one run: found by C-level index/count/slice calls, without a Python step per line."""
    out: dict[int | None, list[int]] = {}
    for index in sorted(distinct, key=line_slots.index):
        first = line_slots.index(index)
        n = line_slots.count(index)
        if line_slots[first:first + n].count(index) == n:
            out[index] = list(range(first, first + n))
        else:
            out[index] = list(compress(range(len(line_slots)), map(operator.eq, line_slots, repeat(index))))
    return out


def nothing_parsed(partial: Partial, spec: ParserSpec) -> Partial:
    """For a batch without a parsed line: with --since/--until none of its lines counts."""
    if spec.since is not None or spec.until is not None:
        _keep_only(partial, Partial(), 0)
    return partial


def _keep_only(partial: Partial, kept: Partial, lines: int) -> None:
    """Make `partial` count only `lines` of its lines (aggregated in `kept`); the rest are `outside`."""
    partial.outside += partial.lines - lines
    partial.bytes = partial.bytes * lines // max(1, partial.lines)
    partial.lines = partial.parsed = lines
    partial.errors, partial.samples, partial.skipped = kept.errors, kept.samples, kept.skipped
    partial.dims, partial.measures, partial.minutes = kept.dims, kept.measures, kept.minutes
