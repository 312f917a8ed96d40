#!/usr/bin/env bash
# Sets up tailstat in .venv and runs the daemon on sample_logs/, printing its stats once it is ready.
# Ctrl-C stops it cleanly (one SIGTERM to the daemon -> final checkpoint, exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e . 2>&1 | grep -v '^WARNING: Location' || true

demo=$(mktemp -d /tmp/tailstat-demo.XXXXXX)
export TAILSTAT_PATHS="$PWD/sample_logs/*.log" TAILSTAT_READ_FROM=beginning TAILSTAT_STATE_DIR="$demo" \
       TAILSTAT_LOG_FORMAT=console TAILSTAT_HTTP_ADDR=${TAILSTAT_HTTP_ADDR:-127.0.0.1:9514}
# The daemon runs in its own session: Ctrl-C reaches this script only, which sends the daemon exactly one
# SIGTERM (a second signal would mean "exit now, skip the final checkpoint").
setsid .venv/bin/tailstat run &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; }
trap 'stop; exit 0' INT TERM
trap 'rm -rf "$demo"' EXIT
ready=
for _ in $(seq 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" || code=$?
    echo "tailstat did not start (exit status ${code:-0}); its message is above." >&2
    exit 1
  fi
  if [ -e "$demo/stats.json" ] && .venv/bin/tailstat stats >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
[ -n "$ready" ] || { echo "tailstat did not become ready in 20 s" >&2; stop; exit 1; }
# the last event of a text file is held until its writer has been quiet TAILSTAT_MULTILINE_TIMEOUT (2 s): a
# stack trace may still be growing. Printed after that, every sample file reads lag 0.
sleep 3
.venv/bin/tailstat stats --top 5
echo
echo "tailstat is running (pid $pid, state in $demo, HTTP API on $TAILSTAT_HTTP_ADDR). In another terminal:"
# The hints must reach this daemon when typed in another terminal: always name its address (without it the
# clients try an installed service's /run/tailstat/tailstat.sock first).
addr="TAILSTAT_HTTP_ADDR=$TAILSTAT_HTTP_ADDR "
page=
case $TAILSTAT_HTTP_ADDR in
  unix:*) curl="curl -s --unix-socket ${TAILSTAT_HTTP_ADDR#unix:} http://localhost/metrics" ;;
  *) curl="curl -s http://$TAILSTAT_HTTP_ADDR/metrics"; page="http://$TAILSTAT_HTTP_ADDR/" ;;
esac
echo "  ${addr}.venv/bin/tailstat top              # live view; q quits"
echo "  ${addr}.venv/bin/tailstat stats --follow   # one line per second"
echo "  $curl      # Prometheus"
[ -z "$page" ] || echo "  $page      # the web page, in a browser"
echo "The sample logs' own timestamps are old, so top's 5m and --follow's 1m windows count few of their lines"
echo "(press 6 in top, or use --window all, for every line)."
echo "Append lines to sample_logs/*.log to watch them counted (git checkout sample_logs undoes that)."
echo "Ctrl-C stops the daemon."
wait "$pid"
