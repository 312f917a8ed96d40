"""Bearer-token enforcement with a non-loopback bind, and the refusal to bind one without a token."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from test_http_support import Daemon, access_lines, base_env, cli, free_port

TOKEN = "s3cret-token-with-enough-entropy"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    d = Daemon(tmp_path_factory.mktemp("token"), host="0.0.0.0", token=TOKEN)
    d.append(access_lines(40))
    with d:
        d.wait_lines(40)
        yield d


@pytest.mark.parametrize("path", ["/stats", "/stats/stream?interval=1", "/metrics", "/healthz", "/readyz", "/nope"])
@pytest.mark.parametrize(("authorization", "status"), [
    (None, 401),
    ("Bearer wrong", 401),
    (f"Bearer {TOKEN}x", 401),
    (f"Bearer {TOKEN[:-1]}", 401),
    (f"Basic {TOKEN}", 401),
    (TOKEN, 401),
])
def test_wrong_or_missing_token_is_401(daemon: Daemon, path: str, authorization: str | None, status: int) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    got, hdrs, body = daemon.request(path, token="", headers=headers)
    assert got == status
    assert hdrs["www-authenticate"] == 'Bearer realm="tailstat"'
    assert orjson.loads(body) == {"error": "missing or wrong bearer token"}


@pytest.mark.parametrize(("path", "status"), [("/stats", 200), ("/metrics", 200), ("/healthz", 200),
                                              ("/readyz", 200), ("/nope", 404)])
def test_right_token_is_accepted(daemon: Daemon, path: str, status: int) -> None:
    assert daemon.request(path, token=TOKEN)[0] == status
    assert daemon.request(path, token="", headers={"Authorization": f"bearer  {TOKEN}"})[0] == status


def test_cli_sends_the_configured_token(daemon: Daemon) -> None:
    env = base_env(daemon.tmp, TAILSTAT_HTTP_ADDR=f"0.0.0.0:{daemon.port}", TAILSTAT_HTTP_TOKEN=TOKEN)
    ok = cli(env, "stats", "--json")
    assert ok.returncode == 0, ok.stderr
    assert orjson.loads(ok.stdout)["totals"]["lines"] == 40
    env["TAILSTAT_HTTP_TOKEN"] = "wrong"
    bad = cli(env, "stats", "--json")
    assert bad.returncode == 1 and bad.stdout == b""
    [line] = bad.stderr.decode().splitlines()
    assert f"http://0.0.0.0:{daemon.port}" in line and "TAILSTAT_HTTP_TOKEN" in line


def test_non_loopback_bind_without_token_refuses_to_start(tmp_path: Path) -> None:
    env = base_env(tmp_path, TAILSTAT_HTTP_ADDR=f"0.0.0.0:{free_port()}")
    done = cli(env, "run", timeout=20)
    assert done.returncode == 2
    [line] = done.stderr.decode().splitlines()
    assert "TAILSTAT_HTTP_ADDR" in line and "TAILSTAT_HTTP_TOKEN" in line
