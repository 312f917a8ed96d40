"""The stats table's first line says how many events multiline `text` lines made (the shares below are of
events): `tailstat scan` of the shipped Java sample, as a subprocess."""

from __future__ import annotations

import subprocess
import sys

from helpers import REPO, clean_env


def scan(*files: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tailstat", "scan", *files], cwd=REPO, env=clean_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[0]


def test_text_events_in_the_first_line() -> None:
    assert scan("sample_logs/java_app.log") == "lines 65 (40 events)  parsed 65  parse errors 0  bytes 5,967"


def test_one_event_per_line_formats_say_nothing_more() -> None:
    assert scan("sample_logs/nginx_access.log") == "lines 401  parsed 400  parse errors 1  bytes 60,065"
