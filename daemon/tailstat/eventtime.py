"""Event time -> window slot, for the parse functions: which ring slot each parsed line of a batch counts in.

Every parse function that knows its lines' own timestamps calls `split_slots` once per batch with one key per
parsed line (the raw timestamp text or number, as the line has it; None for a line without one) and a function
that turns a key into epoch seconds. The keys are reduced to their distinct values first (a C-level set), so the
common case -- every line of the batch in one slot -- costs one set() over the keys and a few conversions, and
only sets `partial.slot`. A batch whose lines fall in several slots gets `partial.slots`: one part per slot,
built by the caller's `build(line_indices)` from those lines only; the whole batch's counts stay in the partial
itself (the all-time aggregate's). Unparseable lines, having no time, go with the newest part, and the batch's
bytes are shared out by lines (the sum is exact).

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
    if len(distinct) == 1:
        partial.slot = distinct.pop()
        return
    lines_of: defaultdict[int | None, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        lines_of[slots[key]].append(i)
    parts: dict[int | None, Partial] = {}
    shared = 0
    for index, lines in lines_of.items():
        part = build(lines)
        part.lines = part.parsed = len(lines)
        part.bytes = partial.bytes * len(lines) // max(1, partial.lines)
        shared += part.bytes
        parts[index] = part
    newest = parts[max(parts, key=lambda s: float("inf") if s is None else s)]  # None: now, the newest
    newest.bytes += partial.bytes - shared
    newest.lines += partial.lines - len(keys)  # the unparseable lines
    newest.errors.update(partial.errors)
    newest.samples.extend(partial.samples)
    partial.slots = parts
