"""Issue 11 point 4: `tailstat run 2>&1 | head -2` -- a closed stderr must not stop ingestion silently.

The daemon's stderr (and stdout) is a real pipe; the reader takes two lines, as `head -2` does, and closes its
end. The daemon keeps ingesting, drops the log lines it cannot write and counts them in
health.log_lines_dropped; SIGTERM still stops it through the normal shutdown (exit 0, final checkpoint).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from helpers import clean_env, wait_until


def test_closed_stderr_pipe_keeps_ingesting_and_counts_dropped_log_lines(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes(b'{"n":1}\n{"n":2}\n')
    state = tmp_path / "state"
    env = clean_env(TAILSTAT_PATHS=str(logs / "*.log"), TAILSTAT_STATE_DIR=str(state), TAILSTAT_HTTP_ADDR="off",
                    TAILSTAT_LOG_FORMAT="json", TAILSTAT_READ_FROM="beginning", TAILSTAT_SNAPSHOT_INTERVAL="0.1",
                    TAILSTAT_CHECKPOINT_INTERVAL="0.2", TAILSTAT_RESCAN_INTERVAL="0.3")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "tailstat", "run"], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd)  # 2>&1 |
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as head:  # head -2
            first = [head.readline(), head.readline()]
        assert all(json.loads(x)["event"] for x in first)
        stats = state / "stats.json"

        def doc() -> dict:
            try:
                return json.loads(stats.read_bytes())
            except (OSError, ValueError):
                return {}

        wait_until(lambda: doc().get("totals", {}).get("lines") == 2, what="the first file counted")
        # every new file logs file_opened (and more): lines that now cannot be written
        for i in range(5):
            (logs / f"new{i}.log").write_bytes(b'{"n":%d}\n' % i)
        wait_until(lambda: doc().get("totals", {}).get("lines") == 7, what="7 lines after stderr closed")
        wait_until(lambda: doc()["health"].get("log_lines_dropped", 0) >= 5, what="dropped log lines counted")
        assert proc.poll() is None, "the daemon stopped when its stderr pipe closed"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    saved = json.loads((state / "state.json").read_bytes())
    assert saved["totals"]["lines"] == 7
    final = json.loads(stats.read_bytes())
    assert final["totals"]["lines"] == 7 and final["health"]["log_lines_dropped"] >= 5
