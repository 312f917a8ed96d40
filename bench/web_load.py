"""The web page's load in Debian's chromium: bytes on the wire (gzip) and time to the first paint with data.

    python -m bench.web_load [--files 20] [--lines 100000] [--loads 7] [--window all|1m|5m|15m|1h|24h]

A daemon subprocess reads `--files` generated access logs (combined_timed, the last hour of event time) and a JSON
application log; then the page is opened `--loads` times, each in a fresh browser context (nothing cached).
Per load: bytes transferred until the data is shown (response headers + encoded bodies), the time from
navigation start to the page's `tailstat-data` mark (first render with data), and, as the baseline measured in
the same run, the time to DOMContentLoaded of the same load (the shell alone) and one plain GET /stats from
Python. Medians are printed; the issue's targets are < 200 KB and < 1 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATHS = ["/", "/index.html", "/api/v1/orders", "/api/v1/orders/{}", "/api/v1/users/{}", "/static/app.js",
         "/static/app.css", "/login", "/search", "/health", "/img/{}.png", "/cart", "/checkout"]
STATUSES = [("200", 780), ("304", 60), ("301", 25), ("302", 30), ("404", 55), ("401", 12), ("403", 8),
            ("400", 10), ("500", 8), ("502", 6), ("503", 6)]
LEVELS = [("info", 70), ("debug", 15), ("warning", 10), ("error", 5)]
MESSAGES = ["user {} logged in", "order {} created", "payment for order {} failed: card declined",
            "cache miss for key user:{}", "slow query on orders ({} ms)", "retrying upstream call #{}"]
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _weighted(rng: random.Random, items: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in items], [w for _, w in items])[0]


def _stamp(epoch: float) -> str:
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def demo_logs(directory: Path, lines: int, files: int, now: float, seed: int = 1, minutes: int = 60) -> int:
    """Write `files` access logs and one JSON log whose event times cover the last `minutes` minutes, with a
    traffic curve and an error burst; returns the number of lines written (a few are unparseable on purpose)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    per_file = max(1, lines // files)
    for f in range(files):
        out = []
        for i in range(per_file):
            x = i / per_file
            epoch = now - minutes * 60 * (1 - x) - rng.random()
            burst = 0.62 < x < 0.68
            status = rng.choice(["500", "502", "503"]) if burst and rng.random() < 0.3 else _weighted(rng, STATUSES)
            path = rng.choice(PATHS).format(rng.randint(1, 400))
            rt = max(0.001, rng.lognormvariate(math.log(0.045), 0.8) * (4 if burst else 1))
            out.append(f'203.0.113.{rng.randint(1, 60)} - - [{_stamp(epoch)}] "{rng.choice("GGGGGGPPH")}'
                       .replace('"G', '"GET ').replace('"P', '"POST ').replace('"H', '"HEAD ')
                       + f'{path} HTTP/1.1" {status} {rng.randint(120, 48000)} "-" "Mozilla/5.0 (X11; Linux x86_64)'
                       f' Firefox/131.0" {rt:.3f} {rt * 0.97:.3f}\n')
        out.append("GET /broken line without the rest\n")
        (directory / f"access-{f:03d}.log").write_text("".join(out))
        written += len(out)
    app = []
    for i in range(max(50, lines // 20)):
        epoch = now - minutes * 60 * (1 - i / max(50, lines // 20))
        level = _weighted(rng, LEVELS)
        msg = rng.choice(MESSAGES).format(rng.randint(1, 9000))
        app.append(json.dumps({"time": epoch, "level": level, "msg": msg, "service": rng.choice(["api", "worker"]),
                               "duration_ms": round(rng.lognormvariate(math.log(12), 1.0), 2)}) + "\n")
    app.append("{not json\n")
    (directory / "app.json.log").write_text("".join(app))
    return written + len(app)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daemon(logs: Path, state: Path, port: int, **extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
    env.update({"TAILSTAT_PATHS": f"{logs}/*.log", "TAILSTAT_STATE_DIR": str(state), "TAILSTAT_FORMAT": "auto",
                "TAILSTAT_READ_FROM": "beginning", "TAILSTAT_HTTP_ADDR": f"127.0.0.1:{port}",
                "TAILSTAT_LOG_FORMAT": "json", **extra})
    return subprocess.Popen([sys.executable, "-m", "tailstat", "run"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_lines(port: int, n: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body = get(port, "/stats?top=0")
            if status == 200 and json.loads(body)["totals"]["lines"] >= n:
                return json.loads(body)
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the daemon did not count {n} lines in {timeout} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--loads", type=int, default=7)
    ap.add_argument("--window", default="all", help="the window the page opens on (#window=...; not all: "
                    "it also loads /stats/series)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        total = demo_logs(tmp / "logs", args.lines, args.files, time.time())
        port = free_port()
        proc = start_daemon(tmp / "logs", tmp / "state", port)
        try:
            wait_lines(port, total)
            plain = []
            for _ in range(args.loads):
                t0 = time.perf_counter()
                _, body = get(port, "/stats?top=10&window=all")
                plain.append((time.perf_counter() - t0) * 1000)
            doc_bytes = len(body)
            rows = []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium")
                for _ in range(args.loads):
                    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
                    page = ctx.new_page()
                    requests = []
                    page.on("requestfinished", lambda r, requests=requests: requests.append(r))
                    page.goto(f"http://127.0.0.1:{port}/" + ("" if args.window == "all" else f"#window={args.window}"))
                    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
                    timing = page.evaluate("""() => {
                        const nav = performance.getEntriesByType('navigation')[0];
                        const data = performance.getEntriesByName('tailstat-data')[0];
                        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                        return {dcl: nav.domContentLoadedEventEnd, data: data.startTime,
                                fcp: fcp ? fcp.startTime : null}; }""")
                    sent = sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in requests)
                    rows.append((sent, timing["data"], timing["dcl"], timing["fcp"]))
                    ctx.close()
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    sent = statistics.median(r[0] for r in rows)
    data = statistics.median(r[1] for r in rows)
    dcl = statistics.median(r[2] for r in rows)
    print(f"{total:,} lines in {args.files} access logs + 1 JSON log; /stats document {doc_bytes:,} bytes "
          f"(uncompressed); page opened on window {args.window}")
    print(f"transferred at load, data included (median of {args.loads}): {sent / 1024:,.1f} KiB  (target < 200 KB)")
    print(f"first paint with data: {data:,.0f} ms after navigation start  (target < 1000 ms)")
    print(f"baseline, same loads: DOMContentLoaded {dcl:,.0f} ms; plain GET /stats from Python "
          f"{statistics.median(plain):,.1f} ms; data/DOMContentLoaded = {data / dcl:.2f}x")


if __name__ == "__main__":
    main()
