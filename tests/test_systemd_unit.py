"""systemd/tailstat.service and systemd/tailstat.env, checked by systemd's tools and by tailstat's config."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tailstat.config import Config

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "tailstat.service"
ENV_FILE = ROOT / "systemd" / "tailstat.env"
INSTALLED_EXEC = "/opt/tailstat/venv/bin/tailstat"
TAILSTAT = Path(sys.executable).with_name("tailstat")  # the console script of the venv running the tests

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed (Debian package systemd)")


def unit_directives(text: str) -> dict[str, list[str]]:
    """Directive -> values in file order (systemd allows repeats, so configparser will not do)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|min)?", value)
    assert m, value
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "min": 60.0, None: 1.0}[m.group(2)]


@pytest.fixture
def unit_with_existing_exec(tmp_path: Path) -> Path:
    """The unit with only ExecStart= pointed at an executable that exists here (verify checks it)."""
    text = UNIT.read_text()
    assert text.count(f"ExecStart={INSTALLED_EXEC} run") == 1
    copy = tmp_path / "tailstat.service"
    copy.write_text(text.replace(f"ExecStart={INSTALLED_EXEC} ", f"ExecStart={TAILSTAT} "))
    return copy


@needs_analyze
def test_verify_has_no_warnings(unit_with_existing_exec: Path):
    assert TAILSTAT.is_file()
    res = subprocess.run(["systemd-analyze", "verify", str(unit_with_existing_exec)], check=False,
                         capture_output=True, text=True, timeout=60)
    # verify exits 0 even when it warns: the output is what counts
    assert (res.returncode, res.stderr, res.stdout) == (0, "", "")


@needs_analyze
def test_verify_of_the_original_complains_only_about_the_install_path():
    if os.path.exists(INSTALLED_EXEC):
        pytest.skip(f"{INSTALLED_EXEC} is installed on this machine")
    res = subprocess.run(["systemd-analyze", "verify", str(UNIT)], check=False, capture_output=True,
                         text=True, timeout=60)
    complaints = res.stderr.strip().splitlines()
    assert complaints and all(INSTALLED_EXEC in line for line in complaints), res.stderr


@needs_analyze
def test_security_exposure_is_ok():
    res = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(UNIT)],
                         check=False, capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for tailstat\.service: (\d+\.\d+) (\w+)", res.stdout)
    assert m, res.stdout + res.stderr
    score, label = float(m.group(1)), m.group(2)
    assert score < 2.0 and label == "OK", res.stdout


def test_unit_directives():
    d = unit_directives(UNIT.read_text())
    expected = {
        "Type": ["notify"], "NotifyAccess": ["main"], "ExecStart": [f"{INSTALLED_EXEC} run"],
        "EnvironmentFile": ["-/etc/default/tailstat"], "StateDirectory": ["tailstat"],
        "RuntimeDirectory": ["tailstat"], "KillSignal": ["SIGTERM"], "Restart": ["on-failure"],
        "DynamicUser": ["yes"], "Group": ["adm"], "NoNewPrivileges": ["yes"],
        "ProtectSystem": ["strict"], "ProtectHome": ["yes"], "PrivateTmp": ["yes"], "PrivateDevices": ["yes"],
        "ProtectKernelTunables": ["yes"], "ProtectKernelModules": ["yes"], "ProtectKernelLogs": ["yes"],
        "ProtectControlGroups": ["yes"], "RestrictAddressFamilies": ["AF_UNIX AF_INET AF_INET6"],
        "CapabilityBoundingSet": [""], "MemoryDenyWriteExecute": ["yes"],
        "SystemCallArchitectures": ["native"],
        # a configuration error (exit status 2) must not become a restart loop
        "RestartPreventExitStatus": ["2"],
    }
    assert {k: d.get(k) for k in expected} == expected
    assert d["SystemCallFilter"][0] == "@system-service"
    assert d["MemoryMax"] and d["WatchdogSec"]
    # systemd must wait longer than tailstat's own shutdown deadline before it SIGKILLs
    assert seconds(d["TimeoutStopSec"][0]) >= Config().shutdown_timeout + 10


# ---------------------------------------------------------------------------------------------- env file
ASSIGNMENT = re.compile(r"^(#)?(TAILSTAT_[A-Z0-9_]+)=(.*)$")


def env_assignments(text: str, *, include_commented: bool) -> dict[str, str]:
    """NAME=value lines as systemd's EnvironmentFile= reads them (the subset the example uses)."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        m = ASSIGNMENT.match(line)
        if not m or (m.group(1) and not include_commented):
            continue
        value = m.group(3)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[m.group(2)] = value
    return env


def tailstat_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TAILSTAT_")}
    return subprocess.run([str(TAILSTAT), "config"], check=False, env={**base, **env}, capture_output=True,
                          text=True, timeout=60)


def other_notes(stderr: str) -> list[str]:
    """stderr without the notes on the example's directories missing on this machine (/var/log/myapp...)."""
    return [ln for ln in stderr.splitlines() if not re.match(r"tailstat: note: directory \S+ does not exist", ln)]


def test_env_file_lines_are_comments_or_plain_assignments():
    for line in ENV_FILE.read_text().splitlines():
        assert line == "" or line.startswith("#") or ASSIGNMENT.match(line), line
        m = ASSIGNMENT.match(line)
        if m and any(c in m.group(3) for c in "\\ $\"'"):
            # systemd and `sh` (the README's check) read a value alike only unquoted-plain or in single quotes
            assert re.fullmatch(r"'[^']*'", m.group(3)), line


def test_env_file_configures_two_sources():
    res = tailstat_config(env_assignments(ENV_FILE.read_text(), include_commented=False))
    assert (res.returncode, other_notes(res.stderr)) == (0, [])
    shown = dict(line.split("=", 1) for line in res.stdout.splitlines())
    assert shown["TAILSTAT_SOURCE_NGINX_FORMAT"] == "combined"
    assert shown["TAILSTAT_SOURCE_NGINX_PATHS"].startswith("/var/log/nginx/")
    assert shown["TAILSTAT_SOURCE_APP_FORMAT"] == "json"
    assert shown["TAILSTAT_SOURCE_APP_PATHS"].startswith("/var/log/")


def test_every_variable_the_env_file_mentions_is_accepted():
    text = ENV_FILE.read_text()
    every = env_assignments(text, include_commented=True)  # all the commented examples switched on at once
    assert set(re.findall(r"TAILSTAT_[A-Z0-9_]*[A-Z0-9]", text)) <= set(every)
    res = tailstat_config(every)
    assert (res.returncode, other_notes(res.stderr)) == (0, [])
    shown = {line.split("=", 1)[0] for line in res.stdout.splitlines()}
    assert set(every) - {"TAILSTAT_SOURCES"} <= shown


def test_env_file_typo_is_fatal():
    # the guarantee the example relies on: a misspelt name stops tailstat instead of being ignored
    env = env_assignments(ENV_FILE.read_text(), include_commented=False)
    res = tailstat_config({**env, "TAILSTAT_WORKER": "4"})
    assert res.returncode == 2 and "TAILSTAT_WORKER" in res.stderr
