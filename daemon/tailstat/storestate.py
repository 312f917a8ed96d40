"""The Store's saved forms read back: a checkpoint (export_state() output) and a mergeable stats document's
"state" section, made into fresh sketches and records outside the lock; the Store swaps them in under it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from tailstat.pathcounters import PathCounters
from tailstat.patterns import PatternRegistry
from tailstat.sketches import Distinct, Quantiles, TopK
from tailstat.window import Ring

STATE_SCHEMA = 2  # 2: + "ring" (the window slots); schema 1 states load with an empty ring
STATE_SCHEMAS = (1, 2)


@dataclass
class Sketches:
    """The all-time summaries of a checkpoint or a mergeable document (see Summaries)."""

    topk: dict[str, TopK]
    distinct: dict[str, Distinct]
    measures: dict[str, Quantiles]
    minutes: dict[int, Counter]


@dataclass
class Restored:
    """A checkpoint's parts that take more than a copy to restore."""

    totals: dict[str, int]
    sketches: Sketches
    files: dict[str, dict[str, Any]]
    paths: PathCounters
    patterns: dict[str, PatternRegistry]
    ring: Ring | None


def totals_of(saved: dict[str, Any], names: dict[str, int]) -> dict[str, int]:
    """Saved totals (a checkpoint or a document); one saved before events were counted has events = parsed."""
    totals = {k: int(saved[k]) for k in names if k != "events"}
    totals["events"] = int(saved.get("events", totals["parsed"]))
    return totals


def read_state(state: dict[str, Any], ring: Ring | None, totals: dict[str, int],
               patterns_max: int, owned: bool = False) -> Restored:
    """A checkpoint; `ring`: the store's (its slots' size and count), None without windows; `totals`: the
    store's (their names); `owned`: nothing else holds `state` (a state file just parsed), so its file records
    are taken as they are, not copied (10,000 of them: the restart's peak memory). Raises
    KeyError/ValueError/TypeError on a malformed state."""
    if state.get("schema") not in STATE_SCHEMAS:
        raise ValueError(f"unknown state schema {state.get('schema')!r}")
    loaded = None
    if ring is not None and state.get("ring"):
        loaded = Ring(ring.slot_seconds, ring.capacity)
        loaded.load(state["ring"])
    saved_totals = totals_of(state["totals"], totals)
    patterns = {str(src): PatternRegistry.from_dict(d, max_templates=patterns_max)
                for src, d in state.get("patterns", {}).items()}
    sketches = Sketches({n: TopK.from_dict(d) for n, d in state["topk"].items()},
                        {n: Distinct.from_dict(d) for n, d in state["distinct"].items()},
                        {n: Quantiles.from_dict(d) for n, d in state["measures"].items()},
                        {int(m): Counter(c) for m, c in state["minutes"]})
    files = {str(k): v if owned else dict(v) for k, v in state["files"].items()}
    for rec in files.values():
        int(rec["offset"]), rec["identity"]["inode"], rec["path"]
    # a checkpoint from before the per-path counters: each record's counts at its path
    paths = PathCounters.from_list(state["paths"]) if "paths" in state else PathCounters.from_records(
        files.values())
    return Restored(saved_totals, sketches, files, paths, patterns, loaded)


def document_sketches(doc: dict[str, Any], fields: dict[str, Any]) -> Sketches:
    """A mergeable document's sketches: `fields` its state's (template ids already ours), and its minutes."""
    state = doc["state"]
    topk = {n: TopK.from_dict(f["topk"]) for n, f in fields.items()}
    distinct = {n: Distinct.from_dict(f["distinct"]) for n, f in fields.items()}
    measures = {n: Quantiles.from_dict(d) for n, d in state["measures"].items()}
    minutes: dict[int, Counter] = {}
    for bucket in doc.get("minutes", []):
        counts = minutes.setdefault(int(bucket["minute"]), Counter())
        counts.update({k: int(v) for k, v in bucket.items() if k != "minute"})  # "lines" and the classes
    return Sketches(topk, distinct, measures, minutes)
