"""tests/tools/sysd_ns.py, the tests' own booted systemd: it boots, and the host does not notice."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest

from tools.sysd_ns import SHARE_INSIDE, SysdNs, unavailable

REASON = unavailable()
pytestmark = [pytest.mark.systemd,
              pytest.mark.skipif(REASON is not None, reason=f"no systemd in namespaces: {REASON}")]


def test_boots_systemd_and_leaves_the_host_alone(tmp_path: Path):
    share = tmp_path / "share"
    (share / "units").mkdir(parents=True)
    (share / "units" / "hello.service").write_text(
        "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'echo hello from $$'\n")
    (share / "etc").mkdir()
    (share / "etc" / "sysd-ns-test.conf").write_text("from the share\n")
    name = f"sysd-ns-test-{os.getpid()}"
    marker = name  # a file name nothing else uses
    sd = SysdNs(tmp_path / "work", share, name)
    with sd:
        assert sd.boot_seconds is not None
        assert sd.sh("systemctl is-system-running").strip() == "running"  # nothing failed at boot
        assert sd.sh("systemctl --failed --plain --no-legend").strip() == ""
        # systemd is PID 1 of its own pid namespace, on a cgroup v2 tree of its own, named as asked
        assert sd.sh("cat /proc/1/comm; stat -f -c %T /sys/fs/cgroup; hostname").split() == \
            ["systemd", "cgroup2fs", name]
        assert sd.sh("ls /sys/class/net").split() == ["lo"]  # a network namespace of its own
        # the share's units and /etc files are installed; the share itself is read-only
        assert sd.sh("systemctl start hello.service && systemctl is-active hello.service").strip() == "active"
        assert sd.sh("cat /etc/sysd-ns-test.conf") == "from the share\n"
        assert sd.run(["touch", f"{SHARE_INSIDE}/x"], check=False).returncode != 0
        # the host's enabled units are not there
        assert sd.sh("ls -A /etc/systemd/system").strip() == ""
        # writes to /etc, /var, /tmp, /run stay inside
        sd.sh(" && ".join(f"echo inside > {d}/{marker}" for d in ("/etc", "/var/lib", "/tmp", "/run")))
        assert sd.sh(f"cat /etc/{marker} /var/lib/{marker}") == "inside\ninside\n"
        for d in ("/etc", "/var/lib", "/tmp", "/run"):
            assert not Path(d, marker).exists(), d
        # nothing listening on the host's loopback answers inside
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = server.getsockname()[1]
            socket.create_connection(("127.0.0.1", port), timeout=5).close()  # it answers on the host
            probe = f"import socket; print(socket.socket().connect_ex(('127.0.0.1', {port})))"
            assert sd.run(["python3", "-c", probe]).stdout.decode().strip() == str(errno.ECONNREFUSED)
        init, cgroup = sd.init_pid, Path((tmp_path / "work" / "cgroup").read_text())
        assert cgroup.is_dir() and (cgroup / "init.scope").is_dir()
        assert not (share / "x").exists()
    # stopped: the namespace's processes are gone, its cgroup removed
    assert init is not None and not Path(f"/proc/{init}").exists()
    assert not cgroup.exists()
    assert sd.init_pid is None
    sd.stop()  # twice is harmless
