"""Stats document building: the sections of `Store.snapshot()`, all-time and a window's, from plain data.

Pure functions: the Store calls them under its lock with its summaries (or a window's merged slots) and a
`display(name, value)` that shows a value as the document does (pattern template ids as their text).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tailstat.patterns import PatternRegistry
from tailstat.sketches import Distinct, Quantiles, TopK
from tailstat.summaries import Summaries
from tailstat.window import Slot

MERGEABLE_VERSION = 1  # of the stats document's opt-in "state" section
UNREADABLE_SHOWN = 20  # paths listed in the stats document ("health.unreadable_files" counts them all)

Display = Callable[[str, str], str]


def file_docs(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the file records, each with its lag, by path."""
    files = []
    for rec in records:
        out = dict(rec)
        out["identity"] = dict(rec["identity"])
        out["lag_bytes"] = max(0, rec["size"] - rec["offset"])
        files.append(out)
    return sorted(files, key=lambda f: f["path"])


def field_doc(name: str, topk: TopK, distinct: Distinct, top: int, display: Display) -> dict[str, Any]:
    """One dimension's section of the stats document (all-time or a window's)."""
    return {
        "top": [[display(name, v), c] for v, c in topk.top(top)],
        "distinct": distinct.count(),
        "distinct_is_estimate": distinct.is_estimate,
        "total": topk.total,
        "top_error": topk.error,
        "top_is_exact": topk.exact,
    }


def field_docs(dims: Mapping[str, TopK], distinct_of: Callable[[str], Distinct], top: int,
               fields: tuple[str, ...] | None, display: Display) -> dict[str, dict[str, Any]]:
    """The "fields" section: each dimension (of `fields`, None: all) with its top values and distinct count."""
    return {name: field_doc(name, topk, distinct_of(name), top, display)
            for name, topk in dims.items() if fields is None or name in fields}


def measure_docs(measures: Mapping[str, Quantiles], fields: tuple[str, ...] | None) -> dict[str, Any]:
    return {n: q.summary() for n, q in measures.items() if fields is None or n in fields}


def minute_docs(minutes: Mapping[int, Counter], keep: int) -> list[dict[str, Any]]:
    """The "minutes" section: the newest `keep` event minutes, oldest first."""
    return [{"minute": m, **dict(minutes[m])} for m in sorted(minutes)[-keep:]]


def missing_fields(expected: Mapping[str, tuple[str, ...]], seen: Mapping[str, set[str]],
                   source_parsed: Counter) -> list[dict[str, Any]]:
    """Each GROUP_BY name that no parsed line of its source had so far."""
    return [{"source": src, "field": name, "parsed_lines": source_parsed[src]}
            for src, names in expected.items() if source_parsed[src]
            for name in names if name not in seen.get(src, ())]


def mergeable_state(sums: Summaries, fields: tuple[str, ...] | None,
                    patterns: Mapping[str, PatternRegistry]) -> dict[str, Any]:
    """The sketches behind "fields" and "measures" (the "state" section). Totals, errors and minutes are in
    the document already, exactly."""
    return {
        "version": MERGEABLE_VERSION,
        "topk_capacity": sums.capacity,
        "event_minutes": sums.event_minutes,
        "fields": {n: {"topk": topk.to_dict(), "distinct": sums.distinct_of(n).to_dict()}
                   for n, topk in sums.topk.items() if fields is None or n in fields},
        "measures": {n: q.to_dict() for n, q in sums.measures.items() if fields is None or n in fields},
        "patterns": {src: r.to_dict(cache=False) for src, r in patterns.items()},
    }


def window_sections(doc: dict[str, Any], merged: Slot, start: float, seconds: float, top: int,
                    fields: tuple[str, ...] | None, display: Display) -> None:
    """Replace the document's cumulative sections by those of a window: `merged`, its slots merged
    (Ring.merged), starting at `start` (epoch seconds) and `seconds` long."""
    doc["window_start"] = int(start) if float(start).is_integer() else start
    doc["window_seconds"] = int(seconds) if float(seconds).is_integer() else seconds
    doc["all_lines"] = doc["totals"]["lines"]  # every line read (window all): says why a window may be empty
    dropped = {k: {"lines": v[0], "bytes": v[1]} for k, v in merged.dropped.items()}
    doc["totals"] = {"lines": merged.lines, "bytes": merged.bytes, "parsed": merged.parsed,
                     "events": merged.events, "parse_errors": merged.lines - merged.parsed,
                     "dropped_lines": sum(v["lines"] for v in dropped.values()),
                     "dropped_bytes": sum(v["bytes"] for v in dropped.values())}
    doc["errors"] = dict(merged.errors)
    doc["skipped_measures"] = dict(merged.skipped)
    doc["dropped"] = dropped
    for f in doc["files"]:
        lines, nbytes, errors = merged.files.get(f["key"], (0, 0, 0))
        f["lines"], f["bytes"], f["parse_errors"] = lines, nbytes, errors
    doc["fields"] = field_docs(merged.dims, merged.distinct_of, top, fields, display)
    doc["measures"] = measure_docs(merged.measures, fields)
    first_minute = int(start // 60)
    doc["minutes"] = [m for m in doc["minutes"] if m["minute"] >= first_minute]
