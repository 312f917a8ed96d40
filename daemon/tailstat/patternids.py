"""Pattern-id translation: the pattern dimension's message shapes as template ids `source#n` of each source's
PatternRegistry, and back to the templates' text for the stats document.

Functions of plain data (the registries by source); the Store calls them under its lock.
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any

from tailstat.partial import Column, FieldSketch
from tailstat.patterns import PatternRegistry

PATTERN_DIM = "pattern"  # the dimension whose values are message shapes, counted as template ids
PATTERNS_SHOWN = 500  # templates listed under "patterns": the most frequent, and the newest 100 among them


def template_counts(registries: dict[str, PatternRegistry], max_templates: int, source: str, shapes: object,
                    now: float, record: bool = True) -> Counter:
    """A partial's message shapes -> counts of template keys `source#id` (the source's registry made if new);
    `record`: the templates' own counts follow (once per merged partial, not again for its window slots)."""
    registry = registries.get(source)
    if registry is None:
        registry = registries[source] = PatternRegistry(max_templates)
    if isinstance(shapes, Column):
        counts = Counter(shapes.raw)
    elif isinstance(shapes, FieldSketch):  # a worker compacted > capacity shapes: its heavy hitters
        counts = Counter(dict(shapes.topk.top(len(shapes.topk))))
    else:
        counts = shapes
    ids = registry.count(counts, now, record=record)
    return Counter({f"{source}#{tid}": n for tid, n in ids.items()})


def display(registries: dict[str, PatternRegistry], name: str, value: str) -> str:
    """A dimension's value as the stats document shows it (all-time and windows alike): a template id
    `source#n` as the template's current text."""
    if name != PATTERN_DIM:
        return value
    source, _, tid = value.rpartition("#")
    registry = registries.get(source)
    return registry.template(int(tid)) if registry is not None and tid.isdigit() else value


def pattern_list(registries: dict[str, PatternRegistry]) -> list[dict[str, Any]]:
    """The stats document's top-level "patterns": the most frequent templates and the newest, each with its id,
    text, source, first appearance (epoch seconds) and count."""
    entries = [{"id": f"{src}#{e['id']}", "template": e["template"], "source": src,
                "first_seen": e["first_seen"], "count": e["count"]}
               for src, registry in registries.items() for e in registry.entries()]
    if len(entries) > PATTERNS_SHOWN:
        newest = heapq.nlargest(100, entries, key=lambda e: e["first_seen"] or 0)
        chosen = {e["id"] for e in newest}
        rest = [e for e in entries if e["id"] not in chosen]
        entries = newest + heapq.nlargest(PATTERNS_SHOWN - len(newest), rest, key=lambda e: e["count"])
    return sorted(entries, key=lambda e: (-e["count"], e["id"]))


def renamed(field: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """A mergeable field state with its values renamed (another document's template ids to ours)."""
    topk = dict(field["topk"])
    counts: Counter = Counter()
    for value, n in topk["counts"].items():
        counts[renames.get(value, value)] += int(n)
    topk["counts"] = dict(counts)
    distinct = dict(field["distinct"])
    if "exact" in distinct:
        distinct["exact"] = sorted({renames.get(v, v) for v in distinct["exact"]})
    return {**field, "topk": topk, "distinct": distinct}
