"""The most specific glob wins when several sources match a file (fewest wildcards, longest literal prefix, most
literal characters; ties to the first named), in the daemon and in `tailstat config`, which shows each matching
file's source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from helpers import Daemon, clean_env
from tailstat.config import load_config
from tailstat.globs import pick, specificity


def test_specificity_order() -> None:
    ranked = sorted(["/logs/*", "/logs/*.json", "/logs/app.*", "/logs/app.json", "/logs/*/*.json", "/l?gs/app.json"],
                    key=specificity, reverse=True)
    assert ranked == ["/logs/app.json", "/logs/app.*", "/logs/*.json", "/logs/*", "/l?gs/app.json", "/logs/*/*.json"]


def test_pick_the_catch_all_loses_and_ties_go_to_the_first_named() -> None:
    cfg = load_config({"TAILSTAT_PATHS": "/logs/*", "TAILSTAT_SOURCES": "nginx,app,other",
                       "TAILSTAT_SOURCE_NGINX_PATHS": "/logs/*.log", "TAILSTAT_SOURCE_APP_PATHS": "/logs/*.json",
                       "TAILSTAT_SOURCE_OTHER_PATHS": "/logs/*.log,/logs/x[0-9].txt"})
    assert [s.name for s in cfg.sources] == ["default", "nginx", "app", "other"]
    assert pick("/logs/app.json", cfg.sources).name == "app"
    assert pick("/logs/access.log", cfg.sources).name == "nginx"  # ties with other: nginx is named first
    assert pick("/logs/x1.txt", cfg.sources).name == "other"
    assert pick("/logs/notes.txt", cfg.sources).name == "default"
    assert pick("/elsewhere/a.log", cfg.sources) is None


def _env(logs: Path) -> dict[str, str]:
    return {"TAILSTAT_PATHS": str(logs / "*"), "TAILSTAT_SOURCES": "app",
            "TAILSTAT_SOURCE_APP_PATHS": str(logs / "*.json"), "TAILSTAT_SOURCE_APP_FORMAT": "json",
            "TAILSTAT_SOURCE_APP_GROUP_BY": "service", "TAILSTAT_SOURCE_APP_MEASURES": "duration_ms"}


def test_a_leftover_catch_all_does_not_take_the_apps_files(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.json").write_bytes(b"".join(b'{"level": "info", "service": "s%d", "duration_ms": %d}\n' % (i % 2, i)
                                             for i in range(6)))
    (logs / "other.log").write_bytes(b"level=warn x=1\n" * 2)
    env = _env(logs)
    d = Daemon(tmp_path, env.pop("TAILSTAT_PATHS"), TAILSTAT_RESCAN_INTERVAL="0.2", **env)
    with d:
        doc = d.wait_lines(8)
    assert {Path(f["path"]).name: (f["format"], f["source"]) for f in doc["files"]} == {
        "app.json": ("json", "app"), "other.log": ("logfmt", "default")}
    assert dict(map(tuple, doc["fields"]["service"]["top"])) == {"s0": 3, "s1": 3}  # the app's GROUP_BY applied
    assert (doc["measures"]["duration_ms"]["count"], doc["measures"]["duration_ms"]["sum"]) == (6, 15)
    events = d.log_events("file_in_several_sources")
    assert [(e["path"], e["used"], e["glob"], e["ignored"]) for e in events] == [
        (str(logs / "app.json"), "app", str(logs / "*.json"), "default")]


def test_config_shows_the_source_of_each_matching_file(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("app.json", "other.log", "old.log.gz"):
        (logs / name).write_bytes(b"")
    (logs / "sub").mkdir()
    done = subprocess.run([sys.executable, "-m", "tailstat", "config"], capture_output=True, text=True, timeout=60,
                          env=clean_env(**_env(logs), TAILSTAT_STATE_DIR=str(tmp_path / "state")), check=False)
    assert done.returncode == 0, done.stderr
    comments = [ln for ln in done.stdout.splitlines() if ln.startswith("#")]
    assert comments == [
        "# files matching now -> their source (the most specific glob wins; ties go to the first named):",
        f"# {logs}/app.json -> app ({logs}/*.json); also matched by default ({logs}/*)",
        f"# {logs}/other.log -> default ({logs}/*)",
    ]


def test_a_wildcard_does_not_match_a_slash() -> None:
    """As glob.glob: a file in a subdirectory (logrotate's olddir) is not matched by its parent's glob."""
    src = SimpleNamespace(name="default", globs=["/logs/*.log*"])
    assert pick("/logs/app.log.1", [src]) is src
    assert pick("/logs/old/app.log.1", [src]) is None
    assert pick("/logs/old/app.log.1", [SimpleNamespace(name="d", globs=["/logs/*/*.log*"])]) is not None
