"""Command line: run, scan, stats, config."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import orjson

from tailstat import __version__
from tailstat.config import Config, ConfigError, load_config

EXIT_CONFIG = 2


def _fail_config(exc: Exception) -> int:
    print(f"tailstat: configuration error: {exc}", file=sys.stderr)
    return EXIT_CONFIG


def cmd_run(args: argparse.Namespace) -> int:
    from tailstat.checkpoint import StateCorrupt
    from tailstat.logsetup import configure_logging
    from tailstat.service import serve

    cfg = load_config()
    configure_logging(cfg.log_level, cfg.log_format)
    try:
        return asyncio.run(serve(cfg))
    except StateCorrupt as exc:
        print(f"tailstat: {exc}", file=sys.stderr)
        return 1


def cmd_scan(args: argparse.Namespace) -> int:
    from tailstat.formats import FORMATS, build_spec
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
        spec = build_spec(args.format, spec.extra_dimensions, spec.extra_measures, spec.regex)
    missing = [p for p in args.files if not os.path.isfile(p)]
    if missing:
        print(f"tailstat: {missing[0]}: no such file", file=sys.stderr)
        return 1
    progress = sys.stderr.isatty() and sum(os.path.getsize(p) for p in args.files) > 64 << 20
    store = scan_files(cfg, spec, args.files, progress=progress)
    doc = store.snapshot(top=args.top)
    for f in doc["files"]:
        f.pop("key", None)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    else:
        print(table(doc, args.top))
    return 0


def read_snapshot(cfg: Config) -> tuple[dict | None, str]:
    """The running daemon's latest snapshot, or None and why not."""
    path = cfg.snapshot_file
    try:
        doc = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        return None, f"no stats snapshot at {path}"
    except (OSError, orjson.JSONDecodeError) as exc:
        return None, f"cannot read {path}: {exc}"
    pid = doc.get("daemon", {}).get("pid")
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return None, f"the daemon that wrote {path} (pid {pid}) is not running"
    except PermissionError:
        pass
    if time.time() - doc.get("generated_at", 0) > max(10.0, 5 * cfg.snapshot_interval):
        return None, f"the snapshot at {path} is stale (written {time.time() - doc['generated_at']:.0f} s ago)"
    return doc, ""


def cmd_stats(args: argparse.Namespace) -> int:
    from tailstat.render import table

    cfg = load_config(require_paths=False)
    doc, why = read_snapshot(cfg)
    if doc is None:
        print(f"tailstat: no running daemon found: {why} (set TAILSTAT_STATE_DIR / TAILSTAT_RUNTIME_DIR "
              "to the daemon's directories)", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    else:
        print(table(doc, args.top))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    cfg = load_config(require_paths=False)
    for name, value in cfg.describe():
        print(f"{name}={value}")
    return 0


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
    scan.add_argument("--workers", type=int, help="override TAILSTAT_WORKERS")
    scan.add_argument("--executor", choices=("thread", "process"), help="override TAILSTAT_EXECUTOR")
    stats = sub.add_parser("stats", help="the running daemon's current stats")
    stats.add_argument("--json", action="store_true", help="print the stats document as JSON")
    stats.add_argument("--top", type=int, default=10, help="values per dimension (default 10)")
    sub.add_parser("config", help="print the effective configuration")
    return p


COMMANDS = {"run": cmd_run, "scan": cmd_scan, "stats": cmd_stats, "config": cmd_config}


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
