"""A stream client that never reads is dropped, and ingestion keeps counting meanwhile (counts, no timings)."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from test_http_support import Daemon, access_lines, wait_for

LONG = "x" * 300  # long path values make each stream line ~40 KB, so a stalled reader fills buffers fast
ROUNDS, PER_ROUND = 20, 500


def metric(daemon: Daemon, name: str) -> float:
    families = text_string_to_metric_families(daemon.request("/metrics")[2].decode())
    return next(f for f in families if f.name == name).samples[0].value


def test_stalled_stream_reader_is_dropped_and_ingestion_goes_on(tmp_path: Path) -> None:
    d = Daemon(tmp_path)
    d.append(access_lines(PER_ROUND, paths=1000, prefix=LONG))
    with d:
        d.wait_lines(PER_ROUND)
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a tiny window
        stalled.connect(("127.0.0.1", d.port))
        stalled.sendall(b"GET /stats/stream?interval=0.1&top=100 HTTP/1.1\r\nHost: x\r\n\r\n")
        # a healthy follower on the side, reading every line
        healthy = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        healthy.request("GET", "/stats/stream?interval=0.5&top=1&fields=status")
        follow = healthy.getresponse()
        lines = [orjson.loads(follow.readline())]
        wait_for(lambda: metric(d, "tailstat_http_stream_clients") == 2, what="both stream clients connected")

        for r in range(1, ROUNDS + 1):  # keep appending while the stalled reader's buffers fill up
            d.append(access_lines(PER_ROUND, start=r * PER_ROUND, paths=1000, prefix=LONG))
            d.wait_lines((r + 1) * PER_ROUND)
        total = (ROUNDS + 1) * PER_ROUND

        [dropped] = wait_for(lambda: d.events("stream_client_dropped"), what="the stalled client dropped")
        assert dropped["reason"] in ("buffer_full", "write_timeout")
        assert dropped["unsent_bytes"] <= 2 * (256 << 10) + (1 << 20)  # bounded, never all it was sent
        assert metric(d, "tailstat_http_stream_clients_dropped") == 1
        assert metric(d, "tailstat_http_stream_clients") == 1  # the healthy one stays
        doc = d.stats()
        assert (doc["totals"]["lines"], doc["totals"]["parsed"], doc["totals"]["parse_errors"]) == (total, total, 0)

        while lines[-1]["totals"]["lines"] != total:
            lines.append(orjson.loads(follow.readline()))
        assert sum(ln["delta"]["lines"] for ln in lines) == total
        assert [ln["stream"]["seq"] for ln in lines] == list(range(len(lines)))
        healthy.close()
        stalled.close()
    assert d.proc is not None and d.proc.returncode == 0
    assert d.noise() == []
