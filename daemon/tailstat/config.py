"""Configuration: every TAILSTAT_* environment variable is read here, once, into a frozen dataclass.

A bad value raises ConfigError with one line naming the variable, the value and what is accepted; the CLI
prints it and exits with status 2 before anything starts.
"""

from __future__ import annotations

import difflib
import os
import re
import resource
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from tailstat.errors import ConfigError
from tailstat.parse import FORMATS, ParserSpec, build_spec, default_measures

PREFIX = "TAILSTAT_"
SOURCE_KEYS = ("PATHS", "FORMAT", "GROUP_BY", "MEASURES", "REGEX", "NGINX_LOG_FORMAT")
_SOURCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
# Descriptors the daemon needs besides its tailed files: listening and client sockets, state and snapshot files,
# the inotify instance, pool pipes, log output.
DESCRIPTOR_HEADROOM = 128
DEFAULT_MAX_OPEN_FILES = 1024


@dataclass(frozen=True)
class Source:
    """A set of globs whose files share one format."""

    name: str
    globs: tuple[str, ...]
    spec: ParserSpec


@dataclass(frozen=True)
class Config:
    sources: tuple[Source, ...] = ()
    workers: int = 1
    executor: str = "thread"
    read_from: str = "end"
    state_dir: Path = Path(".")
    runtime_dir: Path = Path(".")
    log_level: str = "info"
    log_format: str = "console"
    shutdown_timeout: float = 10.0
    batch_bytes: int = 256 << 10
    queue_batches: int = 8
    max_line_bytes: int = 1 << 20
    checkpoint_interval: float = 5.0
    snapshot_interval: float = 1.0
    rescan_interval: float = 10.0
    watch: str = "inotify"
    max_open_files: int = DEFAULT_MAX_OPEN_FILES
    max_open_files_set: bool = False  # given in the environment (else the default, which `run` may shrink)
    rotated_grace: float = 30.0
    state_on_corrupt: str = "fresh"
    topk_capacity: int = 10000
    event_minutes: int = 180
    window_slot: float = 10.0  # seconds per window slot; below 10 every window shrinks alike (tests)
    window_topk: int = 100
    patterns_max: int = 2000
    multiline: bool = True
    multiline_max_lines: int = 500
    multiline_timeout: float = 2.0
    http_addr: str = "127.0.0.1:9514"
    http_addr_set: bool = False  # given in the environment (else the client looks for the service first)
    service_socket: str = "/run/tailstat/tailstat.sock"  # the client's first try without TAILSTAT_HTTP_ADDR
    http_token: str = field(default="", repr=False)

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def snapshot_file(self) -> Path:
        return self.runtime_dir / "stats.json"

    def with_overrides(self, **changes: object) -> Config:
        return replace(self, **changes)

    def describe(self) -> list[tuple[str, str]]:
        """The effective configuration as (variable, value) rows for `tailstat config`."""
        rows: list[tuple[str, str]] = []
        for src in self.sources:
            p = PREFIX if src.name == "default" else f"{PREFIX}SOURCE_{src.name.upper()}_"
            rows.append((p + "PATHS", ",".join(src.globs)))
            rows.append((p + "FORMAT", src.spec.format))
            rows.append((p + "GROUP_BY", ",".join(src.spec.dimensions)))
            rows.append((p + "MEASURES", ",".join(src.spec.measures)))
            if src.spec.regex:
                rows.append((p + "REGEX", src.spec.regex))
            if src.spec.log_format:
                rows.append((p + "NGINX_LOG_FORMAT", src.spec.log_format))
        simple = {
            "WORKERS": self.workers, "EXECUTOR": self.executor, "READ_FROM": self.read_from,
            "STATE_DIR": self.state_dir, "RUNTIME_DIR": self.runtime_dir, "LOG_LEVEL": self.log_level,
            "LOG_FORMAT": self.log_format, "SHUTDOWN_TIMEOUT": self.shutdown_timeout,
            "BATCH_BYTES": self.batch_bytes, "QUEUE_BATCHES": self.queue_batches,
            "MAX_LINE_BYTES": self.max_line_bytes, "CHECKPOINT_INTERVAL": self.checkpoint_interval,
            "SNAPSHOT_INTERVAL": self.snapshot_interval, "RESCAN_INTERVAL": self.rescan_interval,
            "WATCH": self.watch, "MAX_OPEN_FILES": self.max_open_files, "ROTATED_GRACE": self.rotated_grace,
            "STATE_ON_CORRUPT": self.state_on_corrupt, "TOPK_CAPACITY": self.topk_capacity,
            "EVENT_MINUTES": self.event_minutes, "WINDOW_SLOT": self.window_slot,
            "WINDOW_TOPK": self.window_topk, "PATTERNS_MAX": self.patterns_max,
            "MULTILINE": "on" if self.multiline else "off", "MULTILINE_MAX_LINES": self.multiline_max_lines,
            "MULTILINE_TIMEOUT": self.multiline_timeout,
            "HTTP_ADDR": self.http_addr, "SERVICE_SOCKET": self.service_socket,
            "HTTP_TOKEN": "(set)" if self.http_token else "(unset)",
        }
        rows.extend((PREFIX + k, str(v)) for k, v in simple.items())
        return rows


class _Reader:
    """Reads variables from one environment mapping and remembers which TAILSTAT_* names it consumed."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.used: set[str] = set()

    def raw(self, name: str) -> str | None:
        self.used.add(name)
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def choice(self, name: str, default: str, accepted: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in accepted:
            raise ConfigError(f"{name}={value!r} is not valid; accepted: {', '.join(accepted)}")
        return value.lower()

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value.replace("_", ""))
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not an integer; accepted: {lo}..{hi}") from None
        if not lo <= number <= hi:
            raise ConfigError(f"{name}={value!r} is out of range; accepted: {lo}..{hi}")
        return number

    def size(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        m = re.fullmatch(r"(\d+)\s*([KMG]i?B?)?", value, re.IGNORECASE)
        if not m:
            raise ConfigError(f"{name}={value!r} is not a size; accepted: bytes or a number with KiB/MiB/GiB")
        unit = (m.group(2) or "").upper()[:1]
        number = int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]
        if not lo <= number <= hi:
            raise ConfigError(f"{name}={value!r} is out of range; accepted: {lo}..{hi} bytes")
        return number

    def seconds(self, name: str, default: float, lo: float, hi: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        m = re.fullmatch(r"(\d+(?:\.\d*)?)\s*(ms|s|m)?", value)
        if not m:
            raise ConfigError(f"{name}={value!r} is not a duration; accepted: seconds, e.g. 5, 0.5, 500ms, 2m")
        number = float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[m.group(2)]
        if not lo <= number <= hi:
            raise ConfigError(f"{name}={value!r} is out of range; accepted: {lo:g}..{hi:g} seconds")
        return number

    def names(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        items = tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
        for item in items:
            if not re.fullmatch(r"[A-Za-z_@][\w.@-]*", item):
                raise ConfigError(f"{name}={value!r} has an invalid field name {item!r}; "
                                  "accepted: comma-separated names of letters, digits, _ . - @")
        return items


def _read_source(r: _Reader, name: str, prefix: str, require_paths: bool, multiline: bool = True,
                 multiline_max_lines: int = 500) -> Source | None:
    paths_var = prefix + "PATHS"
    paths = r.raw(paths_var)
    globs = tuple(p.strip() for p in (paths or "").split(",") if p.strip())
    if require_paths and not globs:
        unset = paths is None and paths_var not in r.env
        if unset and name == "default":  # nothing configured at all: say what to set
            raise ConfigError(f"{paths_var} is not set; set it to comma-separated absolute file globs, e.g. "
                              f"{paths_var}=/var/log/nginx/*.log, or set {PREFIX}SOURCES to source names, each "
                              f"with {PREFIX}SOURCE_<NAME>_PATHS")
        raise ConfigError(f"{paths_var} is {'not set' if unset else 'empty'}; accepted: "
                          "comma-separated absolute file globs, e.g. /var/log/nginx/*.log")
    fmt = r.choice(prefix + "FORMAT", "auto", tuple(FORMATS))
    spec = build_spec(fmt, r.names(prefix + "GROUP_BY"), r.names(prefix + "MEASURES"),
                      r.raw(prefix + "REGEX"), log_format=r.raw(prefix + "NGINX_LOG_FORMAT"),
                      regex_var=prefix + "REGEX", format_var=prefix + "FORMAT",
                      log_format_var=prefix + "NGINX_LOG_FORMAT", group_by_var=prefix + "GROUP_BY",
                      measures_var=prefix + "MEASURES", source=name, multiline=multiline,
                      multiline_max_lines=multiline_max_lines)
    for g in globs:
        if not os.path.isabs(os.path.expanduser(g)):
            raise ConfigError(f"{paths_var} entry {g!r} is not an absolute path; accepted: absolute globs")
    return Source(name=name, globs=tuple(os.path.expanduser(g) for g in globs), spec=spec)


def _default_state_dir(env: Mapping[str, str]) -> Path:
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME") or "/tmp", ".local", "state")
    return Path(base) / "tailstat"


def load_config(env: Mapping[str, str] | None = None, *, require_paths: bool = True) -> Config:
    """Build the Config from `env` (os.environ by default). Raises ConfigError on any bad setting."""
    env = os.environ if env is None else env
    r = _Reader(env)

    # read before the sources: their parser specs carry them
    multiline = r.choice(PREFIX + "MULTILINE", "on", ("on", "off")) == "on"
    multiline_max_lines = r.integer(PREFIX + "MULTILINE_MAX_LINES", 500, 2, 100_000)
    lines = {"multiline": multiline, "multiline_max_lines": multiline_max_lines}
    sources: list[Source] = []
    source_names = r.names(PREFIX + "SOURCES")
    for name in source_names:
        if not _SOURCE_NAME.fullmatch(name):
            raise ConfigError(f"{PREFIX}SOURCES has an invalid source name {name!r}; accepted: letters and digits")
        src = _read_source(r, name.lower(), f"{PREFIX}SOURCE_{name.upper()}_", require_paths=True, **lines)
        if src:
            sources.append(src)
    has_default = r.raw(PREFIX + "PATHS") is not None
    if has_default or not source_names:
        default = _read_source(r, "default", PREFIX, require_paths=require_paths and not source_names, **lines)
        if default and (default.globs or not source_names):
            sources.insert(0, default)

    cpus = os.cpu_count() or 1
    workers = r.integer(PREFIX + "WORKERS", cpus, 1, 256)
    state_dir = Path(os.path.expanduser(r.text(PREFIX + "STATE_DIR", str(_default_state_dir(env)))))
    runtime_default = env.get("RUNTIME_DIRECTORY", "").split(":")[0] or str(state_dir)
    runtime_dir = Path(os.path.expanduser(r.text(PREFIX + "RUNTIME_DIR", runtime_default)))
    tty = os.isatty(2)
    cfg = Config(
        sources=tuple(sources),
        workers=workers,
        executor=r.choice(PREFIX + "EXECUTOR", "thread", ("thread", "process")),
        read_from=r.choice(PREFIX + "READ_FROM", "end", ("end", "beginning")),
        state_dir=state_dir,
        runtime_dir=runtime_dir,
        log_level=r.choice(PREFIX + "LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
        log_format=r.choice(PREFIX + "LOG_FORMAT", "console" if tty else "json", ("json", "console")),
        shutdown_timeout=r.seconds(PREFIX + "SHUTDOWN_TIMEOUT", 10.0, 0.1, 3600),
        batch_bytes=r.size(PREFIX + "BATCH_BYTES", 256 << 10, 4096, 64 << 20),
        queue_batches=r.integer(PREFIX + "QUEUE_BATCHES", 2 * workers + 2, 1, 4096),
        max_line_bytes=r.size(PREFIX + "MAX_LINE_BYTES", 1 << 20, 256, 64 << 20),
        checkpoint_interval=r.seconds(PREFIX + "CHECKPOINT_INTERVAL", 5.0, 0.05, 86400),
        snapshot_interval=r.seconds(PREFIX + "SNAPSHOT_INTERVAL", 1.0, 0.05, 3600),
        rescan_interval=r.seconds(PREFIX + "RESCAN_INTERVAL", 10.0, 0.05, 86400),
        watch=r.choice(PREFIX + "WATCH", "inotify", ("inotify", "poll")),
        max_open_files=r.integer(PREFIX + "MAX_OPEN_FILES", DEFAULT_MAX_OPEN_FILES, 4, 1_000_000),
        max_open_files_set=r.raw(PREFIX + "MAX_OPEN_FILES") is not None,
        rotated_grace=r.seconds(PREFIX + "ROTATED_GRACE", 30.0, 0.0, 86400),
        state_on_corrupt=r.choice(PREFIX + "STATE_ON_CORRUPT", "fresh", ("fresh", "fail")),
        topk_capacity=r.integer(PREFIX + "TOPK_CAPACITY", 10000, 10, 10_000_000),
        event_minutes=r.integer(PREFIX + "EVENT_MINUTES", 180, 1, 10080),
        window_slot=r.seconds(PREFIX + "WINDOW_SLOT", 10.0, 0.05, 10),
        window_topk=r.integer(PREFIX + "WINDOW_TOPK", 100, 10, 10000),
        patterns_max=r.integer(PREFIX + "PATTERNS_MAX", 2000, 1, 1_000_000),
        multiline=multiline,
        multiline_max_lines=multiline_max_lines,
        multiline_timeout=r.seconds(PREFIX + "MULTILINE_TIMEOUT", 2.0, 0.0, 3600),
        http_addr=r.text(PREFIX + "HTTP_ADDR", _default_http_addr(env)),
        http_addr_set=r.raw(PREFIX + "HTTP_ADDR") is not None or bool(env.get("RUNTIME_DIRECTORY")),
        service_socket=r.text(PREFIX + "SERVICE_SOCKET", SERVICE_SOCKET),
        http_token=r.text(PREFIX + "HTTP_TOKEN", ""),
    )

    allowed = set(r.used)
    for name in source_names:
        allowed.update(f"{PREFIX}SOURCE_{name.upper()}_{k}" for k in SOURCE_KEYS)
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in allowed)
    if unknown:
        name = unknown[0]
        source = re.fullmatch(rf"{PREFIX}SOURCE_([A-Za-z0-9]+)_({'|'.join(SOURCE_KEYS)})", name)
        if source:
            raise ConfigError(f"{name} is not a known setting: no source {source[1]} in {PREFIX}SOURCES; accepted: "
                              f"add {source[1]} to {PREFIX}SOURCES (a comma list of source names)")
        close = [name.upper()] if name.upper() in allowed else \
            difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.8)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(f"{name} is not a known setting; {hint}accepted: the TAILSTAT_* variables of the "
                          "README's Configuration table (`tailstat config` prints the effective ones)")
    _check_http(cfg)
    return cfg


def fit_descriptors(cfg: Config) -> Config:
    """For `tailstat run`: fit TAILSTAT_MAX_OPEN_FILES to the hard RLIMIT_NOFILE and raise the soft limit to
    what it needs (as Go programs do at start; never above the hard limit, never lowered). The default (1024)
    shrinks to fit a low hard limit; an explicit value that cannot fit raises ConfigError. Only `run` calls
    this: the other commands read the same environment in shells whose own limits say nothing of the
    daemon's."""
    soft, limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = 1 << 30 if limit == resource.RLIM_INFINITY else limit
    name = PREFIX + "MAX_OPEN_FILES"
    where = "the hard limit on open files (RLIMIT_NOFILE: LimitNOFILE= in the unit, `ulimit -Hn`)"
    most = hard - DESCRIPTOR_HEADROOM
    if most < 4:
        raise ConfigError(f"{where} is {hard}, below the {4 + DESCRIPTOR_HEADROOM} descriptors tailstat needs "
                          f"(4 files and {DESCRIPTOR_HEADROOM} more); raise the limit")
    if not cfg.max_open_files_set:
        cfg = cfg.with_overrides(max_open_files=min(cfg.max_open_files, most))
    elif cfg.max_open_files > most:
        raise ConfigError(f"{name}={cfg.max_open_files} needs {cfg.max_open_files + DESCRIPTOR_HEADROOM} "
                          f"descriptors but {where} is {hard}; accepted: 4..{most}, or raise the limit")
    need = cfg.max_open_files + DESCRIPTOR_HEADROOM
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, limit))
    return cfg


LOCK_NAME = "tailstat.lock"


def lock_state_dir(cfg: Config) -> int | None:
    """For `tailstat run`: hold an exclusive lock on the state directory for the life of the process, so two
    daemons never share (and overwrite) one checkpoint. Returns the lock's descriptor (None if the directory
    cannot be created: the daemon then reports it as unwritable). Raises ConfigError if another process holds
    it."""
    import fcntl

    try:
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(cfg.state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ConfigError(f"{PREFIX}STATE_DIR={str(cfg.state_dir)!r} is in use by another tailstat (pid {holder}); "
                          "accepted: a state directory no other running tailstat uses") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


DEFAULT_HTTP_ADDR = "127.0.0.1:9514"
SOCKET_NAME = "tailstat.sock"
SERVICE_SOCKET = "/run/tailstat/tailstat.sock"  # where the shipped unit's daemon listens (RuntimeDirectory=)


def _default_http_addr(env: Mapping[str, str]) -> str:
    """Loopback TCP; under systemd (RUNTIME_DIRECTORY set) a unix socket in the runtime directory."""
    runtime = env.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return f"unix:{os.path.join(runtime, SOCKET_NAME)}" if runtime else DEFAULT_HTTP_ADDR


def http_endpoint(addr: str) -> tuple[str, str, int]:
    """A checked TAILSTAT_HTTP_ADDR as ("unix", path, 0), ("tcp", host, port) or ("off", "", 0)."""
    if addr == "off":
        return "off", "", 0
    if addr.startswith("unix:"):
        return "unix", addr[5:], 0
    host, _, port = addr.rpartition(":")
    return "tcp", host.strip("[]"), int(port)


def _check_http(cfg: Config) -> None:
    if not os.path.isabs(cfg.service_socket):
        raise ConfigError(f"TAILSTAT_SERVICE_SOCKET={cfg.service_socket!r} is not an absolute path; accepted: "
                          "an absolute socket path")
    addr = cfg.http_addr
    if addr == "off" or addr.startswith("unix:"):
        if addr.startswith("unix:") and not os.path.isabs(addr[5:]):
            raise ConfigError(f"TAILSTAT_HTTP_ADDR={addr!r} is not an absolute socket path; accepted: host:port, "
                              "unix:/absolute/path or off")
        return
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535 or not host:
        raise ConfigError(f"TAILSTAT_HTTP_ADDR={addr!r} is not valid; accepted: host:port, unix:/path or off")
    host = host.strip("[]")
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if not loopback and not cfg.http_token:
        raise ConfigError(f"TAILSTAT_HTTP_ADDR={addr!r} is not a loopback address and TAILSTAT_HTTP_TOKEN is "
                          "unset; accepted: a loopback address, or set TAILSTAT_HTTP_TOKEN")


__all__ = ["Config", "ConfigError", "Source", "default_measures", "load_config"]
