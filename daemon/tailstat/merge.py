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

Identity: a mergeable document carries "identity" (host, sources, files by path and device/inode/fingerprint,
the event-time range in minutes, its totals, and an "id" hashed from them; see `identity`), and a merged one
lists its inputs' identities in "merged_from" (flattened: a merge of merges lists the original documents). So
`merge` skips an input it already has -- the same document twice, or `fleet.json` that already contains `b.json`
-- and refuses inputs that overlap without being the same (the same host's file over overlapping minutes in
two different documents: merging them would count those lines twice).
"""

from __future__ import annotations

import hashlib
import socket
import sys
from pathlib import Path
from typing import Any

import orjson

from tailstat.aggregate import RATE_WINDOWS, Store
from tailstat.render import table

EXIT_SKIPPED = 3  # merged, but some inputs were skipped as already merged (named on stderr)


class MergeError(Exception):
    """An input cannot be merged; str(self) is the one line shown to the user."""


def _file_token(f: dict[str, Any]) -> str | None:
    """A file as identity names it; None for one without an identity (standard input, a pipe)."""
    ident = f.get("identity") or {}
    if not ident.get("inode") and not ident.get("fingerprint"):
        return None
    return f"{f['path']}@{ident.get('dev', 0)}:{ident.get('inode', 0)}:{ident.get('fingerprint', '')}"


def make_identity(doc: dict[str, Any], host: str | None = None) -> dict[str, Any]:
    """Who and what a (not merged) stats document counted: host, sources, files, event-time range, totals."""
    minutes = [int(b["minute"]) for b in doc.get("minutes", [])]
    files = doc.get("files", [])
    ident: dict[str, Any] = {
        "host": host if host is not None else str((doc.get("identity") or {}).get("host", "")),
        "sources": sorted({str(f.get("source") or f.get("format") or "") for f in files}),
        "files": sorted(t for t in map(_file_token, files) if t),
        "first_minute": min(minutes) if minutes else None,
        "last_minute": max(minutes) if minutes else None,
        "totals": {k: doc.get("totals", {}).get(k, 0) for k in ("lines", "bytes", "parse_errors")},
        "generated_at": doc.get("generated_at"),
        # what the id is made of beyond the above: the content, so that two streams with no file identity
        # (two `scan -` of different data) are still told apart
        "content": hashlib.blake2b(orjson.dumps([doc.get("fields"), doc.get("files")], option=orjson.OPT_SORT_KEYS),
                                   digest_size=8).hexdigest(),
    }
    ident["id"] = hashlib.blake2b(orjson.dumps(ident, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
    return ident


def stamp(doc: dict[str, Any]) -> dict[str, Any]:
    """Give a mergeable document made on this host (scan --mergeable, GET /stats?mergeable=1) its identity."""
    doc["identity"] = make_identity(doc, socket.gethostname())
    return doc


def leaves(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The identities of the original documents an input holds: its merged_from's, or its own."""
    merged = doc.get("merged_from")
    if isinstance(merged, list) and merged and all(isinstance(m, dict) and "identity" in m for m in merged):
        return [m["identity"] for m in merged]
    return [doc["identity"] if isinstance(doc.get("identity"), dict) and doc["identity"].get("id")
            else make_identity(doc)]


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Files two different documents of one host both counted over overlapping minutes ([] if none)."""
    if a.get("host") != b.get("host"):
        return []
    # the same file whatever path it was read under (relative in a scan, absolute in the daemon, renamed by
    # rotation): compared by device, inode and fingerprint, named as `a` names it
    theirs = {token.rsplit("@", 1)[-1] for token in b.get("files", ())}
    common = sorted(token for token in a.get("files", ()) if token.rsplit("@", 1)[-1] in theirs)
    if not common:
        return []
    if None not in (a.get("first_minute"), b.get("first_minute")) and (
            a["last_minute"] < b["first_minute"] or b["last_minute"] < a["first_minute"]):
        return []
    return common


def select_inputs(docs: list[tuple[str, dict[str, Any]]]) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The inputs to merge and a message for each one skipped as already merged (an input that another one
    holds entirely, before or after it). Raises MergeError for inputs that overlap without one holding the
    other: some documents in common, or one host's file counted over overlapping minutes in both."""
    kept: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []  # (name, document, its leaves)
    skipped: list[str] = []
    for name, doc in docs:
        mine = leaves(doc)
        ids = {leaf["id"] for leaf in mine}
        holders = [k for k in kept if ids & {leaf["id"] for leaf in k[2]}]
        whole = next(((n, d) for n, d, ls in holders if ids <= {leaf["id"] for leaf in ls}), None)
        if whole is not None:
            holder, held_by = whole
            same = not doc.get("merged_from") and not held_by.get("merged_from")
            how = "the same document as" if same else "already contained, per its merged_from, in"
            skipped.append(f"{name}: skipped: already merged ({how} {holder})")
            continue
        for n, _, ls in holders:
            if not {leaf["id"] for leaf in ls} <= ids:
                raise MergeError(f"{name}: holds some documents that {n} holds too, but not all; merge the "
                                 "original documents instead")
        for n, _, _ in holders:  # earlier inputs this one holds entirely: it replaces them
            skipped.append(f"{n}: skipped: already merged (already contained, per its merged_from, in {name})")
        kept = [k for k in kept if all(k is not h for h in holders)]
        for leaf in mine:
            for other_name, _, others in kept:
                for other in others:
                    common = _overlap(leaf, other)
                    if common:
                        raise MergeError(f"{name}: overlaps {other_name}: both counted {common[0]} on host "
                                         f"{leaf.get('host') or '(unknown)'} over overlapping minutes (two saves "
                                         "of the same logs?); merging would count those lines twice")
        kept.append((name, doc, mine))
    return [(n, d) for n, d, _ in kept], skipped


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
        {"name": m.get("name", name), "generated_at": m.get("generated_at"), "lines": m.get("lines", 0),
         "identity": m["identity"]}
        for name, doc in docs for m in _merged_entries(name, doc)
    ]
    ids = [m["identity"]["id"] for m in out["merged_from"]]
    out["identity"] = {"merged": ids, "id": hashlib.blake2b(orjson.dumps(ids), digest_size=8).hexdigest()}
    return out


def _merged_entries(name: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    merged = doc.get("merged_from")
    if isinstance(merged, list) and merged and all(isinstance(m, dict) and "identity" in m for m in merged):
        return merged
    return [{"name": name, "generated_at": doc.get("generated_at"), "lines": doc["totals"].get("lines", 0),
             "identity": leaves(doc)[0]}]


def merge_files(paths: list[str], top: int = 10) -> tuple[dict[str, Any], list[str]]:
    """The merged document of the files, and a message for each input skipped as already merged."""
    docs, skipped = select_inputs([(p, load_document(p)) for p in paths])
    return merge_documents(docs, top=top), skipped


def main(paths: list[str], top: int = 10, as_table: bool = False) -> int:
    """`tailstat merge`: the merged document on stdout (exit 0; 3 when inputs already merged were skipped,
    each named on stderr), or one line on stderr and nothing merged (exit 1)."""
    try:
        doc, skipped = merge_files(paths, top=top)
    except MergeError as exc:
        print(f"tailstat: merge: {exc}", file=sys.stderr)
        return 1
    for message in skipped:
        print(f"tailstat: merge: {message}", file=sys.stderr)
    if as_table:
        print(table(doc, top))
    else:
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    return EXIT_SKIPPED if skipped else 0
