"""Aggregate stage: one store, one lock.

`merge()` folds a batch's Partial in and advances that file's committed offset in the same critical section,
so any snapshot or checkpoint counts exactly the bytes before its offsets. `snapshot()` and `export_state()`
return copies; nothing outside this module touches the lock.

What the store calls under its lock holds plain data or is a pure function, one module each: summaries.py (the
all-time summaries), holdback.py (a hot window slot's held-back counts), records.py (file records and per-path
counters), rates.py, patternids.py (template ids), statsdoc.py (the stats document's sections); storestate.py
reads a checkpoint or a mergeable document back, outside the lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

from tailstat.holdback import PENDING_VALUES, HoldBack
from tailstat.partial import Partial
from tailstat.patternids import PATTERN_DIM, display, pattern_list, renamed, template_counts
from tailstat.patterns import DEFAULT_MAX_TEMPLATES, PatternRegistry
from tailstat.rates import RATE_WINDOWS, Rates
from tailstat.records import FileRecords
from tailstat.statsdoc import (
    MERGEABLE_VERSION,
    UNREADABLE_SHOWN,
    field_docs,
    file_docs,
    measure_docs,
    mergeable_state,
    minute_docs,
    missing_fields,
    window_sections,
)
from tailstat.storestate import STATE_SCHEMA, document_sketches, read_state, totals_of
from tailstat.summaries import Summaries
from tailstat.window import WINDOWS, Ring

__all__ = ["PENDING_VALUES", "RATE_WINDOWS", "Store"]  # (PENDING_VALUES, RATE_WINDOWS: their old home)


class Store:
    """All aggregated statistics plus per-file committed offsets, behind one threading.Lock."""

    def __init__(self, topk_capacity: int = 10000, event_minutes: int = 180, ring: Ring | None = None,
                 patterns_max: int = DEFAULT_MAX_TEMPLATES) -> None:
        self._lock = threading.Lock()
        # the window slots (None: no windows, as in `scan` and `merge`); only touched under the lock
        self._ring = ring
        # Column values and sketches of batches counted in a hot window slot (holdback.py). Only touched under
        # the lock.
        self._held = HoldBack()
        if ring is not None:
            ring.before_seal = self._add_pending
        self.version = 0  # bumped by every change: idle daemons skip rewriting unchanged snapshots
        self._capacity = topk_capacity
        self._event_minutes = event_minutes
        self._totals = {"lines": 0, "bytes": 0, "parsed": 0, "parse_errors": 0}
        self._errors: Counter = Counter()
        self._skipped: Counter = Counter()
        self._dropped: dict[str, dict[str, int]] = {}
        self._sums = Summaries(topk_capacity, event_minutes, windows=ring is not None)  # under the lock
        self._records = FileRecords()
        self._tail: dict[str, Any] = {}  # the tailer's own state (retired files, last listing), checkpointed as is
        self._samples: deque[str] = deque(maxlen=5)
        self._rates = Rates()
        self._checkpoint: dict[str, Any] = {"ok": None, "error": None, "last_success": None, "failures": 0}
        self._health: dict[str, float] = {}
        self._unreadable: list[str] = []  # files that match but cannot be read (retried; see Tailer._unreadable)
        # `tailstat scan`: lines outside --since/--until, and the earliest and latest event time counted
        self._outside = 0
        self._first: float | None = None
        self._last: float | None = None
        self._patterns_max = patterns_max
        self._patterns: dict[str, PatternRegistry] = {}  # source -> its message templates
        # TAILSTAT_GROUP_BY names per source, and what the source's lines gave: a name none of them has is shown
        self._expected: dict[str, tuple[str, ...]] = {}
        self._seen_fields: dict[str, set[str]] = {}
        self._source_parsed: Counter = Counter()
        self._totals["events"] = 0
        self.started = time.time()

    # ------------------------------------------------------------------------------------------ merging
    def merge(self, partial: Partial, file_key: str | None = None, end_offset: int | None = None,
              commits: list[tuple[str, int, int, int, int]] | None = None, cut_bytes: int = 0,
              source: str | None = None) -> None:
        """Fold one batch's partial in and commit its file's offset, atomically. A grouped partial (several
        files' batches parsed in one call) passes `commits`: (key, end offset, lines, bytes, parse errors) each.
        `cut_bytes`: bytes cut off over-long lines of these batches (dropped.line_too_long), counted with them.
        `source`: whose templates the partial's message shapes join (default: the file record's source)."""
        now = time.time()
        with self._lock:
            self.version += 1  # anything a snapshot or checkpoint shows changed
            t = self._totals
            t["lines"] += partial.lines
            t["bytes"] += partial.bytes
            t["parsed"] += partial.parsed
            t["events"] += partial.events or partial.parsed
            parts = partial.pieces()
            src = "default"
            if self._expected or any(PATTERN_DIM in piece.dims for piece in parts):
                key = file_key if file_key is not None else (commits[0][0] if commits else None)
                rec = self._records.files.get(key) if key is not None else None
                src = source or (rec.get("source") if rec else None) or "default"
                if src in self._expected:
                    seen = self._seen_fields.setdefault(src, set())
                    for piece in parts:
                        seen.update(piece.dims)
                    self._source_parsed[src] += partial.parsed
            errors = partial.lines - partial.parsed
            t["parse_errors"] += errors
            self._errors.update(partial.errors)
            self._samples.extend(partial.samples)
            if cut_bytes:
                self._count_dropped("line_too_long", 0, cut_bytes, now)
            # A batch over several window slots holds its dimensions, measures and minutes in one part per slot.
            # Each piece's dimensions are translated once (the pattern hook: message shapes become template ids
            # of the source's registry), for the aggregate and the slot alike.
            pieces = [(piece, {name: self._translate(name, counts, src, now) for name, counts in piece.dims.items()})
                      for piece in parts]
            if self._ring is not None:
                pieces = self._hold_back(partial, pieces, now)
            for piece, dims in pieces:
                self._skipped.update(piece.skipped)
                self._sums.count(piece, dims, now)
            self._rates.add(now, partial.lines, errors, partial.bytes)
            if partial.first is not None:
                self._first = partial.first if self._first is None else min(self._first, partial.first)
                self._last = partial.last if self._last is None else max(self._last, partial.last)  # type: ignore
            self._outside += partial.outside
            if commits is None and file_key is not None:
                commits = [(file_key, end_offset, partial.lines, partial.bytes, errors)]
            if self._ring is not None:
                self._ring.add(partial, now, pieces)
                if commits:
                    self._ring.add_files(commits, now)
            self._records.commit(commits or ())

    def _hold_back(self, partial: Partial, pieces: list[tuple[Partial, dict[str, Any]]],
                   now: float) -> list[tuple[Partial, dict[str, Any]]]:
        """The pieces as they are left to count now, the rest held back (holdback.py). (under the lock)"""
        ring = self._ring
        assert ring is not None
        current = ring.advance(now)  # (seals what is due first: held counts are added before)
        out = self._held.hold(ring, current, partial, pieces)
        if self._held.over_bound():
            self._add_pending()
        return out

    def _add_pending(self) -> None:
        """The held-back counts and sketches into the all-time summaries and their slots. (under the lock; also
        called by the ring before it seals a hot slot)"""
        if not self._held.slots:
            return
        ring = self._ring
        assert ring is not None
        for held in self._held.take():
            for name, counts in held.dims.items():
                self._sums.count_dim(name, counts)
            for name, sketch in held.measures.items():
                self._sums.add_measure(name, sketch)
            ring.add_counts(held.slot, held.dims, held.measures)

    @property
    def _pending_values(self) -> int:  # (tests read it)
        return self._held.values

    @property
    def _minutes(self) -> dict[int, Counter]:  # (tests read it)
        return self._sums.minutes

    def _translate(self, name: str, counts: Any, source: str, now: float) -> Any:
        """The one place a dimension's counts of a merged partial are rewritten before they are counted, once
        per piece, for the all-time aggregate and its window slot alike: the pattern dimension's message
        shapes become the source's template ids (recording the templates' own counts). (under the lock)"""
        if name != PATTERN_DIM:
            return counts
        return template_counts(self._patterns, self._patterns_max, source, counts, now)

    def _display(self, name: str, value: str) -> str:
        """A dimension's value as the stats document shows it (patternids.display). (under the lock)"""
        return display(self._patterns, name, value)

    def expect_fields(self, source: str, fields: tuple[str, ...]) -> None:
        """The TAILSTAT_GROUP_BY names of a source: those that none of its parsed lines has are reported. A source
        without any is not recorded, so its merges skip the bookkeeping."""
        if not fields:
            return
        with self._lock:
            self._expected[source] = tuple(fields)

    def missing_fields(self) -> list[dict[str, Any]]:
        with self._lock:
            return missing_fields(self._expected, self._seen_fields, self._source_parsed)

    # -------------------------------------------------------------------------------------- file records
    def upsert_file(self, key: str, **fields: Any) -> None:
        """Create or update a file's record (path, identity, rotations, ...); counts and offset stay."""
        with self._lock:
            self.version += 1  # anything a snapshot or checkpoint shows changed
            self._records.upsert(key, fields)

    def set_file_size(self, key: str, size: int) -> bool:
        """The fast path of upsert_file for a read that changed nothing but the size; False if no record."""
        with self._lock:
            rec = self._records.files.get(key)
            if rec is None:
                return False
            if rec["size"] != size:
                self.version += 1  # anything a snapshot or checkpoint shows changed
                rec["size"] = size
            return True

    def bump_file(self, key: str, name: str, amount: int = 1) -> None:
        with self._lock:
            self.version += 1  # anything a snapshot or checkpoint shows changed
            self._records.bump(key, name, amount)

    def drop_file_when_committed(self, key: str, end: int) -> None:
        """Forget a retired file once everything queued for it (up to `end`) is merged; until then its
        record stays in checkpoints so a crash re-reads the in-flight bytes."""
        with self._lock:
            self.version += 1  # anything a snapshot or checkpoint shows changed
            self._records.drop_when_committed(key, end)

    def drop_file(self, key: str) -> None:
        with self._lock:
            self.version += 1  # anything a snapshot or checkpoint shows changed
            self._records.files.pop(key, None)

    def file_offset(self, key: str) -> int | None:
        with self._lock:
            rec = self._records.files.get(key)
            return None if rec is None else rec["offset"]

    def add_dropped(self, reason: str, lines: int = 0, nbytes: int = 0, tail: dict[str, Any] | None = None) -> None:
        """Count data that was lost (never parsed), by reason: nothing disappears without a counter. `tail`: the
        tailer's state that remembers it counted this (set_tail_state), set with it (one checkpoint holds both)."""
        with self._lock:
            self.version += 1  # anything a snapshot or checkpoint shows changed
            self._count_dropped(reason, lines, nbytes, time.time())
            if tail is not None:
                self._tail = tail

    def _count_dropped(self, reason: str, lines: int, nbytes: int, now: float | None = None) -> None:
        """(under the lock) `now`: also in the window slot of that time (None: all-time only)."""
        d = self._dropped.setdefault(reason, {"lines": 0, "bytes": 0})
        d["lines"] += lines
        d["bytes"] += nbytes
        if now is not None and self._ring is not None:
            self._ring.add_dropped(reason, lines, nbytes, now)

    def set_checkpoint_status(self, ok: bool, error: str | None = None) -> None:
        with self._lock:
            if self._checkpoint["ok"] != ok or self._checkpoint["error"] != error:
                self.version += 1
            c = self._checkpoint
            c["ok"] = ok
            c["error"] = error
            if ok:
                c["last_success"] = time.time()
            else:
                c["failures"] += 1

    def brief(self) -> dict[str, Any]:
        """A few numbers for the systemd STATUS= line: cheap however many files are tracked."""
        now = time.time()
        with self._lock:
            return {"files": len(self._records.files), "lines": self._totals["lines"],
                    "parse_errors": self._totals["parse_errors"],
                    "lines_per_s": self._rates.windows(now, self.started)["1m"]["lines"],
                    "checkpoint_ok": self._checkpoint["ok"]}

    def set_unreadable(self, paths: list[str]) -> None:
        with self._lock:
            if paths != self._unreadable:
                self.version += 1  # anything a snapshot or checkpoint shows changed
                self._unreadable = list(paths)

    def set_health(self, **values: float) -> None:
        with self._lock:
            self._health.update(values)

    # ---------------------------------------------------------------------------------------- reading
    def snapshot(self, top: int = 10, fields: tuple[str, ...] | None = None,
                 mergeable: bool = False, paths: bool = False, window: str = "all") -> dict[str, Any]:
        """The stats document (schema 1): a fresh, JSON-ready copy. With `mergeable`, a "state" section holds
        the full sketches, so that `tailstat merge` can combine documents (see merge.py). `window` (1m, 5m,
        15m, 1h, 24h; window.WINDOWS): totals, errors, dropped, per-file counts, fields, measures and minutes
        are those of that window (ValueError without a ring, or with `mergeable`)."""
        if window != "all":
            if window not in WINDOWS:
                raise ValueError(f"unknown window {window!r}")
            if self._ring is None:
                raise ValueError("windows are kept by the daemon only")
            if mergeable:
                raise ValueError("a mergeable document is cumulative (window=all)")
        now = time.time()
        with self._lock:
            self._add_pending()
            t = dict(self._totals)
            dropped = {k: dict(v) for k, v in self._dropped.items()}
            t["dropped_lines"] = sum(v["lines"] for v in dropped.values())
            t["dropped_bytes"] = sum(v["bytes"] for v in dropped.values())
            sums = self._sums
            doc = {
                "schema": 1,
                "generated_at": now,
                "uptime": now - self.started,
                "totals": t,
                "errors": dict(self._errors),
                "skipped_measures": dict(self._skipped),
                "dropped": dropped,
                "error_samples": list(self._samples),
                "files": file_docs(self._records.files.values()),
                "fields": field_docs(sums.topk, sums.distinct_of, top, fields, self._display),
                "measures": measure_docs(sums.measures, fields),
                "rates": self._rates.windows(now, self.started),
                "minutes": minute_docs(sums.minutes, self._event_minutes),
                "checkpoint": dict(self._checkpoint),
                "health": {**self._health, "unreadable_files": len(self._unreadable),
                           **({} if self._ring is None else {"window_slots": self._ring.slot_count()})},
                "unreadable": self._unreadable[:UNREADABLE_SHOWN],
                "window": window,
                "patterns": pattern_list(self._patterns) if fields is None or PATTERN_DIM in fields else [],
                "group_by_missing": missing_fields(self._expected, self._seen_fields, self._source_parsed),
            }
            if mergeable:
                doc["state"] = mergeable_state(sums, fields, self._patterns)
            if paths:  # cumulative per-path counters (pathcounters.py), for /metrics
                doc["paths"] = self._records.paths.snapshot()
            if window != "all":
                self._window_sections(doc, window, now, top, fields)
        return doc

    def _window_sections(self, doc: dict[str, Any], window: str, now: float, top: int,
                         fields: tuple[str, ...] | None) -> None:
        """Replace the document's cumulative sections by the window's (under the lock)."""
        ring = self._ring
        assert ring is not None
        merged = ring.merged(window, now)
        first = ring.advance(now) - WINDOWS[window] + 1
        window_sections(doc, merged, first * ring.slot_seconds, WINDOWS[window] * ring.slot_seconds, top, fields,
                        self._display)

    def series(self, window: str, step: str, fields: tuple[str, ...], top: int = 10) -> dict[str, Any]:
        """Per-step counts and percentiles over `window` (see series.py); ValueError without a ring."""
        from tailstat.series import series

        if self._ring is None:
            raise ValueError("windows are kept by the daemon only")
        now = time.time()
        with self._lock:
            self._add_pending()
            ring = self._ring
            current = ring.advance(now)
            return series(ring.slots_in(window, now), current - WINDOWS[window] + 1, current, ring.slot_seconds,
                          window, step, fields, top, self._display)

    def merge_document(self, doc: dict[str, Any]) -> None:
        """Fold in a mergeable stats document (another host's, or this one's earlier): totals, reasons and
        minutes from its plain sections, the rest from its "state". Raises KeyError/ValueError/TypeError on a
        document without a valid state section."""
        state = doc["state"]
        if state.get("version") != MERGEABLE_VERSION:
            raise ValueError(f"unknown state version {state.get('version')!r}")
        theirs = {str(src): PatternRegistry.from_dict(d) for src, d in state.get("patterns", {}).items()}
        fields = state["fields"]
        with self._lock:  # their template ids -> ours (equal or similar templates meet), before the sketches
            renames = {}
            for src, registry in theirs.items():
                mine = self._patterns.get(src)
                if mine is None:
                    mine = self._patterns[src] = PatternRegistry(self._patterns_max)
                renames.update({f"{src}#{a}": f"{src}#{b}" for a, b in mine.merge(registry).items()})
        if renames and PATTERN_DIM in fields:
            fields = {**fields, PATTERN_DIM: renamed(fields[PATTERN_DIM], renames)}
        sketches = document_sketches(doc, fields)
        totals = totals_of(doc["totals"], self._totals)
        with self._lock:
            self._add_pending()
            self.version += 1  # anything a snapshot or checkpoint shows changed
            for k, v in totals.items():
                self._totals[k] += v
            self._errors.update(doc.get("errors", {}))
            self._skipped.update(doc.get("skipped_measures", {}))
            for reason, d in doc.get("dropped", {}).items():
                self._count_dropped(reason, int(d.get("lines", 0)), int(d.get("bytes", 0)))
            self._samples.extend(doc.get("error_samples", []))
            self._sums.merge_sketches(sketches)

    def export_state(self) -> dict[str, Any]:
        """Everything needed to resume: aggregates, window slots and file records, from one critical section."""
        with self._lock:
            self._add_pending()
            if self._ring is not None:
                self._ring.advance(time.time())
            return {
                "schema": STATE_SCHEMA,
                "saved_at": time.time(),
                "totals": dict(self._totals),
                "errors": dict(self._errors),
                "skipped": dict(self._skipped),
                "dropped": {k: dict(v) for k, v in self._dropped.items()},
                **self._sums.to_state(),  # topk, distinct, measures, minutes
                "files": self._records.copies(),
                "paths": self._records.paths.to_list(),
                "tail": self._tail,  # replaced, never mutated, by set_tail_state
                "ring": None if self._ring is None else self._ring.to_dict(),
                "patterns": {src: r.to_dict() for src, r in self._patterns.items()},
            }

    def load_state(self, state: dict[str, Any], owned: bool = False) -> None:
        """Restore from export_state() output (`owned`: nothing else holds it, its records are taken as they
        are). Raises KeyError/ValueError/TypeError on a malformed state."""
        restored = read_state(state, self._ring, self._totals, self._patterns_max, owned)
        ring = restored.ring
        if ring is not None:
            ring.before_seal = self._add_pending
        with self._lock:
            self._add_pending()
            self.version += 1  # anything a snapshot or checkpoint shows changed
            self._totals = restored.totals
            self._errors = Counter(state["errors"])
            self._skipped = Counter(state.get("skipped", {}))
            self._dropped = {k: dict(v) for k, v in state["dropped"].items()}
            self._sums.restore(restored.sketches)
            self._records = FileRecords(restored.files, restored.paths)
            self._patterns = restored.patterns
            self._tail = dict(state.get("tail") or {})
            if ring is not None:
                self._ring = ring

    def set_tail_state(self, state: dict[str, Any], changed: bool = True) -> None:
        """The tailer's state beside its file records (a fresh dict: the store keeps it as given). Not
        `changed`: it rides along with the next checkpoint instead of causing one."""
        with self._lock:
            self._tail = state
            if changed:
                self.version += 1

    def tail_state(self) -> dict[str, Any]:
        with self._lock:
            return self._tail

    def field_names(self) -> list[str]:
        """The dimensions and measures counted so far."""
        with self._lock:
            self._add_pending()
            return [*self._sums.topk, *self._sums.measures]

    def event_span(self) -> tuple[float | None, float | None, int]:
        """(earliest, latest) event time of the lines counted, and the lines outside --since/--until (scan)."""
        with self._lock:
            return self._first, self._last, self._outside

    def files(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self._records.copies()

