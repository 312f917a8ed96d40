"""Human-readable views of the stats document (the JSON document itself is built by the store)."""

from __future__ import annotations

import time
from typing import Any

MINUTES_SHOWN = 5  # the table shows the newest few; the document holds them all


def _num(n: float) -> str:
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.3f}" if abs(n) < 1000 else f"{n:,.1f}"
    return f"{int(n):,}"


def table(doc: dict[str, Any], top: int = 10) -> str:
    t = doc["totals"]
    window = doc.get("window", "all")
    out = [
        (f"last {window} (since {time.strftime('%H:%M:%S', time.localtime(doc['window_start']))}): "
         if window != "all" and "window_start" in doc else "")
        + f"lines {t['lines']:,}  parsed {t['parsed']:,}  parse errors {t['parse_errors']:,}  "
        f"bytes {t['bytes']:,}" + (f"  dropped {t['dropped_bytes']:,} B" if t.get("dropped_bytes") else ""),
    ]
    ck = doc.get("checkpoint", {})
    if ck.get("ok") is False:
        out.append(f"CHECKPOINT FAILING: {ck.get('error') or 'see the log'} (ingestion goes on; offsets not saved)")
    if doc.get("unreadable"):
        count = doc.get("health", {}).get("unreadable_files", len(doc["unreadable"]))
        out.append(f"UNREADABLE FILES ({count}, retried): " + ", ".join(doc["unreadable"]))
    if doc.get("errors"):
        out.append("errors by reason: " + ", ".join(f"{k} {v:,}" for k, v in sorted(doc["errors"].items())))
    if doc.get("skipped_measures"):
        out.append("skipped measures: " + ", ".join(f"{k} {v:,}" for k, v in sorted(doc["skipped_measures"].items())))
    if doc.get("files"):
        out.append("")
        out.append(f"{'file':<48} {'format':<14} {'lines':>12} {'bytes':>14} {'lag':>10}")
        for f in doc["files"]:
            out.append(f"{f['path'][-48:]:<48} {f['format']:<14} {f['lines']:>12,} {f['bytes']:>14,} "
                       f"{f.get('lag_bytes', 0):>10,}")
    for name, field in doc.get("fields", {}).items():
        total = field.get("total") or 1
        est = "~" if field.get("distinct_is_estimate") else ""
        out.append("")
        out.append(f"{name}  (distinct {est}{field['distinct']:,}"
                   + (f", counts within -{field['top_error']:,}" if field.get("top_error") else "") + ")")
        for value, count in field["top"][:top]:
            out.append(f"  {count:>12,}  {100 * count / total:5.1f}%  {value[:90]}")
    for name, m in doc.get("measures", {}).items():
        if not m.get("count"):
            continue
        out.append("")
        out.append(f"{name}: count {m['count']:,}  sum {_num(m['sum'])}  min {_num(m['min'])}  "
                   f"mean {_num(m['mean'])}  p50 {_num(m['p50'])}  p90 {_num(m['p90'])}  p99 {_num(m['p99'])}  "
                   f"p99.9 {_num(m['p99.9'])}  max {_num(m['max'])}")
    rates = doc.get("rates") or {}
    if any(r.get("lines") for r in rates.values()):
        out.append("")
        out.append("lines/s " + "  ".join(f"{label} {_num(r['lines'])}" for label, r in rates.items())
                   + "   bytes/s " + "  ".join(f"{label} {_num(r['bytes'])}" for label, r in rates.items()))
    minutes = doc.get("minutes") or []
    if minutes:
        out.append("")
        out.append("per minute (event time, UTC)")
        for bucket in minutes[-MINUTES_SHOWN:]:
            stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(bucket["minute"] * 60))
            classes = "  ".join(f"{k} {v:,}" for k, v in sorted(bucket.items()) if k not in ("minute", "lines"))
            out.append(f"  {stamp}  {bucket['lines']:>10,}  {classes}".rstrip())
    return "\n".join(out)
