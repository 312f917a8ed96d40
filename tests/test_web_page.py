"""The web page in a real browser (Debian's chromium driven by Playwright; nothing downloads a browser) against
a real daemon subprocess: exact totals and tables, live updates without reload, time windows, the token flow,
the static report from file://, no request leaving the origin, no console errors.

One browser for the module; each test opens its own context (fresh sessionStorage)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from test_http_support import Daemon, access_lines, base_env, cli, expected

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/test.sh installs it)
N = 1234
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> not a log line'
TOKEN = "page-token-Zq9"
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
    assert page.locator("#status").text_content().startswith("static report · ")
    assert page.locator("#rate-chart .uplot").count() == 1  # the chart library ran under the report's CSP
    assert [r.url for r in tab.requests if not r.url.startswith(("file://", "data:"))] == []
    assert tab.dialogs == [] and tab.errors() == []  # a CSP violation would be a console error
    live.context.close()
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
