"""The page's files: read from the package once, compressed once (gzip), each with an ETag."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

# URL path (relative to the page) -> (file under static/, content type)
FILES: dict[str, tuple[str, str]] = {
    "": ("index.html", "text/html; charset=utf-8"),
    "static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "static/app.css": ("app.css", "text/css; charset=utf-8"),
    "static/icon.svg": ("icon.svg", "image/svg+xml"),
    "static/uPlot.iife.min.js": ("vendor/uplot/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    "static/uPlot.min.css": ("vendor/uplot/uPlot.min.css", "text/css; charset=utf-8"),
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    content_type: str
    etag: str


def read(name: str) -> bytes:
    """A file under static/ (package data), e.g. "app.js" or "vendor/uplot/LICENSE"."""
    return resources.files("tailstat.web").joinpath("static", name).read_bytes()


@cache
def asset(url_path: str) -> Asset:
    name, content_type = FILES[url_path]
    body = read(name)
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Asset(body, gzip.compress(body, 9, mtime=0), content_type, f'"{digest}"')


def all_assets() -> dict[str, Asset]:
    return {path: asset(path) for path in FILES}
