#!/usr/bin/env bash
# Sets up tailstat in .venv and runs the daemon on sample_logs/, printing its stats once it is ready.
# Ctrl-C stops it (SIGINT -> clean shutdown, final checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e . 2>&1 | grep -v '^WARNING: Location' || true

demo=$(mktemp -d /tmp/tailstat-demo.XXXXXX)
export TAILSTAT_PATHS="$PWD/sample_logs/*.log" TAILSTAT_READ_FROM=beginning TAILSTAT_STATE_DIR="$demo" \
       TAILSTAT_LOG_FORMAT=console
.venv/bin/tailstat run &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid' INT TERM
for _ in $(seq 50); do
  .venv/bin/tailstat stats >/dev/null 2>&1 && break
  sleep 0.2
done
sleep 1
.venv/bin/tailstat stats --top 5
echo
echo "tailstat is running (pid $pid, state in $demo, HTTP API on 127.0.0.1:9514). In another terminal:"
echo "  .venv/bin/tailstat top              # live view; q quits"
echo "  .venv/bin/tailstat stats --follow   # one line per second"
echo "  curl -s 127.0.0.1:9514/metrics      # Prometheus"
echo "Append lines to sample_logs/*.log to watch them counted. Ctrl-C stops the daemon."
wait $pid
