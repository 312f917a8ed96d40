"""GET /stats/series needs a window (there is no series of `all`): asked without one, the 400 says that no
window was given and which are accepted (a real daemon, real HTTP)."""

from __future__ import annotations

from pathlib import Path

import orjson

from test_http_support import Daemon


def test_series_without_a_window_says_so(tmp_path: Path) -> None:
    with Daemon(tmp_path) as d:
        status, _, body = d.request("/stats/series")
        assert (status, orjson.loads(body)) == (400, {
            "error": "a series needs a window; accepted: window=1m, 5m, 15m, 1h or 24h (e.g. ?window=1h)", "accepted": ["1m", "5m", "15m", "1h", "24h"]})
        status, _, body = d.request("/stats/series?window=all")
        assert (status, orjson.loads(body)["error"]) == (
            400, "window='all' has no series; accepted: window=1m, 5m, 15m, 1h or 24h (e.g. ?window=1h)")
        status, _, body = d.request("/stats/series?window=1h")
        assert status == 200 and orjson.loads(body)["window"] == "1h"
