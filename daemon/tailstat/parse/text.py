"""The `text` format: any line-oriented log, the net under the formats `auto` knows.

Per file, the *layout* of its header is learned from its first lines (`learn_layout`): where a timestamp is and
which of the shapes in TIMESTAMPS it has, how many tokens (pid, thread, host, ...) sit between it and the level,
how the level is written, and whether a logger/component follows. The layout becomes one compiled regex, run
with one `findall` per batch; every line gives one row, so no line is lost:

    2026-12-01 10:00:00,123 INFO [main] com.example.Foo: started       log4j / logback
    2026-12-01 10:00:00,123 - app.db - ERROR - failed                    Python logging
    081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 ...   HDFS
    03-17 16:13:38.811  1702  2395 D WindowManager: ...                  Android logcat
    2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack   Windows CBS
    [Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6   Apache error log
    - 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 ... RAS KERNEL INFO ...   BlueGene/L

Fields: `level` (canonical: critical, error, warn, info, debug, trace), `level_raw` (the spelling in the log),
`logger`, `pid`, `thread`, `pattern` (the message's masked shape; the store turns it into a template id) and
`message`. Event time feeds the minutes.

Multiline events (`multiline=True`): a line without the file's header (no timestamp where the layout has one;
no level where the layout has only a level) or a continuation line (indented, `Caused by:`, `... 12 more`,
`Traceback (most recent call last):`) belongs to the event before it. Counts, levels and patterns are per event;
`Partial.events` counts them beside the physical lines. A batch that starts with continuation lines (its event
began in an earlier batch the reader did not hold back) counts them as one event without header.
"""

from __future__ import annotations

import calendar
import math
import re
import time
from collections import Counter
from dataclasses import replace
from functools import lru_cache
from itertools import accumulate, compress
from operator import itemgetter
from typing import TYPE_CHECKING

from tailstat.eventtime import nothing_parsed, split_slots
from tailstat.parse.fastregex import branch_optionals
from tailstat.parse.mask import mask_messages
from tailstat.parse.syslog import bsd_minute
from tailstat.parse.timestamps import clf_minute, iso_minute
from tailstat.partial import Column, Partial

if TYPE_CHECKING:
    from tailstat.parse.spec import ParserSpec

TEXT_FIELDS = ("level", "level_raw", "logger", "pid", "thread", "pattern", "message")
LEVELS = ("critical", "error", "warn", "info", "debug", "trace")

# raw spelling (lower case) -> canonical level
_CANONICAL = {
    "fatal": "critical", "critical": "critical", "crit": "critical", "emerg": "critical",
    "emergency": "critical", "alert": "critical", "panic": "critical", "severe": "error",
    "error": "error", "err": "error", "failure": "error", "warn": "warn", "warning": "warn",
    "notice": "info", "info": "info", "information": "info", "informational": "info",
    "debug": "debug", "dbg": "debug", "fine": "debug", "config": "debug", "trace": "trace", "finer": "trace",
    "finest": "trace", "verbose": "trace",
}  # fmt: skip
# logcat / glog single letters
_LETTERS = {"F": "critical", "A": "critical", "E": "error", "W": "warn", "I": "info", "D": "debug",
            "V": "trace"}
_WORDS = sorted({w for k in _CANONICAL for w in (k, k.upper(), k.capitalize())}, key=len, reverse=True)
_WORD_RE = "|".join(_WORDS)

_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# name -> regex of the timestamp text (no groups). Most specific first: a tie keeps the earlier one.
TIMESTAMPS: dict[str, str] = {
    # (possessive where giving a character back cannot lead to a match -- a timestamp is followed by `]`, `,|:`
    # or a blank, see ts_prefix -- so sre keeps no way back to try)
    "iso": r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d{1,9}+)?)?(?: ?+(?:Z|[+-]\d\d:?+\d\d)(?![\d:]))?",
    "slash": r"\d{4}/\d\d/\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?",
    "ctime": rf"{_DAY} {_MON} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{{1,9}})? \d{{4}}",
    "clf": r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d{4})?",
    "bsd": rf"{_MON}  ?\d{{1,2}} \d\d:\d\d:\d\d(?:\.\d{{1,6}})?",
    "yymmdd": r"\d{6} \d{6}",
    "yy_slash": r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d",
    "ymd8": r"\d{8}[- ]\d\d:?\d\d:?\d\d(?:[:.,]\d{1,6})?",
    "mmdd": r"\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?",
    "mmdd_dot": r"\d\d\.\d\d \d\d:\d\d:\d\d",
    "epoch": r"1\d{9}(?:\.\d{1,6})?",
}
MAX_LEAD = 2  # tokens before the timestamp a layout may skip (BlueGene/L's "- ")
MAX_SKIP = 7  # tokens between the timestamp and the level a layout may skip
_BLANK_LINE = re.compile(r"\n[ \t\f\v]+\n")  # a whitespace-only line (an empty one gives an empty message)
_BLANK_FIRST = re.compile(r"[ \t\f\v]+\n")
CONTINUATION = re.compile(r"[ \t]|Caused by:|\.\.\. \d+ (?:more|common frames omitted)|Traceback \(most recent")


def _canonical(raw: str) -> str:
    """A level word (any case) -> its canonical name; "" for a word that is no level."""
    return _CANONICAL.get(raw.lower(), "")


def _canonical_letter(raw: str) -> str:
    return _LETTERS.get(raw, "")


# ---------------------------------------------------------------------------------------------- learning
_TOKEN = re.compile(r"\S+")
_LEVEL_TOKEN = re.compile(rf"^[\[<(]?(?:\w+:)?({_WORD_RE})[\]>)]?[:,]?$")
_LETTER_TOKEN = re.compile(r"^([FAEWIDV])$")
_DIGITS = re.compile(r"^\d+$")
_BRACKET = re.compile(r"^\[[^\]]*\]$")


def ts_prefix(kind: str, lead: int) -> str:
    # `[`, `]` and `,|:` are possessive: no timestamp starts with `[`, and none of `],|:` is a blank
    skipped = rf"(?:\S+[ \t]+){{{lead}}}" if lead else ""
    return rf"(?:<\d{{1,3}}>)?{skipped}\[?+(?P<ts>{TIMESTAMPS[kind]})\]?+[,|:]?+(?:[ \t]++|$)"


@lru_cache(maxsize=64)
def _ts_probe(kind: str, lead: int) -> re.Pattern:
    return re.compile(ts_prefix(kind, lead))


def learn_layout(head: bytes) -> str:
    """The layout of a file from its first complete lines: `ts=KIND/LEAD,skip=SLOTS,level=STYLE,logger=MODE`.

    Always succeeds (a file without any header gives `ts=-,skip=,level=-,logger=-`: one event per line)."""
    lines = [ln for ln in head.decode("utf-8", "replace").split("\n")[:-1] if ln.strip()][:40]
    lines = [ln for ln in lines if not CONTINUATION.match(ln)] or lines
    best, best_n = None, 0
    for kind in TIMESTAMPS:
        for lead in range(MAX_LEAD + 1):
            probe = _ts_probe(kind, lead)
            n = sum(1 for ln in lines if probe.match(ln))
            if n > best_n:
                best, best_n = (kind, lead), n
    rests: list[str] = []
    ts = "-"
    if best is not None and best_n * 2 >= len(lines):
        kind, lead = best
        ts = f"{kind}/{lead}"
        probe = _ts_probe(kind, lead)
        for ln in lines:
            m = probe.match(ln)
            if m:
                rests.append(ln[m.end():])
    else:
        rests = lines
    # the level: the same token position in most lines
    positions: Counter = Counter()
    letters: Counter = Counter()
    for rest in rests:
        tokens = _TOKEN.findall(rest)[:MAX_SKIP + 1]
        for i, tok in enumerate(tokens):
            if _LEVEL_TOKEN.match(tok):
                positions[i] += 1
                break
        else:
            for i, tok in enumerate(tokens[:4]):
                if _LETTER_TOKEN.match(tok):
                    letters[i] += 1
                    break
    level, skip = "-", 0
    if positions and positions.most_common(1)[0][1] * 2 >= len(rests):
        skip, level = positions.most_common(1)[0][0], "word"
    elif letters and letters.most_common(1)[0][1] * 2 >= len(rests):
        skip, level = letters.most_common(1)[0][0], "letter"
    slots = ""
    logger = "-"
    if level != "-":
        slots = "".join(_slot(rests, i) for i in range(skip))
        logger = _logger_mode(rests, skip)
        if logger == "-" and level == "word":
            # `name - LEVEL - msg` (Python logging), `COMPONENT LEVEL msg` (BlueGene/L): the word before the
            # level names the logger
            j = skip - 2 if slots.endswith("-") else skip - 1
            if j >= 0 and slots[j] == "x" and _named_slot(rests, j):
                slots = slots[:j] + "l" + slots[j + 1:]
    elif ts == "-":
        return "ts=-,skip=,level=-,logger=-"
    return f"ts={ts},skip={slots},level={level},logger={logger}"


def _slot(rests: list[str], i: int) -> str:
    """What the i-th token before the level is in most lines: d (digits: pid, then thread), b ([thread]),
    - (a dash), x (anything else)."""
    kinds: Counter = Counter()
    for rest in rests:
        tokens = _TOKEN.findall(rest)
        tok = tokens[i] if i < len(tokens) else ""
        kinds["d" if _DIGITS.match(tok) else "b" if _BRACKET.match(tok) else "-" if tok == "-" else "x"] += 1
    return kinds.most_common(1)[0][0]


_NAME = re.compile(r"^[A-Za-z_][\w.$-]*$")


def _named_slot(rests: list[str], i: int) -> bool:
    """Whether the i-th token looks like a logger/component name in most lines."""
    named = 0
    for rest in rests:
        tokens = _TOKEN.findall(rest)
        named += i < len(tokens) and bool(_NAME.match(tokens[i]))
    return named * 2 > len(rests)


_AFTER_LEVEL = {
    # mode -> regex over the text after the level token
    "bc": re.compile(r"^(?:[ \t]*-)?[ \t]*\[[^\]]*\][ \t]+[^\s\[\]]+:(?:[ \t]|$)"),  # [thread] logger:
    "bd": re.compile(r"^[ \t]*\[[^\]]*\][ \t]+\S+[ \t]+-[ \t]"),  # [thread] logger - msg
    "c": re.compile(r"^(?:[ \t]*-)?[ \t]*[^\s\[\]:]+(?:\[\d+\])?:(?:[ \t]|$)"),  # logger: / name[pid]:
    "d": re.compile(r"^[ \t]*\S+[ \t]+-[ \t]"),  # logger - msg
    "s": re.compile(r"^[ \t]*[A-Za-z][\w.$-]*[ \t]{2,}\S"),  # Component   msg (columns)
}


def _logger_mode(rests: list[str], skip: int) -> str:
    after = []
    for rest in rests:
        tokens = list(_TOKEN.finditer(rest))
        if len(tokens) > skip:
            after.append(rest[tokens[skip].end():])
    for mode, probe in _AFTER_LEVEL.items():
        if after and sum(1 for a in after if probe.match(a)) * 2 > len(after):
            return mode
    return "-"


_LOGGER_PIECES = {
    # greedy logger (a lazy one tries the rest at every character): it cannot hold a blank, so the colon that
    # ends it before a blank is the same one either way. Blanks are possessive where what follows cannot be one.
    "bc": r"[ \t]*+(?:-[ \t]*+)?\[(?P<thread2>[^\]]*)\][ \t]++(?P<logger>[^\s\[\]]+)(?:\[(?P<pid2>\d+)\])?:(?:[ \t]++|$)",
    "bd": r"[ \t]*\[(?P<thread2>[^\]]*)\][ \t]+(?P<logger>\S+)[ \t]+-(?:[ \t]++|$)",
    "c": r"[ \t]*+(?:-[ \t]*+)?(?P<logger>[^\s\[\]:]+)(?:\[(?P<pid2>\d+)\])?:(?:[ \t]++|$)",
    "d": r"[ \t]*(?P<logger>\S+)[ \t]+-(?:[ \t]++|$)",
    "s": r"[ \t]*(?P<logger>[A-Za-z][\w.$-]*)[ \t]{2,}",
    "-": r"(?:[ \t]*[-:|])?[ \t]*",
}


def layout_parts(layout: str) -> tuple[str, str]:
    """The regex sources of a layout's timestamp prefix and of what follows it up to the message (level,
    logger, ...); either may be empty."""
    parts = dict(p.split("=", 1) for p in layout.split(","))
    ts, slots, level, logger = parts.get("ts", "-"), parts.get("skip", ""), parts.get("level", "-"), \
        parts.get("logger", "-")
    head = ""
    if ts != "-":
        kind, lead = ts.split("/")
        head = ts_prefix(kind, int(lead))
    body = ""
    if level != "-":
        digits = 0
        for slot in slots:
            if slot == "d":
                body += rf"(?P<{'pid' if digits == 0 else 'thread'}>\d+)[ \t]+" if digits < 2 else r"\d+[ \t]+"
                digits += 1
            elif slot == "b" and "thread" not in body:
                body += r"\[(?P<thread>[^\]]*)\][ \t]+"
            elif slot == "l":
                body += r"(?P<logger>\S+)[ \t]+"
            else:
                body += r"\S+[ \t]+"
        if level == "letter":
            body += r"(?P<level>[FAEWIDV])(?:[ \t]+|/)"
        else:
            # any word where the level sits (one short class, not 70 alternatives: sre tries those one by one);
            # parse_text keeps only the words that are levels. Possessive: neither run can end earlier, nor
            # can a bracket or colon be skipped, and still match, so sre must not try it. The `prefix:` of
            # `<main:INFO>` is tried after none: at most one of the two can match (a level word followed by
            # what may follow it is no `prefix:`), and the common case then skips a scan.
            body += r"[\[<(]?+(?:|\w++:)(?P<level>[A-Za-z]++)[\]>)]?+[:,]?+(?![^ \t\n])"
        body += _LOGGER_PIECES["-" if "l" in slots else logger]
    return head, body


_ALWAYS = frozenset(("ts", "level", "msg"))
_GROUPS_OF = {"logger": ("logger",), "pid": ("pid", "pid2"), "thread": ("thread", "thread2")}


@lru_cache(maxsize=256)
def layout_pattern(layout: str, fields: frozenset[str] | None = None) -> re.Pattern:
    """The compiled regex of a layout, matching each complete line (with its newline): groups ts, level, msg,
    and those of `fields` (logger, pid, thread; all when None) -- fewer groups, fewer strings per line."""
    head, body = layout_parts(layout)
    if head and body:
        core = rf"{head}(?:{body})?"
    else:
        core = head or body
    keep = set(_ALWAYS)
    for name in fields if fields is not None else _GROUPS_OF:
        keep.update(_GROUPS_OF.get(name, ()))
    core = re.sub(r"\(\?P<(\w+)>", lambda m: m.group(0) if m.group(1) in keep else "(?:", core)
    for name in sorted(keep - {"msg"}):  # every pattern has the groups it keeps, so rows have one shape
        if f"(?P<{name}>" not in core:
            core += f"(?P<{name}>)"
    # to the line's end, possessive (a lazy group would try the end at every character, a greedy one keeps
    # what it could give back); parse_text drops CRs first
    return re.compile(branch_optionals(rf"^(?:{core})?(?P<msg>[^\n]*+)\n"), re.MULTILINE)


def line_columns(pattern: re.Pattern, text: str) -> list[list[str]]:
    """The groups of `pattern` (layout_pattern) over the complete lines of `text`, as one column per group,
    "" where a group did not take part. `split` gives them as one flat list (its pieces between the matches
    are all empty: the lines follow each other) where `findall` makes a tuple per line; a column is then one
    slice of that list."""
    flat = pattern.split(text)
    step = pattern.groups + 1
    cols = [flat[i::step] for i in range(1, step)]
    for i, col in enumerate(cols):
        if not all(col):  # (a truth test per value: cheaper than comparing with None) a line without the
            cols[i] = [v or "" for v in col]  # group's part of the header (a continuation, another shape)
    return cols


# ------------------------------------------------------------------------------------------------- parsing
def parse_text(spec: ParserSpec, data: bytes) -> Partial:
    layout = spec.layout or learn_layout(data[:65536])
    pattern = layout_pattern(layout, frozenset(spec.dimensions) & frozenset(_GROUPS_OF))
    text = data.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    cols = line_columns(pattern, text)  # a last line without its newline is not a line yet
    nrows = len(cols[0])
    partial = Partial(lines=nrows, bytes=len(data))
    if not nrows:
        return nothing_parsed(partial, spec)
    idx = {name: i - 1 for name, i in pattern.groupindex.items()}
    ts_col, level_col, msg_col = cols[idx["ts"]], cols[idx["level"]], cols[idx["msg"]]
    has_ts = "ts=-" not in layout
    header = ts_col if has_ts else level_col
    # a blank line has no header: a batch whose lines all have one needs no look for blanks
    gaps = not all(header)
    maybe_blank = gaps and (not all(msg_col) or _BLANK_LINE.search(text) or _BLANK_FIRST.match(text))
    blank = [not m.strip() for m in msg_col] if maybe_blank else None
    if blank is not None:
        blank = [b and not h for b, h in zip(blank, header)]
        if not any(blank):
            blank = None
    nblank = sum(blank) if blank is not None else 0
    is_event: list[bool] | None = None  # None: every row starts an event
    if not spec.multiline:
        if blank is not None:
            is_event = [not b for b in blank]
    elif has_ts or "level=-" not in layout:  # a line without the file's header continues an event
        if gaps:
            is_event = list(map(bool, header))
    else:  # no header to tell: indentation, `Caused by:`, `... 12 more` continue an event
        is_event = [not CONTINUATION.match(m) for m in msg_col]
    if spec.multiline and is_event is not None and not all(is_event):
        is_event = _bound_events(is_event, blank, spec.multiline_max_lines)
    partial.parsed = nrows - nblank
    if nblank:
        partial.errors["empty_line"] += nblank
    events = nrows if is_event is None else sum(is_event)
    partial.events = events
    event_rows = None if events == nrows else list(compress(range(nrows), is_event))
    _aggregate_events(spec, layout, cols, idx, event_rows, partial)
    if has_ts:
        _tag_slots(spec, layout, partial, cols, idx, is_event, blank, event_rows)
    elif spec.since is not None or spec.until is not None:  # lines without a time are outside any range
        nothing_parsed(partial, spec)
        partial.events = 0
    return partial


def _aggregate_events(spec: ParserSpec, layout: str, cols: list[list[str]], idx: dict[str, int],
                      event_rows: list[int] | None, partial: Partial) -> None:
    """Dimensions and event minutes of the events starting at `event_rows` (None: every row)."""
    if event_rows is None:
        def pick(col: tuple[str, ...]) -> tuple[str, ...]:
            return col
    else:
        take = itemgetter(*event_rows) if len(event_rows) > 1 else None

        def pick(col: tuple[str, ...]) -> tuple[str, ...]:
            if take is None:
                return (col[event_rows[0]],) if event_rows else ()
            return take(col)
    levels_raw = pick(cols[idx["level"]])
    kind = layout.split(",", 1)[0][3:].split("/")[0]  # of the timestamp; "-": none
    by_minute = Counter(zip(_minute_keys(kind, pick(cols[idx["ts"]])), levels_raw)) if kind != "-" else None
    if by_minute is not None and len(by_minute) * 8 <= len(levels_raw):
        level_counts = Counter()  # the few (minute, level) pairs add up to the levels: no second pass per line
        for (_, raw), n in by_minute.items():
            level_counts[raw] += n
    else:
        level_counts = Counter(levels_raw)
    canonical: Counter = Counter()
    canon = _canonical_letter if "level=letter" in layout else _canonical
    for raw, n in list(level_counts.items()):
        name = canon(raw)
        if name:
            canonical[name] += n
        else:  # not a level (or no level): the word at the level's place in a line of another shape
            del level_counts[raw]
    wanted = set(spec.dimensions)
    if "level" in wanted and canonical:
        partial.dims["level"] = canonical
    if "level_raw" in wanted and level_counts:
        partial.dims["level_raw"] = level_counts
    for name, alt in (("logger", None), ("pid", "pid2"), ("thread", "thread2")):
        if name in wanted:
            col = pick(cols[idx[name]])
            counts = Counter(col)
            if alt is not None and alt in idx:
                counts.update(pick(cols[idx[alt]]))
            counts.pop("", None)
            if counts:
                partial.dims[name] = counts
    messages = pick(cols[idx["msg"]])
    if "pattern" in wanted:
        partial.dims["pattern"] = Column(tuple(mask_messages(messages)))
    if "message" in wanted:
        counts = Counter(messages)
        counts.pop("", None)
        if counts:
            partial.dims["message"] = counts
    if by_minute is not None:
        _text_minutes(kind, by_minute, spec, partial, canon)


def _tag_slots(spec: ParserSpec, layout: str, partial: Partial, cols: list[list[str]],
               idx: dict[str, int], is_event: list[bool] | None, blank: list[bool] | None,
               event_rows: list[int] | None) -> None:
    """Event time for the windows and for `scan --since/--until` (eventtime.split_slots): every parsed line
    counts at its event's time, so an event is never split between window slots or cut by a time range."""
    ranged = spec.since is not None or spec.until is not None
    if spec.slot_seconds is None and not ranged and not spec.event_span:
        return
    ts_col = cols[idx["ts"]]
    rows_all = range(len(ts_col))
    if event_rows is None:  # one event per line: its own timestamp
        parsed_rows = list(rows_all)
        keys = [t or None for t in ts_col]
    else:
        starts = list(accumulate(map(int, is_event)))  # row -> its event's number (1-based; 0: none)
        times = [ts_col[r] or None for r in event_rows]
        parsed_rows = [r for r in rows_all if blank is None or not blank[r]]
        keys = [times[starts[r] - 1] if starts[r] else None for r in parsed_rows]
    kind = layout.split(",", 1)[0][3:].split("/")[0]
    now = time.time() if spec.reference_time is None else spec.reference_time
    year = time.localtime(now).tm_year
    seconds_of: dict[str | None, float | None] = {}

    def seconds(key: str | None) -> float | None:
        if key not in seconds_of:
            seconds_of[key] = None if key is None else _to_seconds(kind, key, year, int(now))
        return seconds_of[key]

    def build(lines: list[int]) -> Partial:
        rows = {parsed_rows[j] for j in lines}
        part = Partial()
        mine = [r for r in (event_rows if event_rows is not None else rows_all) if r in rows]
        part.events = len(mine)
        _aggregate_events(spec, layout, cols, idx, mine, part)
        return part

    if ranged:  # only the events whose own time is in [since, until) count: whole events, never a part
        lo = -math.inf if spec.since is None else spec.since
        hi = math.inf if spec.until is None else spec.until
        inside = [j for j, key in enumerate(keys) if (t := seconds(key)) is not None and lo <= t < hi]
        if len(inside) < partial.lines:
            kept = build(inside) if inside else Partial()
            partial.outside += partial.lines - len(inside)
            partial.bytes = partial.bytes * len(inside) // max(1, partial.lines)
            partial.lines = partial.parsed = len(inside)
            partial.events = kept.events
            partial.errors, partial.samples, partial.skipped = kept.errors, kept.samples, kept.skipped
            partial.dims, partial.measures, partial.minutes = kept.dims, kept.measures, kept.minutes
            parsed_rows = [parsed_rows[j] for j in inside]
            keys = [keys[j] for j in inside]
        spec = replace(spec, since=None, until=None)  # filtered here: split_slots only tags the slots
    split_slots(partial, spec, keys, seconds, build)


def _bound_events(is_event: list[bool], blank: list[bool] | None, max_lines: int) -> list[bool]:
    """Blank lines are no events; continuation lines at the start of a batch (their event's first line was
    in an earlier batch) make one event of their own; an event reaching `max_lines` lines goes on as a new
    event (TAILSTAT_MULTILINE_MAX_LINES)."""
    if blank is None:  # the common case, without a loop per line: only the events' starts are looked at
        out = list(is_event)
        out[0] = True
        starts = list(compress(range(len(out)), out))
        if all(b - a <= max_lines for a, b in zip(starts, [*starts[1:], len(out)])):
            return out
    out = list(is_event)
    run = 0
    started = False
    for i, event in enumerate(out):
        if blank is not None and blank[i]:
            out[i] = False
            continue
        if event or not started or run >= max_lines:
            out[i] = True
            started, run = True, 1
        else:
            run += 1
    return out


def _minute_keys(kind: str, ts_col: tuple[str, ...]) -> list[str] | tuple[str, ...]:
    """The timestamps without their seconds, in one C-level pass, so a batch has as many distinct keys as
    minutes, each parsed once (and cached)."""
    if kind == "yymmdd":
        return list(map(_FIRST_11, ts_col))
    if kind in ("epoch", "ymd8"):
        return ts_col
    joined = "\n".join(ts_col)
    if kind == "iso" and "Z" not in joined and "+" not in joined \
            and joined.count("-") == 2 * (len(ts_col) - ts_col.count("")):
        return list(map(_FIRST_16, ts_col))  # no zone: the minute is `YYYY-MM-DD HH:MM`, a plain slice
    return _SECONDS.sub("", joined).split("\n")


def _text_minutes(kind: str, by_minute: Counter, spec: ParserSpec, partial: Partial, canon=_canonical) -> None:
    """Event minute x canonical level, from the counts of (minute key, raw level) pairs."""
    now = time.time() if spec.reference_time is None else spec.reference_time
    year = time.localtime(now).tm_year
    for (ts, raw), n in by_minute.items():
        if not ts:
            continue
        minute = _to_minute(kind, ts, year, int(now))
        if minute is not None:
            partial.minutes[(minute, canon(raw))] += n


# `:SS[.fff]` after `HH:MM` (a plain replacement: no template per match). It starts with its literal colon, so
# sre jumps from colon to colon instead of trying the lookbehind at every character.
_SECONDS = re.compile(r":(?<=\d\d:\d\d:)\d\d(?:[.,:]\d+)?")
_FIRST_11, _FIRST_16 = itemgetter(slice(11)), itemgetter(slice(16))


@lru_cache(maxsize=8192)
def _to_minute(kind: str, ts: str, year: int, now: int) -> int | None:
    try:
        if kind == "iso":
            return iso_minute(ts.replace(",", "."))
        if kind == "slash":
            return iso_minute(ts[:16].replace("/", "-"))
        if kind == "ctime":
            parts = ts.split()
            return _utc(int(parts[4]), _MONTH[parts[1]], int(parts[2]), parts[3])
        if kind == "clf":
            return clf_minute(ts[:17], ts[18:])
        if kind == "bsd":
            mon, day, clock = ts.split()[:3]
            return bsd_minute(f"{mon} {int(day):2d} {clock[:5]}", year, now)
        if kind == "yymmdd":
            return _utc(2000 + int(ts[:2]), int(ts[2:4]), int(ts[4:6]), f"{ts[7:9]}:{ts[9:11]}")
        if kind == "yy_slash":
            return _utc(2000 + int(ts[:2]), int(ts[3:5]), int(ts[6:8]), ts[9:14])
        if kind == "ymd8":
            clock = ts[9:].replace(":", "")
            return _utc(int(ts[:4]), int(ts[4:6]), int(ts[6:8]), f"{clock[:2]}:{clock[2:4]}")
        if kind in ("mmdd", "mmdd_dot"):
            return _this_year(year, now, int(ts[:2]), int(ts[3:5]), ts[6:11])
        if kind == "epoch":
            return int(float(ts)) // 60
    except (ValueError, KeyError, IndexError, OverflowError):
        return None
    return None


def _to_seconds(kind: str, ts: str, year: int, now: int) -> float | None:
    """A raw timestamp -> epoch seconds (for the window slots): its minute plus its seconds."""
    if kind == "epoch":
        try:
            return float(ts)
        except ValueError:
            return None
    if kind == "yymmdd":
        minute, secs = _to_minute(kind, ts[:11], year, now), ts[11:13]
    elif kind == "ymd8":
        minute = _to_minute(kind, ts, year, now)
        digits = ts[9:].replace(":", "")
        secs = digits[4:6]
    else:
        m = _SECONDS.search(ts)
        minute = _to_minute(kind, _SECONDS.sub("", ts), year, now)
        secs = m.group(0)[1:3] if m else "0"
    if minute is None:
        return None
    return minute * 60 + (int(secs) if secs.isdigit() else 0)


_MONTH = {m: i for i, m in enumerate(_MON[3:-1].split("|"), start=1)}


def _utc(y: int, mo: int, d: int, clock: str) -> int:
    """Local-less wall time read as UTC (the log gives no zone), like ISO timestamps without one."""
    return calendar.timegm((y, mo, d, int(clock[:2]), int(clock[3:5]), 0)) // 60


def _this_year(year: int, now: int, mo: int, d: int, clock: str) -> int:
    minute = _utc(year, mo, d, clock)
    return minute if minute * 60 <= now + 86400 else _utc(year - 1, mo, d, clock)
