"""`tailstat stats` over HTTP (tcp and unix socket), `--follow`, the HTTP-off fallback, and the one-line
answer when no daemon is reachable."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from test_http_support import Daemon, access_lines, base_env, cli, expected, free_port, until

N = 300


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    d = Daemon(tmp_path_factory.mktemp("cli"))
    d.append(access_lines(N))
    with d:
        d.wait_lines(N)
        yield d


def client_env(d: Daemon) -> dict[str, str]:
    return base_env(d.tmp, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{d.port}")


def test_stats_json_over_http(daemon: Daemon) -> None:
    done = cli(client_env(daemon), "stats", "--json")
    assert done.returncode == 0, done.stderr
    doc = orjson.loads(done.stdout)
    assert doc["totals"]["lines"] == N and doc["daemon"]["pid"] == daemon.proc.pid  # type: ignore[union-attr]
    assert dict(doc["fields"]["status"]["top"]) == dict(expected(N)["status"])


def test_stats_field_and_top(daemon: Daemon) -> None:
    done = cli(client_env(daemon), "stats", "--json", "--field", "status", "--field", "client", "--top", "2")
    doc = orjson.loads(done.stdout)
    assert set(doc["fields"]) == {"status", "client"} and doc["measures"] == {}
    assert [len(f["top"]) for f in doc["fields"].values()] == [2, 2]


def test_stats_table(daemon: Daemon) -> None:
    done = cli(client_env(daemon), "stats", "--field", "status")
    text = done.stdout.decode()
    assert done.returncode == 0
    assert f"lines {N:,}  parsed {N:,}  parse errors 0" in text
    assert any(ln.split() == ["150", "50.0%", "200"] for ln in text.splitlines()) and "method" not in text


def follow(env: dict[str, str], *args: str, lines: int) -> tuple[list[bytes], int, bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "tailstat", "stats", "--follow", "--interval", "0.2", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    got = [proc.stdout.readline() for _ in range(lines)]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    return got, proc.returncode, err


def test_follow_json_is_ndjson_until_interrupted(daemon: Daemon) -> None:
    got, code, err = follow(client_env(daemon), "--json", "--field", "status", "--window", "all", lines=3)
    docs = [orjson.loads(line) for line in got]
    assert [d["stream"]["seq"] for d in docs] == [0, 1, 2]
    assert all(d["totals"]["lines"] == N and set(d["fields"]) == {"status"} for d in docs)
    assert [d["delta"]["lines"] for d in docs] == [N, 0, 0]
    assert code == 130 and err == b""


def test_follow_human_line(daemon: Daemon) -> None:
    got, code, _ = follow({**client_env(daemon), "COLUMNS": "200"}, "--window", "all", lines=2)  # wide; all: deltas
    first, second = (line.decode() for line in got)
    assert f"lines {N:,} total " in first and "lines +0 (0.0/s)" in second
    assert "errors +0 (0 total)" in second
    assert "status=200 50%" in second and "method=GET 50%" in second and "client=10.0.0." in second
    assert code == 130


@pytest.mark.parametrize("command", [["stats"], ["stats", "--json"], ["stats", "--follow"], ["top"],
                                     ["top", "--iterations", "1"]])
def test_unreachable_daemon_one_line_exit_1(tmp_path: Path, command: list[str]) -> None:
    port = free_port()
    done = cli(base_env(tmp_path, TAILSTAT_HTTP_ADDR=f"127.0.0.1:{port}"), *command)
    assert done.returncode == 1 and done.stdout == b""
    [line] = done.stderr.decode().splitlines()
    assert f"no tailstat daemon answering at http://127.0.0.1:{port} (Connection refused)" in line
    assert "TAILSTAT_HTTP_ADDR" in line


def test_unreachable_unix_socket(tmp_path: Path) -> None:
    done = cli(base_env(tmp_path, TAILSTAT_HTTP_ADDR=f"unix:{tmp_path}/none.sock"), "stats")
    assert done.returncode == 1
    [line] = done.stderr.decode().splitlines()
    assert f"unix:{tmp_path}/none.sock (No such file or directory)" in line and "TAILSTAT_HTTP_ADDR" in line


def test_unix_socket_by_default_under_systemd(tmp_path: Path) -> None:
    run = tmp_path / "run"
    d = Daemon(tmp_path, RUNTIME_DIRECTORY=str(run))
    d.append(access_lines(25))
    with d:
        sock = run / "tailstat.sock"
        assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o660
        env = base_env(tmp_path, RUNTIME_DIRECTORY=str(run))
        doc = until(lambda: orjson.loads(cli(env, "stats", "--json").stdout),
                    lambda doc: doc["totals"]["lines"] == 25, what="25 lines via the unix socket")
        assert doc["daemon"]["http"] == f"unix:{sock}"
    assert d.proc is not None and d.proc.returncode == 0
    assert not sock.exists()


def test_http_off_falls_back_to_the_snapshot_file(tmp_path: Path) -> None:
    d = Daemon(tmp_path, TAILSTAT_HTTP_ADDR="off")
    d.append(access_lines(30))
    env = base_env(tmp_path, TAILSTAT_HTTP_ADDR="off")
    with d:
        assert not d.events("http_listening")
        # the snapshot file is written every TAILSTAT_SNAPSHOT_INTERVAL: wait for the one with all 30 lines
        def snapshot() -> dict | None:
            done = cli(env, "stats", "--json", "--top", "1")
            assert done.returncode in (0, 1), done.stderr  # 1 only until the first snapshot file exists
            return orjson.loads(done.stdout) if done.returncode == 0 else None

        doc = until(snapshot, lambda doc: doc is not None and doc["totals"]["lines"] == 30,
                    what="30 lines in the snapshot file")
        assert len(doc["fields"]["status"]["top"]) == 1
        follow_off = cli(env, "stats", "--follow")
        assert follow_off.returncode == 1 and b"TAILSTAT_HTTP_ADDR=off" in follow_off.stderr
    gone = cli(env, "stats")
    assert gone.returncode == 1 and b"is not running" in gone.stderr


def test_stats_interval_without_follow_is_refused(tmp_path: Path) -> None:
    done = cli(base_env(tmp_path, TAILSTAT_HTTP_ADDR="off"), "stats", "--interval", "2")
    assert (done.returncode, done.stderr.strip()) == (2, b"tailstat: stats --interval only applies with --follow")


def test_top_iterations_must_be_at_least_one(tmp_path: Path) -> None:
    done = cli(base_env(tmp_path, TAILSTAT_HTTP_ADDR="off"), "top", "--iterations", "0")
    assert done.returncode == 2
    assert done.stderr.strip().endswith(b"argument --iterations: '0' is not valid; accepted: an integer 1..100000")
