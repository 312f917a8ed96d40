"""The web page over real HTTP (no browser): the shell is public and compressed, data needs the token, and every
response carries the security headers; the static report's HTML."""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import orjson
import pytest

from tailstat.web.assets import FILES, read
from tailstat.web.report import DATA_ID, render_report, report_title
from tailstat.web.serve import CSP, accepts_gzip
from test_http_support import Daemon, access_lines

TOKEN = "web-token-123"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    d = Daemon(tmp_path_factory.mktemp("webhttp"), token=TOKEN)
    d.append(access_lines(30))
    d.start()
    d.wait_lines(30)
    yield d
    assert d.stop() == 0


def test_shell_and_files_load_without_token_and_data_needs_it(daemon: Daemon) -> None:
    for path in FILES:
        status, headers, body = daemon.request("/" + path, token="")
        assert status == 200, path
        assert body == read(FILES[path][0])
        assert headers["content-type"] == FILES[path][1]
        assert headers["content-security-policy"] == CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-cache"  # revalidated by ETag, never stale
    for path in ("/stats", "/stats?window=5m", "/stats/series?window=1h", "/stats/stream", "/metrics"):
        status, headers, body = daemon.request(path, token="")
        assert status == 401, path
        assert orjson.loads(body) == {"error": "missing or wrong bearer token"}
        assert headers["cache-control"] == "no-store"
    status, _, _ = daemon.request("/stats", token="wrong")
    assert status == 401
    status, _, _ = daemon.request("/static/other.js", token="")  # only the page's own files are public
    assert status == 401


def test_data_responses_are_not_cached_and_carry_the_headers(daemon: Daemon) -> None:
    for path in ("/stats", "/metrics", "/healthz", "/nope"):
        status, headers, _ = daemon.request(path)
        assert status == (404 if path == "/nope" else 200)
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-security-policy"] == CSP


def test_files_are_served_gzip_with_etag(daemon: Daemon) -> None:
    status, headers, body = daemon.request("/static/app.js", token="", headers={"Accept-Encoding": "gzip, br"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == read("app.js")
    status, again, body = daemon.request("/static/app.js", token="", headers={"If-None-Match": headers["etag"]})
    assert (status, body, again["etag"]) == (304, b"", headers["etag"])
    status, headers, body = daemon.request("/", token="", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in headers and body == read("index.html")
    total = sum(len(gzip.compress(read(name), 9)) for name, _ in FILES.values())
    assert total < 200 * 1024  # the whole page at load, before data


def test_json_data_is_compressed_for_clients_that_accept_it(daemon: Daemon) -> None:
    status, headers, body = daemon.request("/stats", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] in ("gzip", "deflate")
    plain_status, plain_headers, plain = daemon.request("/stats")
    assert plain_status == 200 and "content-encoding" not in plain_headers
    doc = orjson.loads(gzip.decompress(body) if headers["content-encoding"] == "gzip" else zlib.decompress(body))
    assert doc["totals"] == orjson.loads(plain)["totals"]
    assert len(body) < len(plain)


def test_page_has_no_inline_script_or_style_and_only_relative_urls() -> None:
    html = read("index.html").decode()
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="static/uPlot.iife.min.js" defer>',
                                                    '<script src="static/app.js" defer>']
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    assert re.findall(r'(?:href|src)="([^"]+)"', html) == [
        "static/icon.svg", "static/uPlot.min.css", "static/app.css", "static/uPlot.iife.min.js", "static/app.js"]
    js = read("app.js").decode()
    assert "innerHTML" not in js and "eval(" not in js and "http://" not in js and "https://" not in js
    # every data URL is relative (works under a path prefix): "stats?…", "stats/series?…", never "/stats"
    assert sorted(set(re.findall(r'"(/?stats[^"?]*)\?', js))) == ["stats", "stats/series"]


def test_accepts_gzip() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert accepts_gzip("*")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("br, deflate")
    assert not accepts_gzip("")


def test_report_inlines_data_that_cannot_escape_its_element() -> None:
    hostile = '</script><script>alert(1)</script><!--'
    doc = {"totals": {"lines": 1}, "error_samples": [hostile], "fields": {}, "files": []}
    html = render_report(doc, "a <b>.log")
    assert html.count("</script>") == 3  # uPlot, app.js, the data element: nothing in the data closes one
    assert "<title>tailstat report: a &lt;b&gt;.log</title>" in html
    data = html.rsplit(f'<script type="application/json" id="{DATA_ID}">', 1)[1].split("</script>", 1)[0]
    assert orjson.loads(data)["doc"]["error_samples"] == [hostile]
    assert 'src="static/' not in html and 'href="static/' not in html  # self-contained
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html).group(1)
    assert csp.startswith("default-src 'none'; script-src 'sha256-") and "unsafe-inline" not in csp


def test_report_title() -> None:
    assert report_title(["/var/log/a.log"]) == "a.log"
    assert report_title(["-", "/x/b.log.gz"]) == "standard input, b.log.gz"
    assert report_title([f"/l/{i}.log" for i in range(5)]) == "0.log, 1.log, 2.log and 2 more"


def test_scan_html_writes_the_report(tmp_path: Path) -> None:
    from test_http_support import base_env, cli

    log = tmp_path / "a.log"
    log.write_bytes(access_lines(40) + b"not a log line\n")
    out = tmp_path / "report.html"
    env = base_env(tmp_path)
    res = cli(env, "scan", "--format", "combined", "--html", str(out), str(log))
    assert (res.returncode, res.stdout, res.stderr) == (0, b"", b"")
    html = out.read_text()
    data = orjson.loads(html.rsplit(f'id="{DATA_ID}">', 1)[1].split("</script>", 1)[0])
    assert data["doc"]["totals"]["lines"] == 41 and data["doc"]["totals"]["parse_errors"] == 1
    assert data["title"] == "a.log"
    res = cli(env, "scan", "--format", "combined", "--html", str(tmp_path / "no" / "r.html"), str(log))
    assert res.returncode == 1
    assert res.stderr.decode().startswith(f"tailstat: cannot write {tmp_path / 'no' / 'r.html'}: ")
