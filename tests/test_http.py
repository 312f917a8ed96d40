"""HTTP API against the daemon as a subprocess: /stats, /stats/stream, health, and request hygiene."""

from __future__ import annotations

import asyncio
import http.client
import itertools
from pathlib import Path

import orjson
import pytest

from test_http_support import Daemon, access_lines, base_env, cli, expected

N = 600


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    # asyncio debug mode: a callback that blocks the loop > 100 ms logs a warning, which noise() catches
    d = Daemon(tmp_path_factory.mktemp("http"), PYTHONASYNCIODEBUG="1")
    d.append(access_lines(N) + b"not an access log line\n")
    with d:
        d.wait_lines(N + 1)
        yield d
    assert d.proc is not None and d.proc.returncode == 0
    assert d.noise() == []
    assert not d.events("error") and not [e for e in d.events() if e.get("level") == "error"]


def test_stats_is_the_stats_document(daemon: Daemon) -> None:
    doc = daemon.stats("top=20")
    assert doc["schema"] == 1
    assert doc["totals"]["lines"] == N + 1
    assert doc["totals"]["parsed"] == N
    assert doc["totals"]["parse_errors"] == 1
    [f] = doc["files"]
    assert (f["path"], f["lines"], f["bytes"], f["lag_bytes"]) == (str(daemon.log_path), N + 1,
                                                                   daemon.log_path.stat().st_size, 0)
    want = expected(N)
    for name in ("status", "method", "path", "client"):
        assert dict(doc["fields"][name]["top"]) == dict(want[name]), name
        assert doc["fields"][name]["distinct"] == len(want[name])
    m = doc["measures"]["bytes_sent"]
    assert (m["count"], m["sum"], m["min"], m["max"]) == (N, sum(100 + i % 50 for i in range(N)), 100, 149)
    assert doc["daemon"]["http"] == f"127.0.0.1:{daemon.port}"


def test_stats_subset_by_fields_and_top(daemon: Daemon) -> None:
    doc = daemon.stats("fields=status,bytes_sent&top=2")
    assert set(doc["fields"]) == {"status"}
    assert set(doc["measures"]) == {"bytes_sent"}
    assert doc["fields"]["status"]["top"] == [list(kv) for kv in expected(N)["status"].most_common(2)]
    assert doc["totals"]["lines"] == N + 1  # totals and files are always there


def test_health_and_readiness(daemon: Daemon) -> None:
    status, _, body = daemon.request("/healthz")
    assert (status, orjson.loads(body)["status"]) == (200, "alive")
    status, _, body = daemon.request("/readyz")
    assert (status, orjson.loads(body)) == (200, {"status": "ready"})


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/stats", 405), ("PUT", "/metrics", 405), ("DELETE", "/stats/stream", 405),
    ("GET", "/nope", 404), ("GET", "/stats/", 404), ("POST", "/nope", 404),
    ("GET", "/stats?top=abc", 400), ("GET", "/stats?top=-1", 400), ("GET", "/stats?top=1001", 400),
    ("GET", "/stats/stream?interval=0", 400), ("GET", "/stats/stream?interval=nan", 400),
    ("GET", "/stats?fields=" + "a," * 600, 414),
    ("GET", "/stats?x=" + "a" * 5000, 400),  # request line over aiohttp's max_line_size
])
def test_rejected_requests(daemon: Daemon, method: str, path: str, status: int) -> None:
    got, headers, body = daemon.request(path, method=method)
    assert got == status, body
    if status != 400 or "x=" not in path:
        assert "error" in orjson.loads(body)
    if status == 405:
        assert headers["allow"] == "GET,HEAD"


def bad_requests(daemon: Daemon) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    metrics = text_string_to_metric_families(daemon.request("/metrics")[2].decode())
    return next(m for m in metrics if m.name == "tailstat_http_bad_requests").samples[0].value


def test_header_limits(daemon: Daemon) -> None:
    before = bad_requests(daemon)
    assert daemon.request("/stats", headers={"X-Big": "a" * 5000})[0] == 400
    many = {f"X-H{i}": "1" for i in range(100)}
    assert daemon.request("/stats", headers=many)[0] == 400
    assert bad_requests(daemon) == before + 2  # counted; the fixture checks stderr got no tracebacks


def test_head_has_no_body(daemon: Daemon) -> None:
    status, headers, body = daemon.request("/stats", method="HEAD")
    assert (status, body, headers["content-type"]) == (200, b"", "application/json")


def test_stream_one_line_per_interval_and_deltas_add_up(daemon: Daemon) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    conn.request("GET", "/stats/stream?interval=0.2&fields=status&top=3")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/x-ndjson"
    lines = [orjson.loads(resp.readline())]
    appended = 0
    for chunk in range(4):  # appends in pieces, one split mid-line, while the stream runs
        data = access_lines(50, start=N + chunk * 50)
        daemon.append(data[:77])
        lines.append(orjson.loads(resp.readline()))
        daemon.append(data[77:])
        appended += 50
        lines.append(orjson.loads(resp.readline()))
    final = N + 1 + appended
    while lines[-1]["totals"]["lines"] != final:
        lines.append(orjson.loads(resp.readline()))
        assert len(lines) < 200, "appended lines never showed up in the stream"
    conn.close()

    assert [ln["stream"]["seq"] for ln in lines] == list(range(len(lines)))
    assert all(ln["stream"]["interval"] == 0.2 for ln in lines)
    assert lines[0]["delta"] == lines[0]["totals"] and lines[0]["rates"]["window"] is None
    for prev, cur in itertools.pairwise(lines):
        assert all(cur["totals"][k] - prev["totals"][k] == cur["delta"][k] for k in cur["totals"])
        assert cur["stream"]["window_seconds"] > 0 and cur["rates"]["window"] is not None
        assert sum(f["delta_lines"] for f in cur["files"]) == cur["delta"]["lines"]
    assert sum(ln["delta"]["lines"] for ln in lines) == final
    assert sum(ln["delta"]["lines"] for ln in lines[1:]) == appended
    assert sum(ln["delta"]["parse_errors"] for ln in lines) == 1
    last = lines[-1]
    assert set(last["fields"]) == {"status"} and len(last["fields"]["status"]["top"]) == 3
    assert "minutes" not in last
    assert dict(last["fields"]["status"]["top"]) == dict(expected(N + appended)["status"].most_common(3))


def test_stream_ends_when_the_daemon_stops(tmp_path: Path) -> None:
    d = Daemon(tmp_path)
    d.append(access_lines(10))
    d.start()
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    conn.request("GET", "/stats/stream?interval=0.1")
    resp = conn.getresponse()
    assert orjson.loads(resp.readline())["stream"]["seq"] == 0
    assert d.stop() == 0
    rest = resp.read()  # the chunked body ends cleanly instead of hanging
    assert all(orjson.loads(line)["totals"]["lines"] == 10 for line in rest.splitlines())
    assert d.events("stopped")[0]["lines"] == 10
    assert d.noise() == []


def test_readyz_is_503_until_ready(tmp_path: Path) -> None:
    """In-process: a Service that has not finished starting, its API served on a real socket."""
    from aiohttp import ClientSession
    from aiohttp.test_utils import TestServer

    from tailstat.config import load_config
    from tailstat.http import HttpApi
    from tailstat.service import Service

    async def scenario() -> list[int]:
        cfg = load_config({"TAILSTAT_PATHS": str(tmp_path / "*.log"), "TAILSTAT_STATE_DIR": str(tmp_path)})
        service, stop = Service(cfg), asyncio.Event()
        codes = []
        async with TestServer(HttpApi(service, stop).app()) as server, ClientSession() as session:
            for step in (None, service.ready.set, stop.set):
                if step:
                    step()
                async with session.get(server.make_url("/readyz")) as resp:
                    codes.append(resp.status)
        return codes

    assert asyncio.run(scenario()) == [503, 200, 503]


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_bind_failure_is_loud(tmp_path: Path, kind: str) -> None:
    addr = f"unix:{tmp_path}/api.sock" if kind == "unix" else None
    with Daemon(tmp_path / "a", **({"TAILSTAT_HTTP_ADDR": addr} if addr else {})) as first:
        addr = addr or f"127.0.0.1:{first.port}"
        second = Daemon(tmp_path / "b", TAILSTAT_HTTP_ADDR=addr).start(wait_ready=False)
        assert second.proc is not None and second.proc.wait(timeout=20) == 1
        second.stop()
        [event] = second.events("http_bind_failed")
        assert event["addr"] == addr and "TAILSTAT_HTTP_ADDR" in event["hint"]
        assert not second.events("ready")
        assert not second.events("crashed") and second.noise() == []  # one clear line, no traceback
        assert not (tmp_path / "b" / "state" / "state.json").exists()  # it stopped before tailing anything
        assert Path(f"{tmp_path}/api.sock").is_socket() == (kind == "unix")  # the first one's socket stays
        assert cli(base_env(tmp_path / "a", TAILSTAT_HTTP_ADDR=addr), "stats", "--json").returncode == 0
