"""Configuration: env vars read once; bad values exit 2 naming the variable and what is accepted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tailstat.config import ConfigError, load_config


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
    return subprocess.run(check=False, args=[sys.executable, "-m", "tailstat", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TAILSTAT_PATHS": ""}, "TAILSTAT_PATHS is empty; accepted: comma-separated absolute file globs"),
        ({}, ("tailstat: configuration error: TAILSTAT_PATHS is not set; set it to comma-separated absolute file "
              "globs, e.g. TAILSTAT_PATHS=/var/log/nginx/*.log, or set TAILSTAT_SOURCES to source names, each with "
              "TAILSTAT_SOURCE_<NAME>_PATHS")),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_WORKERS": "many"},
         "TAILSTAT_WORKERS='many' is not an integer; accepted: 1..256"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_WORKERS": "0"},
         "TAILSTAT_WORKERS='0' is out of range; accepted: 1..256"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_FORMAT": "xml"},
         "TAILSTAT_FORMAT='xml' is not valid; accepted: auto, combined"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_READ_FROM": "middle"},
         "TAILSTAT_READ_FROM='middle' is not valid; accepted: end, beginning"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_PATH": "/y"},
         "TAILSTAT_PATH is not a known setting; did you mean TAILSTAT_PATHS? accepted: the TAILSTAT_* variables of "
         "the README's Configuration"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_COLOUR": "1"},
         "TAILSTAT_COLOUR is not a known setting; accepted: the TAILSTAT_* variables of the README's Configuration"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_SOURCE_API_PATHS": "/y/*.log"},
         "TAILSTAT_SOURCE_API_PATHS is not a known setting: no source API in TAILSTAT_SOURCES; accepted: add API"),
        ({"TAILSTAT_PATHS": "relative/*.log"},
         "TAILSTAT_PATHS entry 'relative/*.log' is not an absolute path"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_SHUTDOWN_TIMEOUT": "soon"},
         "TAILSTAT_SHUTDOWN_TIMEOUT='soon' is not a duration"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_BATCH_BYTES": "1 parsec"},
         "TAILSTAT_BATCH_BYTES='1 parsec' is not a size"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_FORMAT": "combined", "TAILSTAT_MEASURES": "path"},
         "TAILSTAT_MEASURES names 'path', which is not a number in format combined; accepted: status, bytes_sent"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_HTTP_ADDR": "unix:relative.sock"},
         "TAILSTAT_HTTP_ADDR='unix:relative.sock' is not an absolute socket path"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_HTTP_ADDR": "0.0.0.0:9514"},
         "TAILSTAT_HTTP_ADDR='0.0.0.0:9514' is not a loopback address and TAILSTAT_HTTP_TOKEN is unset"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_FORMAT": "regex", "TAILSTAT_REGEX": "(unclosed"},
         "TAILSTAT_REGEX='(unclosed' does not compile"),
        ({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_FORMAT": "regex", "TAILSTAT_REGEX": r"(\d+) (\w+)"},
         "has no named group"),
        ({"TAILSTAT_SOURCES": "nginx", "TAILSTAT_SOURCE_NGINX_FORMAT": "json"},
         "TAILSTAT_SOURCE_NGINX_PATHS is not set; accepted: comma-separated absolute file globs"),
        ({"TAILSTAT_SOURCES": "nginx", "TAILSTAT_SOURCE_NGINX_PATHS": " "},
         "TAILSTAT_SOURCE_NGINX_PATHS is empty"),
    ],
)
def test_bad_setting_exits_2_naming_the_variable(env: dict[str, str], message: str) -> None:
    result = run_cli("run", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tailstat: configuration error: ")
    assert message in lines[0]


def test_config_prints_effective_configuration() -> None:
    result = run_cli("config", env={"TAILSTAT_PATHS": "/var/log/nginx/*.log", "TAILSTAT_WORKERS": "3",
                                    "TAILSTAT_FORMAT": "combined", "TAILSTAT_GROUP_BY": "user",
                                    "TAILSTAT_STATE_DIR": "/var/lib/x"})
    assert result.returncode == 0, result.stderr
    rows = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert rows["TAILSTAT_PATHS"] == "/var/log/nginx/*.log"
    assert rows["TAILSTAT_FORMAT"] == "combined"
    assert rows["TAILSTAT_GROUP_BY"] == "status,method,path,client,user"
    assert rows["TAILSTAT_MEASURES"] == "bytes_sent"
    assert rows["TAILSTAT_WORKERS"] == "3"
    assert rows["TAILSTAT_STATE_DIR"] == "/var/lib/x"
    assert rows["TAILSTAT_HTTP_TOKEN"] == "(unset)"


def test_defaults_and_systemd_directories() -> None:
    cfg = load_config({"TAILSTAT_PATHS": "/a/*.log", "STATE_DIRECTORY": "/var/lib/tailstat",
                       "RUNTIME_DIRECTORY": "/run/tailstat"})
    assert str(cfg.state_file) == "/var/lib/tailstat/state.json"
    assert str(cfg.runtime_dir) == "/run/tailstat"
    assert cfg.read_from == "end"
    assert cfg.shutdown_timeout == 10.0
    assert cfg.checkpoint_interval == 5.0
    assert cfg.batch_bytes == 256 << 10
    assert cfg.sources[0].globs == ("/a/*.log",)


def test_several_sources() -> None:
    cfg = load_config({"TAILSTAT_SOURCES": "nginx,app",
                       "TAILSTAT_SOURCE_NGINX_PATHS": "/var/log/nginx/*.log",
                       "TAILSTAT_SOURCE_NGINX_FORMAT": "combined",
                       "TAILSTAT_SOURCE_APP_PATHS": "/var/log/app/*.json",
                       "TAILSTAT_SOURCE_APP_FORMAT": "json",
                       "TAILSTAT_SOURCE_APP_GROUP_BY": "service"})
    assert [(s.name, s.globs, s.spec.format) for s in cfg.sources] == [
        ("nginx", ("/var/log/nginx/*.log",), "combined"), ("app", ("/var/log/app/*.json",), "json")]
    assert cfg.sources[1].spec.dimensions == ("level", "service")
    with pytest.raises(ConfigError, match="TAILSTAT_SOURCE_WEB_PATHS is not a known setting"):
        load_config({"TAILSTAT_SOURCES": "app", "TAILSTAT_SOURCE_APP_PATHS": "/a", "TAILSTAT_SOURCE_WEB_PATHS": "/b"})


def test_measures_may_name_nginx_header_variables_and_upstream_status() -> None:
    """Only fields known to be text are refused as measures: headers and upstream statuses may be numbers."""
    cfg = load_config({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_NGINX_LOG_FORMAT":
                       '$remote_addr [$time_local] "$request" $status $upstream_status $upstream_http_x_runtime',
                       "TAILSTAT_MEASURES": "upstream_http_x_runtime,upstream_status"})
    assert cfg.sources[0].spec.measures == ("upstream_http_x_runtime", "upstream_status")


def test_config_without_paths_notes_that_run_would_refuse() -> None:
    result = run_cli("config", env={})
    assert result.returncode == 0
    assert "TAILSTAT_PATHS=\n" in result.stdout
    assert result.stderr == ("tailstat: note: `tailstat run` would refuse this: TAILSTAT_PATHS is not set; set it "
                             "to comma-separated absolute file globs, e.g. TAILSTAT_PATHS=/var/log/nginx/*.log, "
                             "or set TAILSTAT_SOURCES to source names, each with TAILSTAT_SOURCE_<NAME>_PATHS\n")
