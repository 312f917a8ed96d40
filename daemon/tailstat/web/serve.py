"""HTTP side of the page: the shell and its files (public: they hold no data), and the headers every response of
the daemon carries (strict CSP, nosniff; data responses are never cached)."""

from __future__ import annotations

from aiohttp import web

from tailstat.web.assets import FILES, Asset, asset

# No inline script or style, nothing from another origin; the page only talks to its own daemon.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
PUBLIC_PATHS = frozenset("/" + p for p in FILES)  # served without the token
COMPRESS_ABOVE = 1024  # JSON bodies larger than this go out compressed to clients that accept it


def accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


def _handler(url_path: str):
    async def handle(request: web.Request) -> web.Response:
        item: Asset = asset(url_path)  # read and compressed at its first request (cached), not at start-up
        headers = {"ETag": item.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        if item.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        if accepts_gzip(request.headers.get("Accept-Encoding", "")):
            headers["Content-Encoding"] = "gzip"
            body = item.gzipped
        else:
            body = item.body
        headers["Content-Type"] = item.content_type
        return web.Response(body=body, headers=headers)

    return handle


def add_routes(app: web.Application) -> None:
    """GET (and HEAD) / and static/*, the security headers on every response of `app`, and compression of
    JSON data for clients that accept it (the page polls /stats every second; a document with many files is
    large). aiohttp compresses bodies over 1 KiB in its executor, off the event loop."""
    for path in FILES:
        app.router.add_get("/" + path, _handler(path))
    app.middlewares.append(_compress_json)  # inside the app's own guard: errors and 401s stay plain
    app.on_response_prepare.append(_security_headers)


@web.middleware
async def _compress_json(request: web.Request, handler) -> web.StreamResponse:
    response = await handler(request)
    if (isinstance(response, web.Response) and not response.prepared and response.content_type == "application/json"
            and response.body is not None and len(response.body) > COMPRESS_ABOVE
            and accepts_gzip(request.headers.get("Accept-Encoding", ""))):
        response.enable_compression()
    return response


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path not in PUBLIC_PATHS:
        response.headers["Cache-Control"] = "no-store"
