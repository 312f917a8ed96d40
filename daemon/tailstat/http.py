"""Serve stage: the read-only HTTP API, inside the daemon's TaskGroup.

    GET /stats            the stats document (?fields=a,b&top=N&mergeable=1&window=5m)
    GET /stats/series     per-step arrays over a window (?window=1h&step=1m&fields=status,class&top=N)
    GET /stats/stream     NDJSON, one line per ?interval= seconds: the document plus the window's delta
    GET /metrics          Prometheus text exposition (prometheus_client, custom collector)
    GET /healthz          alive
    GET /readyz           200 once state is loaded and watchers are armed, 503 before (and while stopping)
    GET /                 the live web page (tailstat.web; its shell and files hold no data and need no token)

Nothing here changes state. Ingestion never waits on a client: handlers only take short snapshot copies, and a
stream client that does not keep up (unsent data over STREAM_BUFFER_LIMIT, or a write blocked WRITE_TIMEOUT) is
disconnected instead of being buffered for.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import math
import os
import socket
import stat
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tailstat.config import http_endpoint
from tailstat.fieldnames import UnknownField, check, configured
from tailstat.merge import stamp
from tailstat.metrics import METRICS_TOP, StatsCollector, make_registry, render
from tailstat.series import CLASS_FIELD, accepted_steps, parse_step
from tailstat.web import serve as web_page
from tailstat.window import ACCEPTED, parse_window

MAX_QUERY_CHARS = 1024  # longer query strings get 414
MAX_REQUEST_LINE = 4096  # aiohttp answers 400 above these
MAX_HEADER_FIELD = 4096
MAX_HEADERS = 64
MAX_TOP = 1000
MAX_STREAM_TOP = 100
MAX_FIELDS = 64
MIN_INTERVAL, MAX_INTERVAL = 0.1, 3600.0
MAX_STREAMS = 32
STREAM_BUFFER_LIMIT = 256 << 10  # unsent bytes of one stream client before it is dropped
STREAM_SNDBUF = 64 << 10  # kernel send buffer per stream connection (bounds what the kernel holds, too)
WRITE_TIMEOUT = 5.0
SHUTDOWN_GRACE = 1.0
SOCKET_MODE = 0o660
JSON = "application/json"
NDJSON = "application/x-ndjson"


class BadQuery(ValueError):
    """A query parameter is invalid; str(self) names it, the value and what is accepted."""

    accepted: list[str] | None = None


def _window_param(query: Any) -> str:
    try:
        return parse_window(query.get("window"))
    except ValueError as exc:
        bad = BadQuery(str(exc))
        bad.accepted = list(ACCEPTED)
        raise bad from None


def _param(query: Any, name: str, default: float, lo: float, hi: float, kind: type, accepted: str) -> Any:
    """Query parameter `name` as `kind` (int or float) within [lo, hi]; absent or empty: `default`."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = math.nan
    if not lo <= value <= hi:
        raise BadQuery(f"{name}={raw!r} is not valid; accepted: {accepted}")
    return value


def _int_param(query: Any, name: str, default: int, lo: int, hi: int) -> int:
    return _param(query, name, default, lo, hi, int, f"an integer {lo}..{hi}")


def _float_param(query: Any, name: str, default: float, lo: float, hi: float) -> float:
    return _param(query, name, default, lo, hi, float, f"seconds {lo:g}..{hi:g}")


def _fields_param(query: Any) -> tuple[str, ...] | None:
    names = [n.strip() for raw in query.getall("fields", []) for n in raw.split(",") if n.strip()]
    if not names:
        return None
    if len(names) > MAX_FIELDS:
        raise BadQuery(f"fields has {len(names)} names; accepted: at most {MAX_FIELDS}")
    return tuple(dict.fromkeys(names))


def _error(status: int, message: str, headers: dict[str, str] | None = None,
           accepted: list[str] | None = None) -> web.Response:
    body = {"error": message} if accepted is None else {"error": message, "accepted": accepted}
    return web.Response(status=status, body=orjson.dumps(body) + b"\n", content_type=JSON, headers=headers)


def stream_line(doc: dict[str, Any], prev: dict[str, Any] | None, seq: int, interval: float) -> dict[str, Any]:
    """One line of /stats/stream: the document (without `minutes`) plus `delta` since the previous line.

    The first line's delta is counted from zero, so summing `delta` over all lines of a stream gives the
    last line's `totals`; `rates.window` is the delta per second (null on the first line)."""
    doc.pop("minutes", None)
    totals = doc["totals"]
    base = prev["totals"] if prev else {}
    delta = {k: v - base.get(k, 0) for k, v in totals.items()}
    seconds = doc["generated_at"] - prev["generated_at"] if prev else None
    prev_files = {f["key"]: f for f in prev["files"]} if prev else {}
    for f in doc["files"]:
        before = prev_files.get(f.get("key"), {})
        f["delta_lines"] = f["lines"] - before.get("lines", 0)
        f["delta_bytes"] = f["bytes"] - before.get("bytes", 0)
    doc["rates"]["window"] = None if not seconds else {
        "lines": delta["lines"] / seconds, "parse_errors": delta["parse_errors"] / seconds,
        "bytes": delta["bytes"] / seconds}
    doc["delta"] = delta
    doc["stream"] = {"seq": seq, "interval": interval, "window_seconds": seconds}
    return doc


class _ServerLog:
    """The `logger` aiohttp's request handler reports to. A malformed request (line or header too long, too
    many headers, not HTTP) is the client's problem: counted, not a traceback in the journal per request.
    Anything else is a bug in a handler and is logged as an error."""

    def __init__(self, api: HttpApi) -> None:
        self.api = api

    def debug(self, *args: Any, **kw: Any) -> None:
        if isinstance(kw.get("exc_info"), HttpProcessingError):
            self.api.bad_requests += 1

    def exception(self, message: str, *args: Any, exc_info: Any = None, **kw: Any) -> None:
        if isinstance(exc_info, HttpProcessingError) and 400 <= (exc_info.code or 0) < 500:
            self.api.bad_requests += 1
            return
        self.api.log.error("http_handler_failed", message=message % args if args else message,
                           exc_info=exc_info or True)


class HttpApi:
    """Request handlers over a running Service; `stop` ends streams when the daemon begins to stop."""

    def __init__(self, service: Any, stop: asyncio.Event) -> None:
        self.service = service
        self.stop = stop
        self.token = service.cfg.http_token.encode()
        self.streams = 0
        self.streams_dropped = 0
        self.bad_requests = 0
        self.registry = make_registry(StatsCollector(lambda: service.document(top=METRICS_TOP, paths=True),
                                                     self._own_metrics))
        self.log = structlog.get_logger("tailstat.http")

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/stats", self.stats)
        app.router.add_get("/stats/stream", self.stats_stream)
        app.router.add_get("/stats/series", self.stats_series)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        web_page.add_routes(app)  # GET / : the live page (its shell and files need no token)
        return app

    # ------------------------------------------------------------------------------------------ guard
    def _authorized(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if len(request.query_string) > MAX_QUERY_CHARS:
            return _error(414, f"query string longer than {MAX_QUERY_CHARS} characters")
        if self.token and request.path not in web_page.PUBLIC_PATHS and not self._authorized(request):
            return _error(401, "missing or wrong bearer token",
                          headers={"WWW-Authenticate": 'Bearer realm="tailstat"'})
        try:
            return await handler(request)
        except BadQuery as exc:
            return _error(400, str(exc), accepted=exc.accepted)
        except UnknownField as exc:
            return web.Response(status=400, content_type=JSON, body=orjson.dumps(
                {"error": f"fields: {exc}", "accepted": exc.accepted}) + b"\n")
        except web.HTTPException as exc:  # router: 404 unknown path, 405 anything but GET/HEAD
            if exc.status < 400:
                raise
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            return _error(exc.status, exc.reason, headers=allow)

    def _known(self, fields: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """`fields` if every name exists (counted, or configured), else UnknownField (400 with the list)."""
        if fields:
            check(fields, [*self.service.store.field_names(), *configured(self.service.cfg.sources)])
        return fields

    # --------------------------------------------------------------------------------------- handlers
    async def stats(self, request: web.Request) -> web.Response:
        top = _int_param(request.query, "top", 10, 0, MAX_TOP)
        mergeable = _int_param(request.query, "mergeable", 0, 0, 1) == 1  # + "state" for `tailstat merge`
        window = _window_param(request.query)
        if mergeable and window != "all":
            raise BadQuery(f"mergeable=1 with window={window!r}; accepted: mergeable=1 only with window=all")
        doc = self.service.document(top=top, fields=self._known(_fields_param(request.query)),
                                    mergeable=mergeable,
                                    window=window)
        if mergeable:
            stamp(doc)  # host, files, time range: `tailstat merge` recognises it when it meets it again
        return web.Response(body=orjson.dumps(doc) + b"\n", content_type=JSON)

    async def stats_series(self, request: web.Request) -> web.Response:
        window = _window_param(request.query)
        if window == "all":
            said = "a series needs a window" if "window" not in request.query else "window='all' has no series"
            windows = f"{', '.join(ACCEPTED[:-2])} or {ACCEPTED[-2]}"
            bad = BadQuery(f"{said}; accepted: window={windows} (e.g. ?window=1h)")
            bad.accepted = list(ACCEPTED[:-1])
            raise bad
        try:
            step = parse_step(request.query.get("step"), window)
        except ValueError as exc:
            bad = BadQuery(str(exc))
            bad.accepted = accepted_steps(window)
            raise bad from None
        top = _int_param(request.query, "top", 10, 0, MAX_STREAM_TOP)
        fields = _fields_param(request.query) or ()
        if fields:  # the per-line class of the minutes is a series field too
            check([f for f in fields if f != CLASS_FIELD],
                  [*self.service.store.field_names(), *configured(self.service.cfg.sources)])
        doc = self.service.store.series(window, step, fields, top)
        return web.Response(body=orjson.dumps(doc) + b"\n", content_type=JSON)

    async def metrics(self, request: web.Request) -> web.Response:
        body, content_type = render(self.registry, request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps({"status": "alive", "pid": os.getpid()}) + b"\n", content_type=JSON)

    async def readyz(self, request: web.Request) -> web.Response:
        if self.stop.is_set():
            return _error(503, "stopping")
        if not self.service.ready.is_set():
            return _error(503, "starting: loading state and arming watchers")
        return web.Response(body=b'{"status":"ready"}\n', content_type=JSON)

    async def stats_stream(self, request: web.Request) -> web.StreamResponse:
        top = _int_param(request.query, "top", 5, 0, MAX_STREAM_TOP)
        fields = self._known(_fields_param(request.query))
        interval = _float_param(request.query, "interval", 1.0, MIN_INTERVAL, MAX_INTERVAL)
        window = _window_param(request.query)
        if self.streams >= MAX_STREAMS:
            return _error(503, f"too many stream clients (at most {MAX_STREAMS})")
        response = web.StreamResponse(headers={"Content-Type": NDJSON, "Cache-Control": "no-store"})
        transport = request.transport
        sock = transport.get_extra_info("socket") if transport else None
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SNDBUF)
            except OSError:
                pass
        await response.prepare(request)
        if request.method == "HEAD" or transport is None:
            return response
        self.streams += 1
        try:
            async for line in self._lines(top, fields, interval, window):
                if transport.is_closing():
                    break
                if transport.get_write_buffer_size() > STREAM_BUFFER_LIMIT:
                    self._drop(request, "buffer_full", line["stream"]["seq"])
                    break
                try:
                    async with asyncio.timeout(WRITE_TIMEOUT):
                        await response.write(orjson.dumps(line) + b"\n")
                except TimeoutError:
                    self._drop(request, "write_timeout", line["stream"]["seq"])
                    break
                except ConnectionError:
                    break
        finally:
            self.streams -= 1
        return response

    def _drop(self, request: web.Request, reason: str, seq: int) -> None:
        self.streams_dropped += 1
        self.log.warning("stream_client_dropped", peer=str(request.remote), reason=reason, lines_sent=seq,
                         unsent_bytes=request.transport.get_write_buffer_size() if request.transport else 0)
        if request.transport is not None:
            request.transport.abort()

    async def _lines(self, top: int, fields: tuple[str, ...] | None, interval: float,
                     window: str = "all") -> AsyncIterator[dict]:
        """Stream lines on a fixed schedule (no drift); ticks missed while a write was slow are skipped."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        prev: dict[str, Any] | None = None
        seq = 0
        while not self.stop.is_set():
            line = stream_line(self.service.document(top=top, fields=fields, window=window), prev, seq, interval)
            yield line
            prev = line
            seq += 1
            now = loop.time()
            tick = max(seq, math.ceil((now - start) / interval))
            try:
                async with asyncio.timeout(start + tick * interval - now):
                    await self.stop.wait()
            except TimeoutError:
                pass

    def _own_metrics(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("tailstat_http_stream_clients", "Clients connected to /stats/stream.",
                                value=self.streams)
        yield CounterMetricFamily("tailstat_http_stream_clients_dropped",
                                  "Stream clients disconnected for not reading fast enough.",
                                  value=self.streams_dropped)
        yield CounterMetricFamily("tailstat_http_bad_requests", "Malformed requests rejected with 400 (request "
                                  "line or header too long, too many headers, not HTTP).", value=self.bad_requests)


class StartupError(Exception):
    """The daemon cannot start (already logged with what to do): it exits 1 without a traceback."""


async def start_http(service: Any, tg: asyncio.TaskGroup, stop: asyncio.Event) -> list[asyncio.Task]:
    """Bind the API's socket now (so the daemon is only ready once the API answers), serve it in a task of
    `tg` until cancelled (the service cancels it after its own shutdown). A bind error is logged and raised as
    StartupError."""
    cfg = service.cfg
    if cfg.http_addr == "off":
        return []
    log = structlog.get_logger("tailstat.http")
    kind, host, port = http_endpoint(cfg.http_addr)
    api = HttpApi(service, stop)
    runner = web.AppRunner(api.app(), access_log=None, handle_signals=False, logger=_ServerLog(api),
                           shutdown_timeout=SHUTDOWN_GRACE, max_line_size=MAX_REQUEST_LINE,
                           max_field_size=MAX_HEADER_FIELD, max_headers=MAX_HEADERS)
    await runner.setup()
    try:
        if kind == "unix":
            _refuse_live_socket(host)  # asyncio would silently replace another daemon's socket file
            await web.UnixSite(runner, host).start()
            os.chmod(host, SOCKET_MODE)
        else:
            await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        log.error("http_bind_failed", addr=cfg.http_addr, error=str(exc),
                  hint="set TAILSTAT_HTTP_ADDR to a free host:port, unix:/path, or off")
        await runner.cleanup()
        raise StartupError(f"cannot listen on {cfg.http_addr}: {exc}") from None
    log.info("http_listening", addr=cfg.http_addr, addresses=[str(a) for a in runner.addresses],
             token=bool(cfg.http_token))
    return [tg.create_task(_serve(runner, host if kind == "unix" else None), name="http")]


async def _serve(runner: web.AppRunner, socket_path: str | None) -> None:
    try:
        await asyncio.Future()  # the server runs on its own; this task owns its lifetime
    finally:
        await runner.cleanup()
        if socket_path:
            _remove_socket(socket_path)


def _refuse_live_socket(path: str) -> None:
    if not os.path.exists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(path)
    except OSError:
        return  # a stale socket file (nobody listening): replacing it is right
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"another process is listening on {path}")


def _remove_socket(path: str) -> None:
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass
