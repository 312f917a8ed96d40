"""CLI side of the HTTP API: fetch the stats document or follow the stream from a running daemon.

Blocking stdlib http.client (over TCP or a unix socket) keeps `tailstat stats` quick to start; the address and
token come from the same Config as the daemon's. Every failure becomes a Unreachable with one line for the user.
"""

from __future__ import annotations

import http.client
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson

from tailstat.config import Config, http_endpoint
from tailstat.discover import Attempt, describe_failures, first_answering, permission_hint
from tailstat.fieldnames import UnknownField, check, configured

TIMEOUT = 5.0
HINT = "start it with `tailstat run`, or set TAILSTAT_HTTP_ADDR (host:port, unix:/path) to the daemon's address"


class Unreachable(Exception):
    """No usable answer from the daemon; str(self) is the one line shown to the user."""


class Source(Protocol):
    where: str

    def fetch(self, top: int, fields: tuple[str, ...] | None, window: str = "all") -> dict[str, Any]: ...


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket (the daemon's default address under systemd)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class HttpSource:
    """The daemon's HTTP API at cfg.http_addr."""

    def __init__(self, cfg: Config, timeout: float = TIMEOUT, addr: str | None = None,
                 tried: list[Attempt] | None = None) -> None:
        addr = addr or cfg.http_addr
        self.kind, host, self.port = http_endpoint(addr)
        # a daemon bound to every address is reached on loopback
        self.host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        self.token = cfg.http_token
        self.timeout = timeout
        self.where = f"unix:{host}" if self.kind == "unix" else f"http://{addr}"
        self.tried = tried or []  # addresses discovery tried first (see discover.py)

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.kind == "unix":
            return UnixHTTPConnection(self.host, timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _open(self, path: str, params: dict[str, Any], timeout: float) -> http.client.HTTPResponse:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn = self._connection(timeout)
        try:
            conn.request("GET", f"{path}?{query}" if query else path, headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            before = describe_failures(self.tried)
            before = f"{before}; " if before else ""
            if self.kind == "unix" and isinstance(exc, PermissionError):
                raise Unreachable(f"{before}permission denied on {self.where}; {permission_hint(self.host)}") from None
            raise Unreachable(f"{before}no tailstat daemon answering at {self.where} ({reason}); {HINT}") from None
        if response.status != 200:
            body = response.read(4096)
            conn.close()
            try:
                answer = orjson.loads(body)
                message = answer["error"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                answer, message = {}, response.reason
            if response.status == 400 and str(message).startswith("fields: ") and "accepted" in answer:
                raise UnknownField(message.removeprefix("fields: "), list(answer["accepted"]))
            if response.status == 401:
                raise Unreachable(f"the daemon at {self.where} refused the request ({message}); set "
                                  "TAILSTAT_HTTP_TOKEN to the daemon's token")
            raise Unreachable(f"the daemon at {self.where} answered {response.status}: {message}")
        return response

    def fetch(self, top: int, fields: tuple[str, ...] | None, window: str = "all") -> dict[str, Any]:
        return self._json("/stats", {"top": top, "fields": ",".join(fields) if fields else None,
                                     "window": None if window == "all" else window})

    def series(self, window: str, fields: tuple[str, ...] = ()) -> dict[str, Any]:
        """GET /stats/series for `window` at its default step."""
        return self._json("/stats/series", {"window": window, "fields": ",".join(fields) or None})

    def _json(self, path: str, query: dict[str, Any]) -> dict[str, Any]:
        response = self._open(path, query, self.timeout)
        try:
            return orjson.loads(response.read())
        except (OSError, http.client.HTTPException, orjson.JSONDecodeError) as exc:
            raise Unreachable(f"bad answer from the daemon at {self.where}: {exc}") from None
        finally:
            response.close()

    def stream(self, interval: float, top: int, fields: tuple[str, ...] | None,
               window: str = "all") -> Iterator[bytes]:
        """Raw NDJSON lines of /stats/stream until the daemon ends the stream."""
        params = {"interval": interval, "top": top, "fields": ",".join(fields) if fields else None,
                  "window": None if window == "all" else window}
        response = self._open("/stats/stream", params, max(self.timeout, 3 * interval + 2))
        try:
            while True:
                try:
                    line = response.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise Unreachable(f"lost the stream from {self.where}: {exc or type(exc).__name__}") from None
                if not line:
                    return
                yield line
        finally:
            response.close()


def read_snapshot(cfg: Config) -> tuple[dict | None, str]:
    """The running daemon's latest snapshot file (written every TAILSTAT_SNAPSHOT_INTERVAL), or None and why."""
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
    try:  # an idle daemon only touches the file: its mtime, not generated_at, says when it was last alive
        age = time.time() - os.stat(path).st_mtime
    except OSError as exc:
        return None, f"cannot read {path}: {exc}"
    if age > max(30.0, 5 * cfg.snapshot_interval):
        return None, f"the snapshot at {path} is stale (last touched {age:.0f} s ago)"
    return doc, ""


class SnapshotSource:
    """The snapshot file, for TAILSTAT_HTTP_ADDR=off."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.where = str(cfg.snapshot_file)

    def fetch(self, top: int, fields: tuple[str, ...] | None, window: str = "all") -> dict[str, Any]:
        if window != "all":
            raise Unreachable(f"window {window} needs the daemon's HTTP API (TAILSTAT_HTTP_ADDR=off: the snapshot "
                              "file holds the cumulative stats only)")
        doc, why = read_snapshot(self.cfg)
        if doc is None:
            raise Unreachable(f"no running daemon found: {why} (TAILSTAT_HTTP_ADDR=off; set TAILSTAT_STATE_DIR / "
                              "TAILSTAT_RUNTIME_DIR to the daemon's directories)")
        check(fields, [*doc.get("fields", {}), *doc.get("measures", {}), *configured(self.cfg.sources)])
        for field in doc.get("fields", {}).values():
            field["top"] = field["top"][:top]
        if fields:
            doc["fields"] = {k: v for k, v in doc.get("fields", {}).items() if k in fields}
            doc["measures"] = {k: v for k, v in doc.get("measures", {}).items() if k in fields}
        return doc


def open_source(cfg: Config) -> HttpSource | SnapshotSource:
    """The daemon's API at TAILSTAT_HTTP_ADDR; without it, the local service's socket first (discover.py)."""
    if cfg.http_addr == "off":
        return SnapshotSource(cfg)
    addr, tried = first_answering(cfg)
    return HttpSource(cfg, addr=addr, tried=tried)
