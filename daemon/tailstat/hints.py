"""Hints for a first look at the stats: files that are only waiting for new lines.

At the very first start with TAILSTAT_READ_FROM=end (the default), files that already exist are read from their
end: what they hold is skipped (the tailer records it as the file record's "skipped_at_start", in bytes) and
they show 0 lines until something is appended. `stats` and `top` say so instead of leaving the operator to
wonder why everything is zero.
"""

from __future__ import annotations

from typing import Any

MARK = "*"  # after the format in the stats table's file rows


def waiting(f: dict[str, Any]) -> bool:
    """True for a file whose existing content was skipped at the first start and that has had no line since."""
    return int(f.get("skipped_at_start", 0) or 0) > 0 and not f.get("lines")


def waiting_hint(doc: dict[str, Any], short: bool = False) -> str | None:
    """The line saying which files wait and why (`short`: one that fits `top`'s 80 columns), or None."""
    files = [f for f in doc.get("files", []) if waiting(f)]
    if not files:
        return None
    skipped = sum(int(f["skipped_at_start"]) for f in files)
    which = "1 file waits" if len(files) == 1 else f"{len(files)} files wait"
    if short:
        return f"{which} for new lines (TAILSTAT_READ_FROM=beginning counts what is there)"
    return (f"{MARK} {which} for new lines: the {skipped:,} bytes already there were skipped at the first "
            "start (TAILSTAT_READ_FROM=end); TAILSTAT_READ_FROM=beginning at a first start counts them")


def note(f: dict[str, Any]) -> str:
    return MARK if waiting(f) else ""


def window_hint(doc: dict[str, Any], switch: str, short: bool = False) -> str | None:
    """For a window's document: the line saying that lines were read but their own timestamps put them before
    the window (windows count event time: a backlog of old logs shows only in `all`), or None. `switch` says how
    to see them (e.g. "press 6 for all"); `short`: a line that fits `top`'s 80 columns."""
    window = doc.get("window", "all")
    if window == "all":
        return None
    timed = doc["totals"]["lines"]
    # Per-file counts are by reading time; a line's window slot is never later than its reading, so the lines
    # read in the window minus those timed in it are the ones timed before it.
    read = sum(f.get("lines", 0) for f in doc.get("files", []))
    older = read - timed
    every = int(doc.get("all_lines", 0) or 0)
    if timed == 0 and every > 0:
        if short:
            return f"none of {every:,} lines read is in the last {window} (older timestamps): {switch}"
        return (f"none of the {every:,} lines read is timed in the last {window} (their own timestamps are "
                f"older): {switch}")
    if older > 0:
        if short:
            return f"{older:,} of {read:,} lines read in {window} have older timestamps: {switch}"
        return (f"{older:,} of the {read:,} lines read in the last {window} are timed before it (their own "
                f"timestamps are older): {switch}")
    return None
