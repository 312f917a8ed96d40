"""Per-step series over a window's slots (`GET /stats/series`): columnar arrays, ready for a chart.

A step is a whole number of slots (10s, 1m, 5m, 1h), aligned to absolute time, so the points of two polls line
up. A slot counts in the step that holds its start: where the ring only keeps coarser slots (1 min past 15 min,
15 min past 1 h) than the step, that step gets the slot's counts and the steps after it within the slot get
none. Counts of the top values are summed from each slot's TopK: exact while the slots are below capacity,
lower bounds otherwise (like the window's top list); "other" is the rest of the step's lines with that field.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tailstat.sketches import Quantiles
from tailstat.window import DEFAULT_STEPS, STEPS, WINDOWS, Slot, merge_slots

CLASS_FIELD = "class"  # the per-line class of the event minutes ("2xx", "5xx", "err", level names ...)
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


def accepted_steps(window: str) -> list[str]:
    """The steps a series of `window` accepts (no longer than the window)."""
    return [s for s, n in STEPS.items() if n <= WINDOWS[window]]


def parse_step(raw: str | None, window: str) -> str:
    """A step name for `window` (default: the one giving at most 120 points); ValueError naming the accepted."""
    if raw is None or raw == "":
        return DEFAULT_STEPS[window]
    if raw not in STEPS:
        raise ValueError(f"step={raw!r} is not valid; accepted: {', '.join(accepted_steps(window))}")
    if STEPS[raw] > WINDOWS[window]:
        raise ValueError(f"step={raw!r} is longer than window={window!r}; accepted: "
                         + ", ".join(accepted_steps(window)))
    return raw


def series(slots: list[tuple[int, int, Slot]], first: int, current: int, slot_seconds: float, window: str,
           step: str, fields: tuple[str, ...], top: int, display: Any = None) -> dict[str, Any]:
    """The series document of `slots` ((start, width, slot) in the window [first, current], in slot indices)."""
    width = STEPS[step]
    base = first - first % width
    starts = list(range(base, current + 1, width))
    n = len(starts)
    lines, errors, nbytes = [0] * n, [0] * n, [0] * n
    per_step: list[list[Slot]] = [[] for _ in range(n)]
    for start, _, slot in slots:
        i = (start - base) // width
        if not 0 <= i < n:
            continue
        per_step[i].append(slot)
        lines[i] += slot.lines
        errors[i] += slot.lines - slot.parsed
        nbytes[i] += slot.bytes
    field_docs = {name: _field(name, per_step, slots, top, display) for name in fields}
    measure_names = sorted({m for _, _, slot in slots for m in slot.measures})
    measures = {name: _measure(name, per_step) for name in measure_names}
    return {"window": window, "step": _seconds(width * slot_seconds), "t": [_seconds(s * slot_seconds) for s in starts],
            "lines": lines, "parse_errors": errors, "bytes": nbytes, "fields": field_docs, "measures": measures}


def _seconds(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _field(name: str, per_step: list[list[Slot]], slots: list[tuple[int, int, Slot]], top: int,
           display: Any) -> dict[str, Any]:
    if name == CLASS_FIELD:
        totals: Counter = Counter()
        for _, _, slot in slots:
            totals.update(slot.classes)
        values = [v for v, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:top]]

        def counts_of(slot: Slot) -> tuple[Any, int]:
            return slot.classes, slot.lines
    else:
        merged = merge_slots([_only(slot, name) for _, _, slot in slots if name in slot.dims])
        topk = merged.dims.get(name)
        values = [v for v, _ in topk.top(top)] if topk is not None else []

        def counts_of(slot: Slot) -> tuple[Any, int]:
            t = slot.dims.get(name)
            return ({}, 0) if t is None else (t.counts(), t.total)
    columns = {v: [0] * len(per_step) for v in values}
    other = [0] * len(per_step)
    for i, step_slots in enumerate(per_step):
        for slot in step_slots:
            counts, total = counts_of(slot)
            shown = 0
            for v in values:
                c = counts.get(v, 0)
                columns[v][i] += c
                shown += c
            other[i] += total - shown
    show = (lambda v: display(name, v)) if display is not None else (lambda v: v)
    return {"values": [show(v) for v in values], "counts": {show(v): c for v, c in columns.items()},
            "other": other}


def _only(slot: Slot, name: str) -> Slot:
    """A view of one dimension of `slot`, so merging for the top values copies nothing else."""
    view = Slot()
    view.dims[name] = slot.dims[name]
    view.distinct[name] = slot.distinct[name]
    view.hot = slot.hot
    return view


def _measure(name: str, per_step: list[list[Slot]]) -> dict[str, list]:
    out: dict[str, list] = {p: [] for p, _ in PERCENTILES}
    out["count"] = []
    for step_slots in per_step:
        q: Quantiles | None = None
        for slot in step_slots:
            sketch = slot.measures.get(name)
            if sketch is None:
                continue
            if q is None:
                q = sketch.copy()
            else:
                q.merge(sketch)
        for p, at in PERCENTILES:
            out[p].append(None if q is None or not q.count else round(q.quantile(at), 6))
        out["count"].append(0 if q is None else q.count)
    return out
