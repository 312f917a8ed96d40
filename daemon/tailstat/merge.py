"""`tailstat merge A.json B.json ...`: combine saved stats documents (one per host) into one.

Each input must carry the opt-in "state" section (`tailstat scan --json --mergeable`, the daemon's
`Store.snapshot(mergeable=True)`): the full sketches behind its top lists, distinct counts and percentiles.
The output has the same shape, state included, so merges compose: merge(merge(A, B), C) == merge(A, B, C).

What a merged document holds:
- totals, errors by reason, skipped measures, dropped data, per-minute counts: exact sums;
- top lists: the merged heavy-hitter summaries (exact while every input was exact and the union fits the
  capacity; otherwise each count is a lower bound, within `top_error` of the truth);
- distinct counts: the exact union while it fits, else HyperLogLog registers merged register by register --
  the same estimate as one summary of all the inputs' values;
- percentiles: the DDSketch buckets added, identical to one sketch of all the values (1 % relative error);
- rates: summed (the fleet's lines/s), files: every input's files, each tagged with its "origin" document.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from tailstat.aggregate import RATE_WINDOWS, Store
from tailstat.render import table


class MergeError(Exception):
    """An input cannot be merged; str(self) is the one line shown to the user."""


def load_document(path: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise MergeError(f"{path}: no such file") from None
    except OSError as exc:
        raise MergeError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise MergeError(f"{path}: not a JSON document ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != 1 or not isinstance(doc.get("totals"), dict):
        raise MergeError(f"{path}: not a tailstat stats document (schema 1)")
    if "state" not in doc:
        raise MergeError(f"{path}: has no \"state\" section, so its sketches cannot be merged; save documents "
                         "with `tailstat scan --json --mergeable` (or the daemon's mergeable snapshot)")
    return doc


def merge_documents(docs: list[tuple[str, dict[str, Any]]], top: int = 10) -> dict[str, Any]:
    """The merged document of (name, document) pairs, in the stats document's shape with its state."""
    if not docs:
        raise MergeError("nothing to merge")
    first = docs[0][1]["state"]
    store = Store(int(first.get("topk_capacity", 10000)), int(first.get("event_minutes", 180)),
                  patterns_max=max([int(p.get("max_templates", 2000)) for p in first.get("patterns", {}).values()],
                                   default=2000))
    for name, doc in docs:
        try:
            store.merge_document(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise MergeError(f"{name}: its state section cannot be merged ({type(exc).__name__}: {exc})") from None
    out = store.snapshot(top=top, mergeable=True)
    for daemon_only in ("uptime", "checkpoint", "health"):
        out.pop(daemon_only, None)
    out["files"] = [{**f, "origin": f.get("origin", name)} for name, doc in docs for f in doc.get("files", [])]
    out["rates"] = {
        label: {k: sum(float(doc.get("rates", {}).get(label, {}).get(k, 0.0)) for _, doc in docs)
                for k in ("lines", "parse_errors", "bytes")}
        for label, _ in RATE_WINDOWS
    }
    out["merged_from"] = [
        {"name": name, "generated_at": doc.get("generated_at"), "lines": doc["totals"].get("lines", 0)}
        for name, doc in docs
    ]
    return out


def merge_files(paths: list[str], top: int = 10) -> dict[str, Any]:
    return merge_documents([(p, load_document(p)) for p in paths], top=top)


def main(paths: list[str], top: int = 10, as_table: bool = False) -> int:
    """`tailstat merge`: the merged document on stdout (exit 0), or one line on stderr (exit 1)."""
    try:
        doc = merge_files(paths, top=top)
    except MergeError as exc:
        print(f"tailstat: merge: {exc}", file=sys.stderr)
        return 1
    if as_table:
        print(table(doc, top))
    else:
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    return 0
