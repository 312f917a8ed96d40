"""Command line: run, scan, stats, top, config."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

import orjson

from tailstat import __version__
from tailstat.config import ConfigError, fit_descriptors, load_config, lock_state_dir
from tailstat.window import ACCEPTED as WINDOW_CHOICES

if TYPE_CHECKING:
    from tailstat.client import HttpSource

EXIT_CONFIG = 2


def _fail_config(exc: Exception) -> int:
    print(f"tailstat: configuration error: {exc}", file=sys.stderr)
    return EXIT_CONFIG


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from tailstat.checkpoint import StateCorrupt
    from tailstat.logsetup import configure_logging
    from tailstat.service import serve

    cfg = fit_descriptors(load_config())  # room for TAILSTAT_MAX_OPEN_FILES tailed files, sockets, state files
    lock_state_dir(cfg)  # held until the process exits
    sink = configure_logging(cfg.log_level, cfg.log_format)
    try:
        code = asyncio.run(serve(cfg, log_sink=sink))
    except StateCorrupt as exc:
        print(f"tailstat: {exc}", file=sys.stderr)
        return 1
    if code != 0:
        # past the shutdown deadline or after a crash: leave now, without waiting at interpreter exit for a
        # worker still stuck in a batch (what was merged is already checkpointed)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def cmd_scan(args: argparse.Namespace) -> int:
    from tailstat.formats import FORMATS, build_spec
    from tailstat.inputs import Report
    from tailstat.render import table
    from tailstat.scan import scan_files

    cfg = load_config(require_paths=False)
    if args.workers:
        cfg = cfg.with_overrides(workers=args.workers)
    if args.executor:
        cfg = cfg.with_overrides(executor=args.executor)
    spec = cfg.sources[0].spec if cfg.sources else build_spec("auto", (), (), None)
    if args.format:
        if args.format not in FORMATS:
            return _fail_config(ConfigError(f"--format={args.format!r} is not valid; accepted: {', '.join(FORMATS)}"))
        spec = build_spec(args.format, spec.extra_dimensions, spec.extra_measures, spec.regex,
                          log_format=spec.log_format)
    from dataclasses import replace

    from tailstat.timerange import describe, log_time_rates, parse_time

    bounds: dict[str, float | None] = {}
    for name in ("since", "until"):
        raw = getattr(args, name)
        try:
            bounds[name] = None if raw is None else parse_time(raw)
        except ValueError as exc:
            print(f"tailstat: scan --{name}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    since, until = bounds["since"], bounds["until"]
    if since is not None and until is not None and since >= until:
        print(f"tailstat: scan: --since {args.since} is not before --until {args.until}: no line can be in that "
              "range", file=sys.stderr)
        return EXIT_CONFIG
    spec = replace(spec, since=since, until=until, event_span=True)
    report = Report()  # unreadable inputs are told and skipped; the others are counted (exit 1)
    inputs = report.open_all(args.files)
    if not inputs:
        return 1
    progress = sys.stderr.isatty() and sum(i.size for i in inputs) > 64 << 20
    store = scan_files(cfg, spec, inputs, progress=progress, report=report)
    doc = store.snapshot(top=args.top, mergeable=args.mergeable)
    log_time_rates(doc, *store.event_span(), since, until)
    for f in doc["files"]:
        f.pop("key", None)
    if args.html:
        from tailstat.web.report import render_report, report_title, write_report

        try:
            write_report(args.html, render_report(doc, report_title(args.files)))
        except OSError as exc:
            print(f"tailstat: cannot write {args.html}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    if args.mergeable:
        from tailstat.merge import stamp

        stamp(doc)  # host, files, time range: `merge` recognises it when it meets it again
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    elif not args.html:
        print(table(doc, args.top) + "\n" + describe(doc))
    return 1 if report.failed else 0


def cmd_stats(args: argparse.Namespace) -> int:
    from tailstat.client import HttpSource, Unreachable, open_source
    from tailstat.fieldnames import UnknownField
    from tailstat.render import table

    if args.interval is not None and not args.follow:
        print("tailstat: stats --interval only applies with --follow", file=sys.stderr)
        return EXIT_CONFIG
    cfg = load_config(require_paths=False)
    fields = tuple(args.field) if args.field else None
    source = open_source(cfg)
    try:
        if args.follow:
            if not isinstance(source, HttpSource):
                print("tailstat: stats --follow needs the HTTP API, and TAILSTAT_HTTP_ADDR=off; set it to the "
                      "daemon's address (host:port or unix:/path)", file=sys.stderr)
                return 1
            return _follow(source, args, fields)
        doc = source.fetch(args.top, fields, args.window or "all")
    except Unreachable as exc:
        print(f"tailstat: {exc}", file=sys.stderr)
        return 1
    except UnknownField as exc:
        print(f"tailstat: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    else:
        print(table(doc, args.top))
    return 0


def _follow(source: HttpSource, args: argparse.Namespace, fields: tuple[str, ...] | None) -> int:
    from textwrap import wrap

    from tailstat.hints import window_hint
    from tailstat.layout import terminal_width
    from tailstat.top import compact_line

    out = sys.stdout.buffer
    width = terminal_width()
    said = False  # the window hint is printed when it becomes true, not every second
    for raw in source.stream(args.interval or 1.0, min(args.top, 100), fields, args.window or "1m"):
        if args.json:
            out.write(raw)
        else:
            line = orjson.loads(raw)
            late = window_hint(line, "--window all counts them")
            if late and not said:
                out.write("\n".join(wrap(late, width, subsequent_indent="  ")).encode() + b"\n")
            said = late is not None
            out.write(compact_line(line, width).encode() + b"\n")
        out.flush()
    print(f"tailstat: the daemon at {source.where} ended the stream (stopping?)", file=sys.stderr)
    return 1


def cmd_top(args: argparse.Namespace) -> int:
    from tailstat.client import Unreachable, open_source
    from tailstat.fieldnames import UnknownField
    from tailstat.top import run_top

    cfg = load_config(require_paths=False)
    try:
        return run_top(open_source(cfg), interval=args.interval, top=args.top,
                       fields=tuple(args.field) if args.field else None, iterations=args.iterations,
                       window=args.window)
    except Unreachable as exc:
        print(f"tailstat: {exc}", file=sys.stderr)
        return 1
    except UnknownField as exc:
        print(f"tailstat: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def cmd_config(args: argparse.Namespace) -> int:
    from tailstat.globs import describe_files, missing_directories

    cfg = load_config(require_paths=False)
    for name, value in cfg.describe():
        print(f"{name}={value}")
    for line in describe_files(cfg.sources):
        print(line)
    try:  # what `run` needs beyond what `config` does: the paths to read
        load_config(require_paths=True)
    except ConfigError as exc:
        print(f"tailstat: note: `tailstat run` would refuse this: {exc}", file=sys.stderr)
    for name, pattern, directory in missing_directories(cfg.sources):
        print(f"tailstat: note: directory {directory} does not exist (glob {pattern}, source {name}): nothing "
              "is read from it until it exists", file=sys.stderr)
    try:  # what `run` would make of the descriptor limit in this shell (a note: the daemon's own may differ)
        fitted = fit_descriptors(cfg)
    except ConfigError as exc:
        print(f"tailstat: note: `tailstat run` in this shell would refuse this: {exc}", file=sys.stderr)
    else:
        if fitted.max_open_files != cfg.max_open_files:
            print(f"tailstat: note: `tailstat run` in this shell would use TAILSTAT_MAX_OPEN_FILES="
                  f"{fitted.max_open_files}, to fit its hard open-files limit", file=sys.stderr)
    return 0


def _count(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; accepted: an integer 0..1000")
    return int(text)


def _refreshes(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; accepted: an integer 1..100000")
    return int(text)


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; accepted: an integer 1..256")
    return int(text)


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; accepted: seconds 0.1..3600")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tailstat", description="Tail log files and keep live aggregated statistics.")
    p.add_argument("--version", action="version", version=f"tailstat {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the daemon in the foreground (configured by TAILSTAT_* variables)")
    scan = sub.add_parser("scan", help="read files to their end and print their stats")
    scan.add_argument("files", nargs="+", metavar="FILE")
    scan.add_argument("--format", help="override TAILSTAT_FORMAT")
    scan.add_argument("--json", action="store_true", help="print the stats document as JSON")
    scan.add_argument("--top", type=int, default=10, help="values per dimension (default 10)")
    scan.add_argument("--html", metavar="REPORT", help="write the stats as one self-contained HTML page (the "
                      "web page with the data inlined) instead of printing the table")
    scan.add_argument("--workers", type=_workers, help="override TAILSTAT_WORKERS (1..256)")
    scan.add_argument("--executor", choices=("thread", "process"), help="override TAILSTAT_EXECUTOR")
    scan.add_argument("--since", metavar="T", help="only lines whose own time is at or after T (ISO 8601, or a "
                      "time ago: 90s, 20m, 2h, 1d)")
    scan.add_argument("--until", metavar="T", help="only lines whose own time is before T (as --since)")
    scan.add_argument("--mergeable", action="store_true", help="with --json: add the \"state\" section that "
                      "`tailstat merge` needs")
    stats = sub.add_parser("stats", help="the running daemon's current stats (over TAILSTAT_HTTP_ADDR)")
    stats.add_argument("--json", action="store_true", help="print the stats document as JSON (NDJSON with "
                       "--follow)")
    stats.add_argument("--top", type=_count, default=10, help="values per dimension (default 10)")
    stats.add_argument("--field", action="append", metavar="NAME", help="only this dimension or measure "
                       "(repeatable)")
    stats.add_argument("--window", choices=WINDOW_CHOICES, help="the stats of the last 1m, 5m, 15m, 1h or 24h "
                       "(default all; with --follow: 1m)")
    stats.add_argument("--follow", "-f", action="store_true", help="one line per interval until interrupted")
    stats.add_argument("--interval", type=_interval, default=None, help="seconds between --follow lines "
                       "(default 1)")
    top = sub.add_parser("top", help="live full-screen view of the running daemon (q quits)")
    top.add_argument("--top", type=_count, default=5, help="values per dimension, at most (default 5; "
                     "fewer when the terminal is small)")
    top.add_argument("--field", action="append", metavar="NAME", help="only this dimension or measure "
                     "(repeatable)")
    top.add_argument("--interval", type=_interval, default=1.0, help="seconds between refreshes (default 1)")
    top.add_argument("--window", choices=WINDOW_CHOICES, default="5m", help="the window it opens on (default "
                     "5m; keys 1-6 switch)")
    top.add_argument("--iterations", type=_refreshes, help="stop after N frames, 1..100000 (default: until q)")
    sub.add_parser("config", help="print the effective configuration")
    merge = sub.add_parser("merge", help="merge saved stats documents (scan --json --mergeable), e.g. one per host")
    merge.add_argument("files", nargs="+", metavar="FILE")
    merge.add_argument("--top", type=int, default=10, help="values per dimension (default 10)")
    merge.add_argument("--table", action="store_true", help="print a readable table instead of the JSON document")
    return p


def cmd_merge(args: argparse.Namespace) -> int:
    from tailstat.merge import main as merge_main

    return merge_main(args.files, args.top, args.table)


COMMANDS = {"run": cmd_run, "scan": cmd_scan, "stats": cmd_stats, "top": cmd_top, "config": cmd_config,
            "merge": cmd_merge}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        return _fail_config(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
