"""Message templates: the store half of pattern mining (runs inside the Store, under its lock).

Workers send message *shapes* (parse.mask: variables already masked as `<*>`). A PatternRegistry per source
groups similar shapes into templates the way the Drain family of log parsers does: shapes are routed by token
count and their leading tokens to a short list of templates; the most similar template with at least
`similarity` of its tokens equal takes the shape, and every position where they differ becomes `<*>`. Otherwise
the shape starts a new template -- up to `max_templates`; past that it counts as `other`.

A shape seen before costs one dict lookup (the cache, bounded), so the tree is searched only for new shapes,
a few per batch once a log's vocabulary is known. Template ids are small integers, stable for the life of the
registry and across restarts (to_dict/from_dict are in the checkpoint), and the same in thread and process
mode: shapes reach the registry in the same order either way.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

WILDCARD = "<*>"
OTHER = 0  # the id of `other`: shapes that arrive once the registry is full
DEFAULT_MAX_TEMPLATES = 2000
DEFAULT_SIMILARITY = 0.7
PREFIX_TOKENS = 1  # leading tokens that route a shape (Drain uses depth - 2 = 2; one keeps variable second words together)
CACHE_SAVED = 4096  # shapes of the cache kept in a checkpoint
LEAF_MAX = 200  # templates compared per route at most; a fuller route starts no new template (-> other)


def _route_token(token: str) -> str:
    return WILDCARD if WILDCARD in token or any(c.isdigit() for c in token) else token


def _route(tokens: list[str]) -> tuple:
    return (len(tokens), *(_route_token(t) for t in tokens[:PREFIX_TOKENS]))


class _Template:
    __slots__ = ("count", "first_seen", "id", "tokens")

    def __init__(self, tid: int, tokens: list[str], first_seen: float, count: int = 0) -> None:
        self.id = tid
        self.tokens = tokens
        self.first_seen = first_seen
        self.count = count

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


class PatternRegistry:
    """Templates of one source. Not thread-safe by itself: the Store calls it under its lock."""

    def __init__(self, max_templates: int = DEFAULT_MAX_TEMPLATES, similarity: float = DEFAULT_SIMILARITY,
                 cache_size: int | None = None) -> None:
        self.max_templates = max_templates
        self.similarity = similarity
        self.cache_size = cache_size if cache_size is not None else max(1000, 8 * max_templates)
        self._templates: dict[int, _Template] = {}
        self._routes: dict[tuple, list[_Template]] = {}
        self._cache: dict[str, int] = {}
        self.other = 0  # events counted as `other`
        self.other_first_seen: float | None = None

    def __len__(self) -> int:
        return len(self._templates)

    # ------------------------------------------------------------------------------------------- assigning
    def assign(self, shape: str, now: float | None = None) -> int:
        """The template id of a shape (a new template if none is similar enough), OTHER when full."""
        tid = self._cache.get(shape)
        if tid is not None:
            return tid
        tid = self._search(shape, time.time() if now is None else now)
        if len(self._cache) >= self.cache_size:
            self._cache.clear()  # a flood of distinct shapes: start over rather than grow
        self._cache[shape] = tid
        return tid

    def count(self, shapes: Counter | dict, now: float | None = None, record: bool = True) -> Counter:
        """Counts of shapes -> counts of template ids (each template's own count follows, if `record`)."""
        now = time.time() if now is None else now
        if shapes and min(shapes.values()) <= 0:
            shapes = {shape: n for shape, n in shapes.items() if n > 0}
        ids = list(map(self._cache.get, shapes))  # a shape seen before: one C-level lookup, no tree search
        if None in ids:
            ids = [self.assign(shape, now) if tid is None else tid for shape, tid in zip(shapes, ids)]
        totals: dict[int, int] = {}
        get = totals.get
        for tid, n in zip(ids, shapes.values()):
            totals[tid] = get(tid, 0) + n
        out = Counter(totals)
        if not record:
            return out
        for tid, n in out.items():
            if tid == OTHER:
                self.other += n
                if self.other_first_seen is None:
                    self.other_first_seen = now
            else:
                self._templates[tid].count += n
        return out

    def _search(self, shape: str, now: float) -> int:
        tokens = shape.split(" ")
        leaf = self._routes.get(_route(tokens))
        if leaf is None:
            leaf = self._routes[_route(tokens)] = []
        best, best_sim, best_params = None, -1.0, -1
        n = len(tokens)
        for tpl in leaf:
            same = params = 0
            for a, b in zip(tpl.tokens, tokens):
                if a == b:
                    same += 1
                    if a == WILDCARD:
                        params += 1
                elif a == WILDCARD:
                    params += 1
            sim = same / n
            if sim > best_sim or (sim == best_sim and params > best_params):
                best, best_sim, best_params = tpl, sim, params
        if best is not None and best_sim >= self.similarity:
            merged = [a if a == b else WILDCARD for a, b in zip(best.tokens, tokens)]
            if merged != best.tokens:
                best.tokens = merged
            return best.id
        if len(self._templates) >= self.max_templates or len(leaf) >= LEAF_MAX:
            return OTHER
        tpl = _Template(len(self._templates) + 1, tokens, now)
        self._templates[tpl.id] = tpl
        leaf.append(tpl)
        return tpl.id

    # -------------------------------------------------------------------------------------------- reading
    def template(self, tid: int) -> str:
        if tid == OTHER:
            return "other"
        tpl = self._templates.get(tid)
        return tpl.text if tpl is not None else "other"

    def first_seen(self, tid: int) -> float | None:
        tpl = self._templates.get(tid)
        return tpl.first_seen if tpl is not None else self.other_first_seen

    def entries(self) -> list[dict[str, Any]]:
        """Every template with its count and first appearance, and `other` when anything went there."""
        out = [{"id": t.id, "template": t.text, "first_seen": t.first_seen, "count": t.count}
               for t in self._templates.values()]
        if self.other:
            out.append({"id": OTHER, "template": "other", "first_seen": self.other_first_seen,
                        "count": self.other})
        return out

    # ---------------------------------------------------------------------------------------- persistence
    def to_dict(self, cache: bool = True) -> dict[str, Any]:
        """Plain data for the checkpoint (with the shape cache, so shapes keep their template after a
        restart) or a mergeable document (without)."""
        return {
            "max_templates": self.max_templates,
            "similarity": self.similarity,
            "templates": [[t.id, t.text, t.first_seen, t.count] for t in self._templates.values()],
            # the newest shapes only: a checkpoint stays small; an older shape finds its template again
            "cache": [[s, tid] for s, tid in list(self._cache.items())[-CACHE_SAVED:]] if cache else [],
            "other": [self.other, self.other_first_seen],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], max_templates: int | None = None,
                  similarity: float | None = None) -> PatternRegistry:
        """A registry from to_dict(); `max_templates` (the current setting) may differ from the saved one: a
        lower limit keeps the templates already named and starts no new one until below it."""
        reg = cls(int(max_templates if max_templates is not None else d.get("max_templates",
                                                                              DEFAULT_MAX_TEMPLATES)),
                  float(similarity if similarity is not None else d.get("similarity", DEFAULT_SIMILARITY)))
        for tid, text, first_seen, count in d.get("templates", []):
            tpl = _Template(int(tid), str(text).split(" "), float(first_seen), int(count))
            reg._templates[tpl.id] = tpl
            reg._routes.setdefault(_route(tpl.tokens), []).append(tpl)
        for shape, tid in d.get("cache", [])[: reg.cache_size]:
            if int(tid) == OTHER or int(tid) in reg._templates:
                reg._cache[str(shape)] = int(tid)
        other = d.get("other") or [0, None]
        reg.other, reg.other_first_seen = int(other[0]), other[1]
        return reg

    def merge(self, other: PatternRegistry) -> dict[int, int]:
        """Fold another registry's templates in (tailstat merge); returns its id -> this registry's id.

        Each of its templates is assigned like a shape (so equal or similar templates meet); counts add up and
        the earlier first appearance is kept."""
        mapping: dict[int, int] = {}
        for t in sorted(other._templates.values(), key=lambda t: t.id):
            tid = self._search(t.text, t.first_seen)
            mapping[t.id] = tid
            if tid == OTHER:
                self.other += t.count
                self.other_first_seen = _earliest(self.other_first_seen, t.first_seen)
            else:
                mine = self._templates[tid]
                mine.count += t.count
                mine.first_seen = min(mine.first_seen, t.first_seen)
        if other.other:
            mapping[OTHER] = OTHER
            self.other += other.other
            self.other_first_seen = _earliest(self.other_first_seen, other.other_first_seen)
        return mapping


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)
