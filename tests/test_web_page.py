"""The web page in a real browser (Debian's chromium driven by Playwright; nothing downloads a browser) against
a real daemon subprocess: exact totals and tables, live updates without reload, time windows, the token flow,
the static report from file://, no request leaving the origin, no console errors.

One browser for the module; each test opens its own context (fresh sessionStorage)."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from test_http_support import Daemon, access_lines, base_env, cli, expected

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/test.sh installs it)
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"no browser: {CHROMIUM} is missing (Debian package chromium; scripts/test.sh installs it)",
                allow_module_level=True)
try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    pytest.skip("no playwright: install the test extra (pip install -e '.[test]')", allow_module_level=True)

N = 1234
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> not a log line'
TOKEN = "page+token/Zq9="  # characters a URL fragment could mangle
SEEN = 3000  # ms: the bound for appended lines to show without a reload


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("webpage"), TAILSTAT_MEASURES="bytes_sent")
    d.append(access_lines(N) + HOSTILE.encode() + b"\n")
    d.start()
    d.wait_lines(N + 1)
    yield d
    assert d.stop() == 0
    assert d.noise() == []


@dataclass
class Tab:
    context: BrowserContext
    page: Page
    origin: str
    console: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def errors(self) -> list[str]:
        return [m for m in self.console if m.startswith(("error", "pageerror", "warning"))]

    def foreign(self) -> list[str]:
        return [r.url for r in self.requests if not r.url.startswith(self.origin)]


def open_tab(browser: Browser, url: str, origin: str, **context: Any) -> Tab:
    ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800}, **context)
    tab = Tab(ctx, ctx.new_page(), origin)
    tab.page.on("console", lambda m: tab.console.append(f"{m.type}: {m.text}"))
    tab.page.on("pageerror", lambda e: tab.console.append(f"pageerror: {e}"))
    tab.page.on("request", lambda r: tab.requests.append(r))
    tab.page.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
    tab.page.goto(url)
    return tab


def rows(page: Page, selector: str) -> list[list[str]]:
    return page.locator(selector).evaluate_all(
        "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))")


def status_rows(page: Page) -> list[list[str]]:
    return [r[:3] for r in rows(page, '[data-field="status"] tbody tr')]


def expected_status_rows(counts: dict[str, int]) -> list[list[str]]:
    total = sum(counts.values())
    return [[v, f"{c:,}", f"{c / total:.1%}".replace(".0%", "%")] for v, c in
            sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def data_requests(tab: Tab) -> list[str]:
    return [r.url[len(tab.origin):] for r in tab.requests if "/stats" in r.url]


# ------------------------------------------------------------------------------------------------ tests
def test_live_page_shows_exact_stats_and_follows_appends(browser: Browser, daemon: Daemon) -> None:
    origin = f"http://127.0.0.1:{daemon.port}"
    tab = open_tab(browser, origin + "/", origin)
    page = tab.page
    page.wait_for_selector("body[data-ready='1']")
    lines = N + 1
    expect(page.locator("#total-lines")).to_have_text(f"{lines:,}")
    expect(page.locator("#total-errors")).to_have_text("1")
    counts = expected(N)["status"]
    assert status_rows(page) == expected_status_rows(counts)
    assert rows(page, '[data-field="method"] tbody tr')[0][:2] == ["GET", f"{expected(N)['method']['GET']:,}"]
    # a hostile log line is shown as text, never run or parsed as HTML
    expect(page.locator("#samples pre")).to_have_text(HOSTILE)
    assert page.locator("#samples img").count() == 0
    assert rows(page, "#files tbody tr")[0][:4] == [str(daemon.log_path), "combined", "live", f"{lines:,}"]
    assert rows(page, "#measures tbody tr")[0][:2] == ["bytes_sent", f"{N:,}"]
    expect(page.locator("#patterns-panel")).to_be_hidden()  # an access log has no message patterns
    # the whole load, data included, is well under 200 KB on the wire
    loaded = sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in tab.requests
                 if r.response() is not None)
    assert loaded < 200 * 1024

    daemon.append(access_lines(10, N))
    expect(page.locator("#total-lines")).to_have_text(f"{lines + 10:,}", timeout=SEEN)
    counts.update(expected(10, N)["status"])
    expect(page.locator('[data-field="status"] tbody tr').first.locator("td").nth(1)).to_have_text(
        f"{counts['200']:,}", timeout=SEEN)
    assert status_rows(page) == expected_status_rows(counts)
    assert [r.url for r in tab.requests if r.resource_type == "document"] == [origin + "/"]  # no reload
    assert tab.dialogs == [] and tab.errors() == [] and tab.foreign() == []
    tab.context.close()


def test_token_page_without_it_shows_nothing_and_with_fragment_shows_stats(browser: Browser,
                                                                           tmp_path: Path) -> None:
    d = Daemon(tmp_path, token=TOKEN)
    d.append(access_lines(77))
    with d:
        d.wait_lines(77)
        origin = f"http://127.0.0.1:{d.port}"
        tab = open_tab(browser, origin + "/", origin)
        page = tab.page
        expect(page.locator("#token-form")).to_be_visible()
        expect(page.locator("#stats")).to_be_hidden()
        expect(page.locator("#status")).to_have_text("needs the access token")
        assert page.locator("#total-lines").text_content() == "–"
        page.fill("#token-input", "wrong")
        page.press("#token-input", "Enter")
        expect(page.locator("#token-error")).to_have_text("The daemon did not accept this token.")
        expect(page.locator("#stats")).to_be_hidden()
        assert {r.headers.get("authorization") for r in tab.requests if "/stats" in r.url} == {None, "Bearer wrong"}
        tab.context.close()

        tab = open_tab(browser, f"{origin}/#token={TOKEN}", origin)
        page = tab.page
        expect(page.locator("#total-lines")).to_have_text("77")
        assert page.url == origin + "/"  # the token left the address bar
        assert tab.requests[0].headers.get("authorization") is None  # the shell itself was asked for without it
        assert page.evaluate("sessionStorage.getItem('tailstat-token')") == TOKEN
        stats = [r for r in tab.requests if "/stats" in r.url]
        assert stats and {r.headers.get("authorization") for r in stats} == {f"Bearer {TOKEN}"}
        assert all(TOKEN not in r.url for r in tab.requests)  # never in a URL the server sees
        page.reload()  # the tab keeps it (sessionStorage), the URL does not carry it
        expect(page.locator("#total-lines")).to_have_text("77")
        assert tab.errors() == [] and tab.foreign() == []
        tab.context.close()
    assert not any(TOKEN in line for line in d.stderr().splitlines())


def test_static_report_from_file_url_shows_the_same_totals(browser: Browser, daemon: Daemon,
                                                           tmp_path: Path) -> None:
    log = tmp_path / "copy.log"
    shutil.copyfile(daemon.log_path, log)
    lines = log.read_bytes().count(b"\n")
    report = tmp_path / "report.html"
    res = cli(base_env(tmp_path), "scan", "--format", "combined", "--html", str(report), str(log))
    assert res.returncode == 0, res.stderr
    daemon.wait_lines(lines)

    origin = f"http://127.0.0.1:{daemon.port}"
    live = open_tab(browser, origin + "/", origin)
    expect(live.page.locator("#total-lines")).to_have_text(f"{lines:,}")
    tab = open_tab(browser, report.as_uri(), "file://")
    page = tab.page
    page.wait_for_selector("body[data-ready='1']")
    for cell in ("#total-lines", "#total-parsed", "#total-errors", "#total-bytes", "#total-dropped"):
        assert page.locator(cell).text_content() == live.page.locator(cell).text_content(), cell
    assert page.locator("#total-lines").text_content() == f"{lines:,}"
    assert status_rows(page) == status_rows(live.page)
    expect(page.locator("#samples pre")).to_have_text(HOSTILE)
    expect(page.locator("#windows")).to_be_hidden()
    expect(page.locator("#rate-1m")).to_be_hidden()  # a scan's wall-clock rates say nothing about the logs
    assert page.locator("#status").text_content().startswith("static report · ")
    assert page.locator("#rate-chart .uplot").count() == 1  # the chart library ran under the report's CSP
    assert [r.url for r in tab.requests if not r.url.startswith(("file://", "data:"))] == []
    assert tab.dialogs == [] and tab.errors() == []  # a CSP violation would be a console error
    live.context.close()
    tab.context.close()


class PrefixProxy(ThreadingHTTPServer):
    """A reverse proxy serving the daemon under /tailstat/ (what `location /tailstat/ { proxy_pass …/; }` does):
    the prefix is stripped, the request and its Authorization/Accept-Encoding headers are passed on."""

    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(BaseHTTPRequestHandler):
    server: PrefixProxy

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        if not self.path.startswith("/tailstat/"):
            self.send_error(404)
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept-encoding",
                                                                          "if-none-match", "accept")}
        conn.request("GET", self.path[len("/tailstat"):], headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        conn.close()

    def log_message(self, *args: Any) -> None:
        pass


def test_page_works_under_a_path_prefix_behind_a_reverse_proxy(browser: Browser, daemon: Daemon) -> None:
    proxy = PrefixProxy(daemon.port)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        origin = f"http://127.0.0.1:{proxy.server_address[1]}"
        tab = open_tab(browser, origin + "/tailstat/", origin)
        lines = daemon.stats()["totals"]["lines"]
        expect(tab.page.locator("#total-lines")).to_have_text(f"{lines:,}")
        expect(tab.page.locator("#rate-chart .uplot")).to_have_count(1)
        assert proxy.seen and all(p.startswith("/tailstat/") for p in proxy.seen), proxy.seen
        assert {"/tailstat/", "/tailstat/static/app.js", "/tailstat/static/uPlot.iife.min.js"} <= set(proxy.seen)
        assert any(p.startswith("/tailstat/stats?") for p in proxy.seen)
        assert tab.errors() == [] and tab.foreign() == []
        tab.context.close()
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_daemon_that_stops_answering_is_said_and_the_last_data_kept(browser: Browser, tmp_path: Path) -> None:
    d = Daemon(tmp_path)
    d.append(access_lines(5))
    with d:
        d.wait_lines(5)
        origin = f"http://127.0.0.1:{d.port}"
        tab = open_tab(browser, origin + "/", origin)
        expect(tab.page.locator("#total-lines")).to_have_text("5")
    assert d.proc.returncode == 0
    status = tab.page.locator("#status")
    expect(status).to_contain_text("daemon not answering (Failed to fetch), retrying · showing data of ")
    assert status.get_attribute("class") == "stale"
    expect(tab.page.locator("#total-lines")).to_have_text("5")
    assert all("ERR_CONNECTION_REFUSED" in m for m in tab.errors())  # the browser's own lines, nothing else
    tab.context.close()


def test_phone_width_keyboard_and_dark_scheme(browser: Browser, daemon: Daemon) -> None:
    origin = f"http://127.0.0.1:{daemon.port}"
    ctx = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, color_scheme="dark",
                              has_touch=True, is_mobile=True)
    page = ctx.new_page()
    page.goto(origin + "/")
    page.wait_for_selector("body[data-ready='1']")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 18, 22)"
    focused = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("(e => e.dataset.window ? 'window:' + e.dataset.window : "
                                     "e.getAttribute('aria-label') || e.tagName)(document.activeElement)"))
    enabled = page.locator("#windows button:not([disabled])").evaluate_all("bs => bs.map(b => b.dataset.window)")
    assert focused[:len(enabled)] == [f"window:{w}" for w in enabled]
    assert "top values of status" in focused and "top values of method" in focused
    ctx.close()


def test_polling_pauses_while_hidden(browser: Browser, daemon: Daemon) -> None:
    origin = f"http://127.0.0.1:{daemon.port}"
    tab = open_tab(browser, origin + "/", origin)
    page = tab.page
    page.wait_for_selector("body[data-ready='1']")
    # headless Chromium never hides a tab itself: make the document report hidden, as a background tab does
    page.evaluate("""() => { Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
                             document.dispatchEvent(new Event('visibilitychange')); }""")
    expect(page.locator("#status")).to_have_text("paused while the tab is hidden")
    before = len(data_requests(tab))
    page.wait_for_timeout(2500)
    assert len(data_requests(tab)) == before
    page.evaluate("""() => { Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
                             document.dispatchEvent(new Event('visibilitychange')); }""")
    expect(page.locator("#status")).to_contain_text("live · updated", timeout=SEEN)
    assert len(data_requests(tab)) > before
    assert tab.errors() == []
    tab.context.close()


# ------------------------------------------------------------------------------------------ time windows
def lines_at(epoch: float, statuses: tuple[str, ...], n: int, start: int = 0) -> bytes:
    """n combined lines stamped `epoch` (UTC); line i has status statuses[i % len] and path /w{i % 5}."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch))
    return "".join(f'10.1.0.{i % 3} - - [{stamp}] "GET /w{i % 5} HTTP/1.1" {statuses[i % len(statuses)]} 512 "-" '
                   f'"t/1"\n' for i in range(start, start + n)).encode()


def test_window_switch_shows_exact_windowed_counts(browser: Browser, tmp_path: Path) -> None:
    now = time.time()
    d = Daemon(tmp_path)
    d.append(lines_at(now - 2 * 86400, ("200", "301"), 40) + lines_at(now - 30, ("404", "500", "200"), 25))
    with d:
        d.wait_lines(65)
        origin = f"http://127.0.0.1:{d.port}"
        tab = open_tab(browser, origin + "/", origin)
        page = tab.page
        expect(page.locator("#total-lines")).to_have_text("65")
        assert status_rows(page) == expected_status_rows({"200": 28, "301": 20, "404": 9, "500": 8})
        page.click("#windows button[data-window='1h']")
        expect(page.locator("#total-lines")).to_have_text("25")
        expect(page.locator("#window-label")).to_have_text("· window 1h")
        assert status_rows(page) == expected_status_rows({"404": 9, "500": 8, "200": 8})
        assert any(u.startswith("/stats/series?window=1h&fields=class") for u in data_requests(tab))
        page.focus("#windows button[data-window='all']")  # the keyboard switches too
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        expect(page.locator("#window-label")).to_have_text("· window 24h")
        expect(page.locator("#total-lines")).to_have_text("25")
        assert page.url == origin + "/#window=24h"  # the view can be bookmarked and shared
        page.click("#windows button[data-window='all']")
        expect(page.locator("#total-lines")).to_have_text("65")
        assert page.url == origin + "/"
        assert tab.errors() == [] and tab.foreign() == []
        tab.context.close()
        tab = open_tab(browser, origin + "/#window=1h", origin)  # a shared link opens on its window
        expect(tab.page.locator("#window-label")).to_have_text("· window 1h")
        expect(tab.page.locator("#total-lines")).to_have_text("25")
        tab.context.close()


def test_daemon_without_windows_is_said_clearly(browser: Browser, daemon: Daemon) -> None:
    """A daemon whose /stats ignores `window` (before the windows API): the real answer, without its `window`."""
    origin = f"http://127.0.0.1:{daemon.port}"
    ctx = browser.new_context(locale="en-US")

    def old_daemon(route: Any) -> None:
        response = route.fetch()
        doc = response.json()
        doc.pop("window", None)
        route.fulfill(response=response, json=doc)

    ctx.route("**/stats?*", old_daemon)
    page = ctx.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url[len(origin):]))
    page.goto(origin + "/")
    expect(page.locator("#notice")).to_have_text(
        "This daemon does not offer time windows (GET /stats?window=): everything shown is all-time.")
    expect(page.locator("#window-label")).to_have_text("· all-time")
    assert page.locator("#windows button[disabled]").evaluate_all("bs => bs.map(b => b.dataset.window)") == [
        "1m", "5m", "15m", "1h", "24h"]
    expect(page.locator("#windows button[aria-pressed='true']")).to_have_text("all")
    expect(page.locator("#chart-note")).to_contain_text("from /stats minutes")
    with page.expect_request(lambda r: r.url.endswith("/stats?top=10"), timeout=10_000):
        pass  # at least one more poll, without the window it now knows the daemon ignores
    assert not any(u.startswith("/stats/series") for u in asked)  # it does not ask for what is not there
    assert [u for u in asked if u.startswith("/stats?")][:2] == ["/stats?top=10&window=all", "/stats?top=10"]
    ctx.unroute_all(behavior="ignoreErrors")  # a poll in flight is not an error at teardown
    ctx.close()


def test_refused_window_and_missing_series_are_said_clearly(browser: Browser, daemon: Daemon) -> None:
    origin = f"http://127.0.0.1:{daemon.port}"
    tab = open_tab(browser, origin + "/", origin)
    page = tab.page
    expect(page.locator("#total-lines")).not_to_have_text("–")
    accepted = ["1m", "5m", "15m", "1h", "24h", "all"]
    page.route("**/stats?*window=15m*", lambda r: r.fulfill(
        status=400, json={"error": "window='15m' is not valid here", "accepted": accepted}))
    page.route("**/stats/series?*", lambda r: r.fulfill(status=404, json={"error": "Not Found"}))
    page.click("#windows button[data-window='15m']")
    expect(page.locator("#notice")).to_have_text(
        "The daemon refused window 15m: window='15m' is not valid here (accepted: 1m, 5m, 15m, 1h, 24h, all). "
        "Showing all.")
    expect(page.locator("#windows button[aria-pressed='true']")).to_have_text("all")
    page.click("#windows button[data-window='1h']")
    expect(page.locator("#notice")).to_have_text("The daemon has no /stats/series (HTTP 404): charts show "
                                                 "per-minute event-time counts from /stats instead.")
    expect(page.locator("#chart-note")).to_contain_text("(the daemon has no /stats/series)")
    expect(page.locator("#window-label")).to_have_text("· window 1h")
    # the only console errors are the browser's own lines about the refused requests: window 15m (its series
    # went out with it) and the series of 1h
    assert sorted(m.rsplit("status of ", 1)[1] for m in tab.errors()) == [
        "400 (Bad Request)", "404 (Not Found)", "404 (Not Found)"]
    page.unroute_all(behavior="ignoreErrors")
    tab.context.close()


def text_lines(epoch: float) -> bytes:
    """50 `text` lines of three message shapes: 40 orders, 7 full disks, 3 with markup in the message."""
    st = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))
    out = [f"{st},{i:03d} INFO shop.Orders: order {1000 + i} placed by user{i % 7} total {i * 3}.50 EUR\n"
           for i in range(40)]
    out += [f"{st},500 ERROR shop.Disk: disk /dev/sd{chr(97 + i)} is full\n" for i in range(7)]
    out += [f"{st},600 WARN web.Render: <img src=x onerror=alert({i})> rendered\n" for i in range(3)]
    return "".join(out).encode()


def test_patterns_panel_shows_templates_and_marks_new_ones(browser: Browser, tmp_path: Path) -> None:
    d = Daemon(tmp_path, TAILSTAT_FORMAT="text", TAILSTAT_MULTILINE="off")  # one line, one event: none held
    d.append(text_lines(time.time()))
    with d:
        d.wait_lines(50)
        origin = f"http://127.0.0.1:{d.port}"
        tab = open_tab(browser, origin + "/", origin)
        page = tab.page
        expect(page.locator("#patterns-panel")).to_be_visible()
        expect(page.locator("#patterns .note")).to_have_text("3 patterns · 3 new in the last hour")
        assert [r[:4] for r in rows(page, "#patterns tbody tr")] == [
            ["order <*> placed by <*> total <*> EUR" + "new", "default", "40", "80%"],
            ["disk <*> is full" + "new", "default", "7", "14%"],
            ["<img src=<*> onerror=<*>(<*>)> rendered" + "new", "default", "3", "6%"]]
        assert page.locator("#patterns img").count() == 0 and tab.dialogs == []
        assert tab.errors() == []
        tab.context.close()

        # a pattern first seen two hours ago is not new: the real document with that one's first_seen moved back
        ctx = browser.new_context(locale="en-US")

        def older(route: Any) -> None:
            response = route.fetch()
            doc = response.json()
            for p in doc["patterns"]:
                if p["template"] == "disk <*> is full":
                    p["first_seen"] -= 7200
            route.fulfill(response=response, json=doc)

        ctx.route("**/stats?*", older)
        page = ctx.new_page()
        page.goto(origin + "/")
        expect(page.locator("#patterns .note")).to_have_text("3 patterns · 2 new in the last hour")
        assert [r[0] for r in rows(page, "#patterns tbody tr")] == [
            "order <*> placed by <*> total <*> EURnew", "disk <*> is full", "<img src=<*> onerror=<*>(<*>)> renderednew"]
        ctx.unroute_all(behavior="ignoreErrors")
        ctx.close()


def test_rate_cards_follow_the_window_with_one_decimal(browser: Browser, tmp_path: Path) -> None:
    d = Daemon(tmp_path)
    d.append(lines_at(time.time() - 2, ("200", "404"), 1000))
    with d:
        d.wait_lines(1000)
        origin = f"http://127.0.0.1:{d.port}"
        tab = open_tab(browser, origin + "/#window=1m", origin)
        page = tab.page
        expect(page.locator("#total-lines")).to_have_text("1,000")
        expect(page.locator("#rate-1m-label")).to_have_text("Lines/s (1m window)")
        expect(page.locator("#rate-1m")).to_have_text("16.7")  # 1,000 lines over the window's 60 s
        expect(page.locator("#rate-5m")).to_be_hidden()
        expect(page.locator("#rate-15m")).to_be_hidden()
        page.click("#windows button[data-window='5m']")
        expect(page.locator("#rate-1m-label")).to_have_text("Lines/s (5m window)")
        expect(page.locator("#rate-1m")).to_have_text("3.3")
        page.click("#windows button[data-window='1h']")
        expect(page.locator("#rate-1m-label")).to_have_text("Lines/s (1h window)")
        expect(page.locator("#rate-1m")).to_have_text("0.3")
        doc = d.stats("window=1h")
        assert page.locator("#rate-1m").text_content() == f"{doc['totals']['lines'] / doc['window_seconds']:,.1f}"
        page.click("#windows button[data-window='all']")
        for w in ("1m", "5m", "15m"):  # read rates (wall clock), labelled so, one decimal
            expect(page.locator(f"#rate-{w}-label")).to_have_text(f"Lines/s read ({w})")
            expect(page.locator(f"#rate-{w}")).to_have_text(re.compile(r"^\d+\.\d$"))
        assert tab.errors() == [] and tab.foreign() == []
        tab.context.close()

        # thousands separators: the real document with a large read rate
        ctx = browser.new_context(locale="en-US")

        def busy(route: Any) -> None:
            response = route.fetch()
            doc = response.json()
            doc["rates"]["1m"]["lines"] = 5041.04
            doc["rates"]["5m"]["lines"] = 1
            route.fulfill(response=response, json=doc)

        ctx.route("**/stats?*", busy)
        page = ctx.new_page()
        page.goto(origin + "/")
        expect(page.locator("#rate-1m")).to_have_text("5,041.0")
        expect(page.locator("#rate-5m")).to_have_text("1.0")
        ctx.unroute_all(behavior="ignoreErrors")
        ctx.close()


def stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))


def test_all_chart_shows_the_latest_stretch_and_an_empty_window_has_no_measure_data(browser: Browser,
                                                                                    tmp_path: Path) -> None:
    t0 = (int(time.time()) // 60 - 120) * 60  # a minute two hours ago
    old = time.mktime((2008, 3, 1, 12, 0, 0, 0, 0, 0)) - time.timezone  # 2008-03-01 12:00 UTC
    d = Daemon(tmp_path, TAILSTAT_MEASURES="bytes_sent")
    # minutes with data: 2008-03-01 12:00, then t0, t0+1 and t0+3 (t0+2 has no lines)
    d.append(lines_at(old, ("200",), 10) + lines_at(t0, ("200",), 10) + lines_at(t0 + 60, ("200",), 10)
             + lines_at(t0 + 180, ("500",), 10))
    with d:
        d.wait_lines(40)
        origin = f"http://127.0.0.1:{d.port}"
        tab = open_tab(browser, origin + "/", origin)
        page = tab.page
        expect(page.locator("#total-lines")).to_have_text("40")
        expect(page.locator("#chart-note")).to_have_text(
            "lines/s per minute of the logs' own time, from /stats minutes · the latest 3 h that hold data, "
            f"{stamp(t0)} – {stamp(t0 + 180)} UTC; 1 older minute with data not shown")
        chart = page.locator("#rate-chart")
        expect(chart).to_have_attribute("data-points", "4")  # t0 … t0+3, not back to 2008
        expect(chart).to_have_attribute("data-gaps", "1")  # the minute t0+2 without lines: no line across it
        assert rows(page, "#measures tbody tr")[0][:2] == ["bytes_sent", "40"]
        page.click("#windows button[data-window='1h']")  # nothing in the last hour
        expect(page.locator("#total-lines")).to_have_text("0")
        expect(page.locator("#measures")).to_have_text("no measure data in this window (bytes_sent)")
        assert tab.errors() == [] and tab.foreign() == []
        tab.context.close()
        tab = open_tab(browser, origin + "/#window=1h", origin)  # a tab that never saw the measure's name
        expect(tab.page.locator("#measures")).to_have_text("no measure data in this window")
        tab.context.close()

    d = Daemon(tmp_path / "none", TAILSTAT_FORMAT="text", TAILSTAT_MULTILINE="off")  # text has no measures
    d.append(text_lines(time.time()))
    with d:
        d.wait_lines(50)
        origin = f"http://127.0.0.1:{d.port}"
        tab = open_tab(browser, origin + "/", origin)
        expect(tab.page.locator("#total-lines")).to_have_text("50")
        expect(tab.page.locator("#measures")).to_have_text(
            "no measures configured (TAILSTAT_MEASURES), or no parsed line has carried one yet")
        tab.context.close()


def dd_of(page: Page, term: str) -> str:
    """The health panel's value for `term`."""
    return page.locator("#health dt", has_text=term).locator("xpath=following-sibling::dd[1]").text_content() or ""


def test_health_panel_and_measure_chart_show_the_daemons_numbers(browser: Browser, tmp_path: Path) -> None:
    now = time.time()
    long_line = lines_at(now - 30, ("200",), 1).replace(b"/w0", b"/" + b"x" * 900)
    cut = len(long_line) - 1 - 256  # the line without its newline, cut to TAILSTAT_MAX_LINE_BYTES
    body = b"".join(lines_at(now - 30 - 60 * k, ("200", "404"), 20, start=20 * k).replace(b" 512 ", f" {100 + k} ".encode())
                    for k in range(3))
    d = Daemon(tmp_path, TAILSTAT_MEASURES="bytes_sent", TAILSTAT_MAX_LINE_BYTES="256", TAILSTAT_QUEUE_BATCHES="7")
    d.append(body + long_line)
    with d:
        d.wait_lines(61)
        origin = f"http://127.0.0.1:{d.port}"
        tab = open_tab(browser, origin + "/#window=1h", origin)
        page = tab.page
        expect(page.locator("#total-lines")).to_have_text("61")
        expect(page.locator("#total-dropped")).to_have_text("0")  # a cut line is kept; its cut bytes are dropped
        doc = d.stats("window=1h")
        assert doc["dropped"] == {"line_too_long": {"lines": 0, "bytes": cut}}
        assert dd_of(page, "queue") == "0 / 7 batches"
        assert dd_of(page, "open / tracked files") == "1 / 1"
        assert dd_of(page, "unreadable files") == "0"
        assert dd_of(page, "dropped") == f"line_too_long 0 lines / {cut} B"
        expect(page.locator("#total-errors")).to_have_text("1")
        errors = doc["errors"]
        assert sum(errors.values()) == 1
        assert dd_of(page, "parse errors by reason") == (
            " · ".join(f"{r} {n:,}" for r, n in sorted(errors.items(), key=lambda kv: -kv[1])) or "none")
        assert re.fullmatch(r"ok · (last written \d+ s ago|not written yet)", dd_of(page, "checkpoint"))

        # each measure's p50/p90/p99 over the window, drawn from the daemon's own series
        holder = page.locator('#measures [data-measure="bytes_sent"]')
        expect(holder.locator("h3")).to_have_text("bytes_sent p50 / p90 / p99")
        expect(holder.locator(".uplot")).to_have_count(1)
        series = d.get_json("/stats/series?window=1h&fields=class")
        p50 = series["measures"]["bytes_sent"]["p50"]
        assert sum(v is not None for v in p50) == 3  # three minutes with values
        expect(holder.locator(".chart")).to_have_attribute("data-points", str(len(series["t"])))
        expect(holder.locator(".chart")).to_have_attribute("data-gaps", str(p50.count(None)))
        assert holder.locator(".u-legend .u-series .u-label").all_text_contents() == ["Time", "p50", "p90", "p99"]
        assert rows(page, "#measures tbody tr")[0][:2] == ["bytes_sent", "60"]  # the cut line no longer parses
        assert tab.errors() == [] and tab.foreign() == []
        tab.context.close()
