"""The static report (`tailstat scan --html FILE`): the live page as one self-contained HTML file, data inlined.

It must open from file:// (mail attachments, archives): scripts and styles are inlined, the data sits in a
`<script type="application/json">` element the page reads instead of fetching. The file carries its own strict
Content-Security-Policy (a meta tag): only these exact scripts and styles run (by hash), nothing is fetched.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import time
from typing import Any

import orjson

from tailstat.web.assets import read

# index.html's tags, each replaced by its inlined content (a changed template fails loudly, not silently)
_ICON = '<link rel="icon" href="static/icon.svg" type="image/svg+xml">'
_STYLES = {'<link rel="stylesheet" href="static/uPlot.min.css">': "vendor/uplot/uPlot.min.css",
           '<link rel="stylesheet" href="static/app.css">': "app.css"}
_SCRIPTS = {'<script src="static/uPlot.iife.min.js" defer></script>': "vendor/uplot/uPlot.iife.min.js",
            '<script src="static/app.js" defer></script>': "app.js"}
DATA_ID = "tailstat-report"


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _inline_safe(text: str, name: str) -> str:
    lowered = text.lower()
    if "</script" in lowered or "</style" in lowered or "<!--" in lowered:
        raise ValueError(f"{name} cannot be inlined: it contains </script, </style or <!--")
    return text


def _replace(html: str, tag: str, by: str) -> str:
    if tag not in html:
        raise ValueError(f"index.html lacks {tag!r}")
    return html.replace(tag, by, 1)


def render_report(doc: dict[str, Any], title: str, series: dict[str, Any] | None = None) -> str:
    """The report's HTML for one stats document (and optionally a /stats/series-shaped series)."""
    html = read("index.html").decode()
    styles, scripts = [], []
    for tag, name in _STYLES.items():
        css = _inline_safe(read(name).decode(), name)
        styles.append(_hash(css))
        html = _replace(html, tag, f"<style>{css}</style>")
    for tag, name in _SCRIPTS.items():
        js = _inline_safe(read(name).decode(), name)
        scripts.append(_hash(js))
        html = _replace(html, tag, f"<script>{js}</script>")
    icon = base64.b64encode(read("icon.svg")).decode()
    html = _replace(html, _ICON, f'<link rel="icon" href="data:image/svg+xml;base64,{icon}">')
    csp = (f"default-src 'none'; script-src {' '.join(scripts)}; style-src {' '.join(styles)}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    html = _replace(html, '<meta charset="utf-8">',
                    f'<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="{csp}">')
    html = _replace(html, "<title>tailstat</title>", f"<title>tailstat report: {_escape(title)}</title>")
    payload = {"doc": doc, "series": series, "title": title, "generated_at": time.time()}
    # "<" only occurs inside JSON strings, where \u003c means the same: nothing can close the element early
    data = orjson.dumps(payload).replace(b"<", b"\\u003c").decode()
    head, body, tail = html.rpartition("</body>")
    return f'{head}<script type="application/json" id="{DATA_ID}">{data}</script>\n{body}{tail}'


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def report_title(paths: list[str]) -> str:
    names = ["standard input" if p == "-" else os.path.basename(p) or p for p in paths]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def write_report(path: str, html: str) -> None:
    """Write atomically (a half-written report is never left under its name)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tailstat-report-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o644 & ~umask)  # what open() would have made (mkstemp makes 0600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
