"""Human-readable views of the stats document (the JSON document itself is built by the store)."""

from __future__ import annotations

import time
from textwrap import wrap
from typing import Any

from tailstat import hints
from tailstat.layout import cut_end, file_table, measure_line, terminal_width

MINUTES_SHOWN = 5  # the table shows the newest few; the document holds them all
MEASURE_STATS = ("sum", "min", "mean", "p50", "p90", "p99", "p99.9", "max")
MEASURE_DROPPED = ["sum", "p99.9", "min", "mean"]  # left out, in this order, of a measure line that is too wide


def _num(n: float) -> str:
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.3f}" if abs(n) < 1000 else f"{n:,.1f}"
    return f"{int(n):,}"


def table(doc: dict[str, Any], top: int = 10, width: int | None = None) -> str:
    """The stats document as text, `width` columns at most (default: the terminal's, 80 off a terminal)."""
    width = width or terminal_width()
    t = doc["totals"]
    window = doc.get("window", "all")
    out = [
        (f"last {window} (since {time.strftime('%H:%M:%S', time.localtime(doc['window_start']))}): "
         if window != "all" and "window_start" in doc else "")
        + f"lines {t['lines']:,}  parsed {t['parsed']:,}  parse errors {t['parse_errors']:,}  "
        + (f"events {t['events']:,}  " if t.get("events", t["parsed"]) != t["parsed"] else "")  # multiline
        + f"bytes {t['bytes']:,}" + (f"  dropped {t['dropped_bytes']:,} B" if t.get("dropped_bytes") else ""),
    ]
    late = hints.window_hint(doc, "--window all counts them")
    if late:  # a window counts event time: lines read from an old backlog are not in it
        out.extend(wrap(late, width, subsequent_indent="  "))
    ck = doc.get("checkpoint", {})
    if ck.get("ok") is False:
        out.append(f"CHECKPOINT FAILING: {ck.get('error') or 'see the log'} (ingestion goes on; offsets not saved)")
    if doc.get("unreadable"):
        count = doc.get("health", {}).get("unreadable_files", len(doc["unreadable"]))
        out.append(f"UNREADABLE FILES ({count}, retried): " + ", ".join(doc["unreadable"]))
    if doc.get("errors"):
        out.extend(wrap("errors by reason: " + ", ".join(f"{k} {v:,}" for k, v in sorted(doc["errors"].items())),
                        width, subsequent_indent="  "))
    if doc.get("skipped_measures"):
        out.extend(wrap("skipped measures: " + ", ".join(f"{k} {v:,}" for k, v in sorted(
            doc["skipped_measures"].items())), width, subsequent_indent="  "))
    if doc.get("files"):
        out.append("")
        out.extend(file_table(doc["files"], width, note=hints.note))
        hint = hints.waiting_hint(doc)
        if hint:
            out.extend(wrap(hint, width, subsequent_indent="  "))
    for name, field in doc.get("fields", {}).items():
        total = field.get("total") or 1
        est = "~" if field.get("distinct_is_estimate") else ""
        out.append("")
        out.append(f"{name}  (distinct {est}{field['distinct']:,}"
                   + (f", counts within -{field['top_error']:,}" if field.get("top_error") else "") + ")")
        for value, count in field["top"][:top]:
            out.append(f"  {count:>12,}  {100 * count / total:5.1f}%  {cut_end(str(value), width - 24)}")
    for name, m in doc.get("measures", {}).items():
        if not m.get("count"):
            continue
        out.append("")
        stats = [("count", f"{m['count']:,}")] + [(k, _num(m[k])) for k in MEASURE_STATS]
        out.append(measure_line(name, stats, MEASURE_DROPPED, width))
    rates = doc.get("rates") or {}
    if any(r.get("lines") for r in rates.values()):
        out.append("")
        out.append("lines/s " + "  ".join(f"{label} {r['lines']:,.1f}" for label, r in rates.items())
                   + "   bytes/s " + "  ".join(f"{label} {r['bytes']:,.1f}" for label, r in rates.items()))
    minutes = doc.get("minutes") or []
    if minutes:
        out.append("")
        out.append("per minute (event time, UTC)")
        for bucket in minutes[-MINUTES_SHOWN:]:
            stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(bucket["minute"] * 60))
            classes = "  ".join(f"{k} {v:,}" for k, v in sorted(bucket.items()) if k not in ("minute", "lines"))
            out.append(f"  {stamp}  {bucket['lines']:>10,}  {classes}".rstrip())
    return "\n".join(out)
