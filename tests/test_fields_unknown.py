"""A field that does not exist (`stats --field nosuch`, `top --field`, `GET /stats?fields=nosuch`) is named, with
the list of those that do: CLI exit 2, HTTP 400 with JSON. Real daemon, real CLI, real HTTP."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from test_http_support import Daemon, access_lines, base_env, cli

FIELDS = ["bytes_sent", "client", "method", "path", "status"]
MESSAGE = "no field 'nosuch' in the stats; the fields are: " + ", ".join(FIELDS)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    d = Daemon(tmp_path_factory.mktemp("fields"))
    d.append(access_lines(20))
    with d:
        d.wait_lines(20)
        yield d


@pytest.mark.parametrize("command", [["stats", "--field", "nosuch"], ["stats", "--json", "--field", "status",
                                     "--field", "nosuch"], ["stats", "--follow", "--field", "nosuch"],
                                     ["top", "--iterations", "1", "--field", "nosuch"]])
def test_cli_names_the_missing_field_and_lists_the_others(daemon: Daemon, command: list[str]) -> None:
    done = cli(base_env(daemon.tmp, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{daemon.port}"), *command)
    assert (done.returncode, done.stdout, done.stderr.decode()) == (2, b"", f"tailstat: {MESSAGE}\n")


@pytest.mark.parametrize("path", ["/stats?fields=nosuch", "/stats?fields=status,nosuch",
                                  "/stats/stream?fields=nosuch"])
def test_http_400_with_the_accepted_list(daemon: Daemon, path: str) -> None:
    status, headers, body = daemon.request(path)
    assert (status, headers["content-type"]) == (400, "application/json")
    assert orjson.loads(body) == {"error": f"fields: {MESSAGE}", "accepted": FIELDS}


def test_existing_fields_still_answer(daemon: Daemon) -> None:
    assert set(daemon.stats("fields=status,bytes_sent")["fields"]) == {"status"}
    done = cli(base_env(daemon.tmp, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{daemon.port}"), "stats", "--field", "method")
    assert done.returncode == 0 and "method" in done.stdout.decode()


def test_snapshot_source_and_configured_fields_before_any_line(tmp_path: Path) -> None:
    settings = {"TAILSTAT_HTTP_ADDR": "off", "TAILSTAT_GROUP_BY": "user_agent", "TAILSTAT_SNAPSHOT_INTERVAL": "0.1"}
    d = Daemon(tmp_path, **settings)
    d.log_path.touch()
    with d:
        env = base_env(tmp_path, **settings)
        configured = cli(env, "stats", "--json", "--field", "user_agent")  # configured, nothing counted yet
        assert configured.returncode == 0, configured.stderr
        assert orjson.loads(configured.stdout)["fields"] == {}
        missing = cli(env, "stats", "--field", "nosuch")
        assert missing.returncode == 2
        assert missing.stderr.decode() == ("tailstat: no field 'nosuch' in the stats; the fields are: "
                                           "bytes_sent, client, method, path, status, user_agent\n")
