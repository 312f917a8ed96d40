"""Which source a file belongs to when several sources' globs match it: the most specific glob wins.

Specificity, compared in order: fewer wildcards (`*`, `?`, `[...]`), then a longer literal prefix (the part
before the first wildcard), then more literal characters in all; a tie goes to the source named first
(TAILSTAT_PATHS, then TAILSTAT_SOURCES in order). So a leftover catch-all `TAILSTAT_PATHS=/logs/*` does not take
`/logs/app.json` from a source with `/logs/*.json` or `/logs/app.*`. Pure functions; `tailstat config` and the
tailer use the same ones.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import os
import re
import stat
from collections.abc import Sequence
from typing import Any

_WILDCARD = re.compile(r"\[[^\]]*\]|[*?]")


@functools.cache  # the configured globs: a handful, asked about for every file
def specificity(pattern: str) -> tuple[int, int, int]:
    """Larger is more specific: (-wildcards, literal prefix length, literal characters)."""
    wildcards = _WILDCARD.findall(pattern)
    first = _WILDCARD.search(pattern)
    prefix = first.start() if first else len(pattern)
    literal = len(_WILDCARD.sub("", pattern))
    return -len(wildcards), prefix, literal


@functools.cache
def name_matcher(pattern: str) -> Any:
    """fnmatch.fnmatchcase's compiled pattern for one path component (a file name), without its cache lookup."""
    return re.compile(fnmatch.translate(pattern)).match


@functools.cache
def matcher(pattern: str) -> Any:
    """Matches a path as glob.glob does (a wildcard never matches "/": `/logs/*.log*` is not
    `/logs/old/app.log.1`, logrotate's olddir): fnmatch.fnmatchcase per path component, compiled once."""
    parts = [name_matcher(part) for part in pattern.split("/")]

    def match(path: str) -> bool | None:
        names = path.split("/")
        return True if len(names) == len(parts) and all(m(n) for m, n in zip(parts, names)) else None

    return match


def matches(path: str, sources: Sequence[Any]) -> list[tuple[Any, str]]:
    """(source, its most specific glob matching `path`) for every source that matches, best first."""
    found = []
    for index, src in enumerate(sources):
        hits = [g for g in src.globs if matcher(g)(path) is not None]
        if hits:
            best = max(hits, key=specificity) if len(hits) > 1 else hits[0]
            found.append((specificity(best), -index, src, best))
    if len(found) > 1:
        found.sort(key=lambda x: (x[0], x[1]), reverse=True)
    return [(src, g) for _, _, src, g in found]


def pick(path: str, sources: Sequence[Any]) -> Any | None:
    """The source `path` belongs to, or None."""
    found = matches(path, sources)
    return found[0][0] if found else None


def source_for(path: str, sources: Sequence[Any], reported: set[str], log: Any) -> Any | None:
    """The tailer's choice for `path`: `pick`, and a path several sources match logged once
    (file_in_several_sources, with the glob used; `reported` remembers the paths already logged)."""
    found = matches(path, sources)
    if len(found) > 1 and path not in reported:
        reported.add(path)
        log.warning("file_in_several_sources", path=path, used=found[0][0].name, glob=found[0][1],
                    ignored=",".join(src.name for src, _ in found[1:]))
    return found[0][0] if found else None


def current_files(sources: Sequence[Any], skip: Any = None) -> list[str]:
    """Regular files the sources' globs match now, sorted (names `skip(path)` refuses left out)."""
    paths = set()
    for src in sources:
        for pattern in src.globs:
            for path in glob.glob(pattern):
                if skip is not None and skip(path):
                    continue
                try:
                    if stat.S_ISREG(os.stat(path).st_mode):
                        paths.add(path)
                except OSError:
                    continue
    return sorted(paths)


def missing_directories(sources: Sequence[Any]) -> list[tuple[str, str, str]]:
    """(source name, glob, directory) for each glob whose directory does not exist now: nothing matches it
    until that directory appears (the rescan then watches it). `run` logs them, `config` notes them."""
    out = []
    for src in sources:
        for pattern in src.globs:
            directory = os.path.dirname(pattern)
            if not any(os.path.isdir(d) for d in glob.glob(directory)):
                out.append((src.name, pattern, directory))
    return out


FILES_SHOWN = 200


def _compressed_name() -> Any:
    """The tailer's own test of compressed names (tail.py, or the tail package's identity module); imported
    late: the tailer imports this module."""
    try:
        from tailstat.tail.identity import is_compressed_name
    except ImportError:
        from tailstat.tail import is_compressed_name  # type: ignore[attr-defined,no-redef]
    return is_compressed_name


def describe_files(sources: Sequence[Any], skip: Any = None, limit: int = FILES_SHOWN) -> list[str]:
    """`tailstat config`'s comment lines: each file matching now (not a compressed name, which the daemon never
    tails) and the source it belongs to."""
    paths = current_files(sources, skip or _compressed_name())
    if not paths:
        return []  # nothing to show (and the output stays plain NAME=value lines)
    out = ["# files matching now -> their source (the most specific glob wins; ties go to the first named):"]
    for path in paths[:limit]:
        found = matches(path, sources)
        line = f"# {path} -> {found[0][0].name} ({found[0][1]})"
        if len(found) > 1:
            line += "; also matched by " + ", ".join(f"{src.name} ({g})" for src, g in found[1:])
        out.append(line)
    if len(paths) > limit:
        out.append(f"# ... and {len(paths) - limit:,} more")
    return out
