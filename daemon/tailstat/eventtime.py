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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence

from tailstat.partial import Partial


def slot_of(seconds: float | None, slot_seconds: float) -> int | None:
    return None if seconds is None else int(seconds // slot_seconds)


def split_slots(partial: Partial, slot_seconds: float | None, keys: Sequence[Hashable],
                to_seconds: Callable[[Hashable], float | None], build: Callable[[list[int]], Partial]) -> None:
    """Tag `partial` with the slot(s) of its parsed lines; keys[i] is parsed line i's timestamp as written."""
    if slot_seconds is None or not keys:
        return
    slots = {key: slot_of(to_seconds(key), slot_seconds) if key is not None else None for key in set(keys)}
    distinct = set(slots.values())
    unparsed = partial.lines - len(keys)
    if len(distinct) == 1:
        only = distinct.pop()
        if not unparsed or only is None:
            partial.slot = only  # the common case: nothing else to do
            return
        part = partial.flat_copy()  # the parsed lines in their slot, the others now
        part.errors, part.samples = type(partial.errors)(), []
        parts, sizes = {only: part}, {only: len(keys)}
    else:
        lines_of: defaultdict[int | None, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            lines_of[slots[key]].append(i)
        parts = {index: build(lines) for index, lines in lines_of.items()}
        sizes = {index: len(lines) for index, lines in lines_of.items()}
    shared = 0
    for index, part in parts.items():
        part.lines = part.parsed = sizes[index]
        part.bytes = partial.bytes * sizes[index] // max(1, partial.lines)
        shared += part.bytes
    now = parts.get(None)
    if now is None:
        now = parts[None] = Partial()
    now.bytes += partial.bytes - shared
    now.lines += unparsed  # the unparseable lines: they have no time of their own
    now.errors.update(partial.errors)
    now.samples.extend(partial.samples)
    partial.slots = parts
