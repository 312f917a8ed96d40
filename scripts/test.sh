#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian 12 machine, then runs it.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real: logrotate, tmux (terminal UI), promtool (metrics lint),
# systemd + util-linux/mount (tests/tools/sysd_ns.py boots systemd in namespaces with unshare, nsenter,
# setpriv, mount), chromium (the web page's tests drive it through Playwright; no browser is ever
# downloaded), mtail/goaccess only for bench/.
need=()
command -v logrotate >/dev/null || [ -x /usr/sbin/logrotate ] || need+=(logrotate)
command -v tmux >/dev/null || need+=(tmux)
command -v promtool >/dev/null || need+=(prometheus)
{ command -v systemd-analyze >/dev/null && [ -x /lib/systemd/systemd ]; } || need+=(systemd)
for tool in unshare nsenter setpriv; do command -v $tool >/dev/null || { need+=(util-linux); break; }; done
command -v mount >/dev/null || need+=(mount)
[ -x /usr/bin/chromium ] || need+=(chromium)
# the live systemd test runs the service with Debian's python3.11 (pyenv under /root is hidden by ProtectHome)
[ -x /usr/bin/python3.11 ] || need+=(python3.11 python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "scripts/test.sh: missing Debian packages (${need[*]}); install them as root" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
exec .venv/bin/python -m pytest -q "$@"
