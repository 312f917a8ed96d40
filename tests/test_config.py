"""Source and format settings: several sources (as a systemd EnvironmentFile writes them), per-source formats,
nginx log_format strings, and configuration errors that name the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tailstat.config import ConfigError, load_config

NGINX_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
                '"$http_user_agent" $request_time')

# What README's EnvironmentFile example holds (systemd strips the quotes of a quoted value)
ENVIRONMENT_FILE = f"""
# /etc/tailstat/tailstat.env
TAILSTAT_SOURCES=web,app,sys
TAILSTAT_SOURCE_WEB_PATHS=/var/log/nginx/access.log,/var/log/nginx/*.access.log
TAILSTAT_SOURCE_WEB_FORMAT=nginx
TAILSTAT_SOURCE_WEB_NGINX_LOG_FORMAT="{NGINX_FORMAT}"
TAILSTAT_SOURCE_WEB_GROUP_BY=user_agent
TAILSTAT_SOURCE_APP_PATHS=/var/log/myapp/*.json
TAILSTAT_SOURCE_APP_FORMAT=json
TAILSTAT_SOURCE_APP_GROUP_BY=service,http.status
TAILSTAT_SOURCE_APP_MEASURES=duration_ms
TAILSTAT_SOURCE_SYS_PATHS=/var/log/syslog,/var/log/auth.log
TAILSTAT_SOURCE_SYS_FORMAT=syslog
TAILSTAT_TOPK_CAPACITY=5000
"""


def parse_environment_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines, # comments, one level of double quotes removed: systemd's EnvironmentFile rules for
    the simple cases the README uses."""
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        env[key] = value
    return env


def test_several_sources_from_an_environment_file() -> None:
    cfg = load_config(parse_environment_file(ENVIRONMENT_FILE))
    assert [s.name for s in cfg.sources] == ["web", "app", "sys"]
    web, app, sys_ = cfg.sources
    assert web.globs == ("/var/log/nginx/access.log", "/var/log/nginx/*.access.log")
    assert (web.spec.format, web.spec.log_format) == ("nginx", NGINX_FORMAT)
    assert web.spec.dimensions == ("status", "method", "path", "client", "user_agent")
    assert web.spec.measures == ("bytes_sent", "request_time")  # the ones its log_format has
    assert (app.spec.format, app.spec.dimensions, app.spec.measures) == (
        "json", ("level", "service", "http.status"), ("duration_ms",))
    assert (sys_.spec.format, sys_.spec.dimensions, sys_.spec.measures) == (
        "syslog", ("program", "host", "severity"), ())
    assert cfg.topk_capacity == 5000


def test_config_command_shows_each_source(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", **parse_environment_file(ENVIRONMENT_FILE), "TAILSTAT_STATE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "tailstat", "config"], capture_output=True, text=True, env=env,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "TAILSTAT_SOURCE_WEB_FORMAT=nginx" in lines
    assert f"TAILSTAT_SOURCE_WEB_NGINX_LOG_FORMAT={NGINX_FORMAT}" in lines
    assert "TAILSTAT_SOURCE_SYS_GROUP_BY=program,host,severity" in lines
    assert "TAILSTAT_SOURCE_APP_MEASURES=duration_ms" in lines


def test_nginx_log_format_implies_format_nginx() -> None:
    cfg = load_config({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_NGINX_LOG_FORMAT": NGINX_FORMAT})
    assert cfg.sources[0].spec.format == "nginx"


@pytest.mark.parametrize(("env", "message"), [
    ({"TAILSTAT_FORMAT": "nginx"},
     "TAILSTAT_NGINX_LOG_FORMAT is empty but TAILSTAT_FORMAT=nginx; accepted: an nginx log_format string"),
    ({"TAILSTAT_FORMAT": "nginx", "TAILSTAT_NGINX_LOG_FORMAT": "$remote_addr $geoip_city"},
     ("TAILSTAT_NGINX_LOG_FORMAT='$remote_addr $geoip_city' uses $geoip_city, which is not supported; accepted: "
     "$remote_addr, ")),
    ({"TAILSTAT_FORMAT": "json", "TAILSTAT_NGINX_LOG_FORMAT": NGINX_FORMAT},
     "TAILSTAT_NGINX_LOG_FORMAT is set but TAILSTAT_FORMAT=json; accepted: TAILSTAT_FORMAT=nginx (or unset)"),
    ({"TAILSTAT_FORMAT": "combined", "TAILSTAT_GROUP_BY": "status,referrer"},
     ("TAILSTAT_GROUP_BY names 'referrer', which format combined does not have; accepted: client, ident, user, "
     "method, path, protocol, status, bytes_sent, referer, user_agent")),
    ({"TAILSTAT_FORMAT": "nginx", "TAILSTAT_NGINX_LOG_FORMAT": NGINX_FORMAT, "TAILSTAT_MEASURES": "upstream_time"},
     "TAILSTAT_MEASURES names 'upstream_time', which format nginx does not have"),
    ({"TAILSTAT_FORMAT": "syslog", "TAILSTAT_GROUP_BY": "level"},
     ("TAILSTAT_GROUP_BY names 'level', which format syslog does not have; accepted: host, program, pid, "
     "facility, severity, message, msgid")),
    ({"TAILSTAT_FORMAT": "regex", "TAILSTAT_REGEX": r"(?P<level>\w+) (?P<msg>.*)", "TAILSTAT_MEASURES": "ms"},
     "TAILSTAT_MEASURES names 'ms', which is not a named group of TAILSTAT_REGEX; accepted: level, msg"),
])
def test_format_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"TAILSTAT_PATHS": "/x/*.log", **env})
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(("env", "message"), [
    ({"TAILSTAT_SOURCE_WEB_FORMAT": "nginx"}, ("TAILSTAT_SOURCE_WEB_NGINX_LOG_FORMAT is empty but "
                                              "TAILSTAT_SOURCE_WEB_FORMAT=nginx")),
    ({"TAILSTAT_SOURCE_WEB_FORMAT": "nginx", "TAILSTAT_SOURCE_WEB_NGINX_LOG_FORMAT": "$status$request_time"},
     ("TAILSTAT_SOURCE_WEB_NGINX_LOG_FORMAT='$status$request_time' has $status and $request_time with nothing "
     "between them")),
    ({"TAILSTAT_SOURCE_WEB_FORMAT": "common", "TAILSTAT_SOURCE_WEB_MEASURES": "request_time"},
     "TAILSTAT_SOURCE_WEB_MEASURES names 'request_time', which format common does not have"),
    ({"TAILSTAT_SOURCE_WEB_FORMAT": "xml"}, "TAILSTAT_SOURCE_WEB_FORMAT='xml' is not valid; accepted: auto, "),
    ({"TAILSTAT_SOURCE_WEB_FORMATT": "json"},
     "TAILSTAT_SOURCE_WEB_FORMATT is not a known setting; did you mean TAILSTAT_SOURCE_WEB_FORMAT? accepted:"),
])
def test_per_source_errors_name_the_source_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"TAILSTAT_SOURCES": "web", "TAILSTAT_SOURCE_WEB_PATHS": "/x/*.log", **env})
    assert str(err.value).startswith(message)


def test_bad_format_setting_exits_2_before_anything_starts(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "TAILSTAT_PATHS": str(tmp_path / "*.log"), "TAILSTAT_FORMAT": "nginx",
           "TAILSTAT_NGINX_LOG_FORMAT": "$remote_addr $nope", "TAILSTAT_STATE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "tailstat", "run"], capture_output=True, text=True, env=env,
                         timeout=60, check=False)
    assert out.returncode == 2
    assert out.stderr.startswith("tailstat: configuration error: TAILSTAT_NGINX_LOG_FORMAT='$remote_addr $nope' "
                                 "uses $nope, which is not supported")
    assert not (tmp_path / "state.json").exists()


def test_choice_values_are_case_insensitive_names_are_not() -> None:
    cfg = load_config({"TAILSTAT_PATHS": "/x/*.log", "TAILSTAT_FORMAT": "JSON", "TAILSTAT_READ_FROM": "End",
                       "TAILSTAT_WATCH": "Poll"})
    assert (cfg.sources[0].spec.format, cfg.read_from, cfg.watch) == ("json", "end", "poll")
    with pytest.raises(ConfigError) as err:
        load_config({"TAILSTAT_PATHS": "/x/*.log", "tailstat_format": "json", "TAILSTAT_Format": "json"})
    assert str(err.value).startswith("TAILSTAT_Format is not a known setting; did you mean TAILSTAT_FORMAT?")
