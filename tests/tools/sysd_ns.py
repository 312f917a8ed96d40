"""Boot the machine's own systemd as PID 1 of private namespaces, for tests that need a real service manager.

    with SysdNs(work_dir, share) as sd:            # boots (about a second); powers off and cleans up on exit
        sd.sh("systemctl start tailstat.service")  # any command, run inside as root
        sd.sh("journalctl -u tailstat.service -o cat --no-pager")

or from a shell (the same work dir for every call):

    python3 tests/tools/sysd_ns.py --dir /tmp/sd --share DIR start
    python3 tests/tools/sysd_ns.py --dir /tmp/sd run systemctl status tailstat.service
    python3 tests/tools/sysd_ns.py --dir /tmp/sd stop

What the booted systemd sees, and what stays the host's:
- new pid, mount, uts, ipc, cgroup and network namespaces: inside there is only a loopback interface (systemd
  brings it up), so a service's ports and its IPAddressDeny= are its own, and nothing listening on the host's
  loopback can answer a client inside;
- `/run`, `/tmp` and `/dev` are fresh tmpfs (a minimal /dev); `/etc` and `/var` are overlays whose writes land
  in a tmpfs, so nothing inside changes the host's files. Inside, `/etc/systemd/system` is empty (none of the
  host's enabled units or overrides), `/etc/fstab` and `/etc/crypttab` list nothing;
- `share` is visible read-only at SHARE_INSIDE; its `units/*` are copied to `/run/systemd/system`, its `etc/*`
  over `/etc`. Code the services run must live there (or anywhere outside /tmp, /run, /home, /root);
- `/sys` (the new network namespace's) and `/proc/sys` are read-only; systemd gets a cgroup v2 hierarchy of
  its own (a child of this process's cgroup, removed at stop) and the bounding set loses the capabilities that
  touch the whole machine (modules, clock, reboot, raw I/O, audit, kernel log);
- units that would act on kernel-global state or the host's hardware are masked (udev, sysctl, binfmt, module
  loading, remounting /, time sync, ...), so the boot reaches `running` with nothing failed. The journal is
  volatile (in /run).

Needs root, util-linux (unshare, nsenter, setpriv, mount) and systemd; `unavailable()` says why not, in words.
Only the standard library: this file is also what runs as PID 1 inside until it execs systemd.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

SYSTEMD = "/lib/systemd/systemd"
SHARE_INSIDE = "/run/sysd-share"
TARGET = "sysd-ns.target"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# capabilities the booted systemd (and so every service) never gets: nothing inside may load modules, set the
# clock, reboot the machine, touch raw devices, or the audit and kernel logs (CAP_NET_ADMIN stays: it acts on
# the private network namespace, and systemd needs it to bring up the loopback interface)
DROP_CAPS = ("sys_module", "sys_time", "sys_boot", "sys_rawio", "audit_control", "audit_read",
             "syslog", "mac_admin", "mac_override", "wake_alarm", "block_suspend")
# units masked inside (-> /dev/null in /run/systemd/system): each would act on the host's kernel or hardware
# (sysctl, binfmt_misc, modules, remounting / by fstab, time, firmware stores), or does first-boot work on the
# overlay that no test needs (sysusers, tmpfiles, random seed, ldconfig, hwdb), or waits for a terminal
MASKED = (
    "systemd-udevd.service", "systemd-udev-trigger.service", "systemd-udev-settle.service",
    "systemd-udevd-control.socket", "systemd-udevd-kernel.socket", "systemd-hwdb-update.service",
    "systemd-sysctl.service", "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount",
    "proc-sys-fs-binfmt_misc.mount", "systemd-modules-load.service", "kmod-static-nodes.service",
    "systemd-remount-fs.service", "systemd-fsck-root.service", "systemd-timesyncd.service",
    "systemd-pstore.service", "systemd-random-seed.service", "systemd-machine-id-commit.service",
    "systemd-firstboot.service", "systemd-repart.service", "systemd-sysusers.service",
    "systemd-tmpfiles-setup.service", "systemd-tmpfiles-setup-dev.service", "systemd-tmpfiles-clean.timer",
    "systemd-pcrphase.service", "systemd-pcrphase-sysinit.service", "systemd-boot-update.service",
    "systemd-journal-catalog-update.service", "systemd-update-done.service", "ldconfig.service",
    "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "sys-kernel-config.mount", "dev-hugepages.mount",
    "sys-fs-fuse-connections.mount", "timers.target", "getty.target", "console-getty.service",
)
# what the boot waits for: sysinit.target and basic.target (what every default-dependency service needs), and
# journald. A service started later starts at once.
TARGET_UNIT = """\
[Unit]
Description=sysd-ns: the minimal boot of a test systemd
Requires=basic.target systemd-journald.socket
Wants=systemd-journald.service systemd-journald-dev-log.socket
After=basic.target systemd-journald.socket systemd-journald.service
AllowIsolate=yes
"""


# --------------------------------------------------------------------------------------- can it run here?
def _cgroup2_mount() -> Path | None:
    """Where this host's cgroup v2 hierarchy is mounted: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified
    (the hybrid layout of a systemd host in legacy mode, or of a container manager)."""
    mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        sep = fields.index("-")
        mounts[fields[4]] = fields[sep + 1]
    for where in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if mounts.get(where) == "cgroup2":
            return Path(where)
    return None


def _own_cgroup(mount: Path) -> Path:
    """This process's cgroup v2 directory."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return mount / line[3:].lstrip("/")
    return mount


def unavailable() -> str | None:
    """None when SysdNs can boot systemd on this machine, else why not (a sentence for a skip reason)."""
    if sys.platform != "linux":
        return "needs Linux (namespaces)"
    if os.geteuid() != 0:
        return "needs root: booting systemd in private namespaces takes CAP_SYS_ADMIN (run the tests as root)"
    missing = [t for t in ("unshare", "nsenter", "setpriv", "mount") if shutil.which(t, path=PATH) is None]
    if missing:
        return f"{', '.join(missing)} not found (Debian packages util-linux and mount)"
    if not os.access(SYSTEMD, os.X_OK):
        return f"{SYSTEMD} not found (Debian package systemd)"
    mount = _cgroup2_mount()
    if mount is None:
        return "no cgroup v2 hierarchy mounted at /sys/fs/cgroup or /sys/fs/cgroup/unified"
    probe = _own_cgroup(mount) / f"sysd-ns-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as e:
        return f"cannot create a cgroup under {probe.parent} ({e.strerror}): a read-only cgroup file system"
    res = subprocess.run(["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--cgroup", "--net",
                          "true"], check=False, capture_output=True, text=True, env={"PATH": PATH})
    if res.returncode != 0:
        return (f"unshare cannot create namespaces here ({res.stderr.strip() or res.returncode}): "
                "an unprivileged container?")
    return None


# --------------------------------------------------------------------------------------------- the host side
class SysdNs:
    """One booted systemd. `work` holds boot.log (systemd's console) and the pids; `share` is shown read-only
    at SHARE_INSIDE (its units/ and etc/ are installed); `name` is the hostname inside and the cgroup's name.
    With `tied` (the default) the namespace is killed when the thread that started it dies, so a test run that
    is itself killed leaves no systemd behind; the command line's start is not tied."""

    def __init__(self, work: Path, share: Path | None = None, name: str | None = None,
                 tied: bool = True) -> None:
        self.work = Path(work)
        self.tied = tied
        self.share = Path(share) if share is not None else self.work / "share"
        self.name = name or f"sysd-ns-{os.getpid()}"
        self.boot_seconds: float | None = None
        self._unshare: subprocess.Popen[bytes] | None = None

    # pids and the cgroup are kept in `work`, so that the command line's start, run and stop can share them
    def _read(self, what: str) -> str | None:
        try:
            return (self.work / what).read_text().strip() or None
        except FileNotFoundError:
            return None

    @property
    def init_pid(self) -> int | None:
        pid = self._read("init.pid")
        return int(pid) if pid else None

    def start(self, timeout: float = 60.0) -> Self:
        """Boot; return once `systemctl is-system-running` says running (or degraded: see boot.log)."""
        reason = unavailable()
        if reason:
            raise RuntimeError(f"sysd-ns: cannot boot systemd here: {reason}")
        self.work.mkdir(parents=True, exist_ok=True)
        self.share.mkdir(parents=True, exist_ok=True)
        cgroup = _own_cgroup(_cgroup2_mount()) / self.name  # type: ignore[arg-type]
        cgroup.mkdir(exist_ok=True)
        (self.work / "cgroup").write_text(str(cgroup))
        t0 = time.monotonic()
        # the cgroup move comes first (a shell writes itself into cgroup.procs), so that the cgroup namespace
        # unshare makes is rooted at our cgroup; then this file runs as the new pid namespace's PID 1
        argv = ["sh", "-c", 'echo 0 > "$0/cgroup.procs" && exec "$@"', str(cgroup),
                *(["setpriv", "--pdeathsig=KILL", "--"] if self.tied else []),
                "unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc", "--propagation",
                "private", "--uts", "--ipc", "--cgroup", "--net", "--",
                sys.executable, "-I", str(Path(__file__).resolve()), "__pid1", self.name, str(self.share)]
        with open(self.work / "boot.log", "wb") as log:
            self._unshare = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, env={"PATH": PATH},
                                             start_new_session=True)
        (self.work / "unshare.pid").write_text(str(self._unshare.pid))
        deadline = t0 + timeout
        systemd = os.path.realpath(SYSTEMD)
        state = ""
        try:
            init = None
            while init is None:
                self._check_alive(deadline)
                children = Path(f"/proc/{self._unshare.pid}/task/{self._unshare.pid}/children")
                kids = children.read_text().split() if children.exists() else []
                init = int(kids[0]) if kids else None
                time.sleep(0.01)
            (self.work / "init.pid").write_text(str(init))
            while state not in ("running", "degraded"):
                self._check_alive(deadline)
                if _exe(init) == systemd:
                    state = self.run(["systemctl", "is-system-running"], check=False,
                                     timeout=10).stdout.decode().strip()
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - t0
        return self

    def _check_alive(self, deadline: float) -> None:
        assert self._unshare is not None
        if self._unshare.poll() is not None:
            raise RuntimeError(f"sysd-ns: the namespace's init exited ({self._unshare.returncode}):\n"
                               + self.boot_log())
        if time.monotonic() > deadline:
            raise RuntimeError("sysd-ns: systemd did not reach 'running' in time:\n" + self.boot_log())

    def boot_log(self) -> str:
        return (self.work / "boot.log").read_text(errors="replace")

    def run(self, argv: list[str], input: bytes | None = None, check: bool = True, timeout: float = 60.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run argv inside (as root, in all the namespaces), with a clean environment plus `env`."""
        init = self.init_pid
        if init is None:
            raise RuntimeError("sysd-ns: not started")
        res = subprocess.run(["nsenter", "-t", str(init), "-m", "-p", "-u", "-i", "-C", "-n", "--", *argv],
                             check=False, input=input, capture_output=True, timeout=timeout,
                             env={"PATH": PATH, "LANG": "C.UTF-8", "SYSTEMD_PAGER": "", **(env or {})})
        if check and res.returncode != 0:
            raise AssertionError(f"sysd-ns run {argv}: exit {res.returncode}\n"
                                 + (res.stdout + res.stderr).decode(errors="replace"))
        return res

    def sh(self, script: str, input: bytes | None = None, check: bool = True, timeout: float = 60.0) -> str:
        """Run a shell script inside; its stdout."""
        return self.run(["sh", "-c", script], input=input, check=check, timeout=timeout).stdout.decode()

    def stop(self, timeout: float = 20.0) -> None:
        """Power off (SIGRTMIN+4, systemd's container poweroff); SIGKILL the namespace if that takes longer
        than `timeout`; remove the cgroup. Safe to call twice, or after a failed start."""
        init, unshare = self.init_pid, self._read("unshare.pid")
        # signal the PID only while it is still our namespace's init (not a reused pid)
        if init and _exe(init) == os.path.realpath(SYSTEMD) and _pid_ns(init) != _pid_ns(os.getpid()):
            os.kill(init, signal.SIGRTMIN + 4)
            if not _wait_gone(init, timeout) and _pid_ns(init) != _pid_ns(os.getpid()):
                os.kill(init, signal.SIGKILL)  # the init of a pid namespace: the whole namespace goes
        if self._unshare is not None:
            try:
                self._unshare.wait(timeout)
            except subprocess.TimeoutExpired:
                self._unshare.kill()
                self._unshare.wait()
        elif unshare:
            _wait_gone(int(unshare), timeout)
        cgroup = self._read("cgroup")
        if cgroup:
            _remove_cgroup(Path(cgroup))
        for f in ("init.pid", "unshare.pid", "cgroup"):
            (self.work / f).unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def _pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def _remove_cgroup(top: Path) -> None:
    """rmdir the cgroup tree bottom-up; a cgroup whose last process just exited may stay busy a moment."""
    deadline = time.monotonic() + 10
    while top.exists():
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                d.rmdir()
            except OSError:
                pass
        try:
            top.rmdir()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --------------------------------------------------------------------------------- inside: PID 1 until exec
def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True)


def _pid1(name: str, share: Path) -> None:
    """The new namespaces' PID 1: give it a private file system view, then exec systemd."""
    Path("/proc/sys/kernel/hostname").write_text(name)  # the uts namespace's own
    _sh("mount", "-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "tmpfs", "/run")
    units = Path("/run/systemd/system")
    for d in (units, Path(SHARE_INSIDE), Path("/run/systemd/journald.conf.d"), Path("/run/sysd-ns")):
        d.mkdir(parents=True)
    _sh("mount", "--bind", str(share), SHARE_INSIDE)
    _sh("mount", "-o", "remount,bind,ro", SHARE_INSIDE)
    if (share / "units").is_dir():
        shutil.copytree(share / "units", units, symlinks=True, dirs_exist_ok=True)
    for unit in MASKED:
        if not (units / unit).exists():
            (units / unit).symlink_to("/dev/null")
    (units / TARGET).write_text(TARGET_UNIT)
    Path("/run/systemd/journald.conf.d/volatile.conf").write_text("[Journal]\nStorage=volatile\n")

    # /etc and /var: overlays whose upper layers are in a tmpfs
    _sh("mount", "-t", "tmpfs", "-o", "mode=700", "tmpfs", "/run/sysd-ns")
    for d in ("etc", "var"):
        up, work = Path(f"/run/sysd-ns/{d}/up"), Path(f"/run/sysd-ns/{d}/work")
        up.mkdir(parents=True)
        work.mkdir()
        _sh("mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/{d},upperdir={up},workdir={work}", f"/{d}")
    # none of the host's enabled units, overrides, mounts or swaps
    shutil.rmtree("/etc/systemd/system", ignore_errors=True)
    Path("/etc/systemd/system").mkdir(parents=True, exist_ok=True)
    Path("/etc/hostname").write_text(name + "\n")
    Path("/etc/fstab").write_text("# sysd-ns: no mounts\n")
    Path("/etc/crypttab").write_text("")
    if (share / "etc").is_dir():
        shutil.copytree(share / "etc", "/etc", symlinks=True, dirs_exist_ok=True)
    _sh("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/tmp")

    # a minimal /dev
    _sh("mount", "-t", "tmpfs", "-o", "mode=755,nosuid", "tmpfs", "/dev")
    for node, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                               ("urandom", 1, 9), ("tty", 5, 0)):
        os.mknod(f"/dev/{node}", 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(f"/dev/{node}", 0o666)
    Path("/dev/console").touch()
    _sh("mount", "--bind", "/dev/null", "/dev/console")
    for d in ("pts", "shm"):
        Path(f"/dev/{d}").mkdir()
    _sh("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620", "devpts", "/dev/pts")
    _sh("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/dev/shm")
    for link, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/dev/{link}")

    # the kernel's knobs read-only; a cgroup v2 hierarchy rooted at our own cgroup (the cgroup namespace's)
    for knob in ("/proc/sys", "/proc/sysrq-trigger"):
        if os.path.exists(knob):
            _sh("mount", "--bind", knob, knob)
            _sh("mount", "-o", "remount,bind,ro", knob)
    _sh("mount", "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", "/sys")  # our network namespace's
    _sh("mount", "-t", "cgroup2", "-o", "nosuid,nodev,noexec", "cgroup2", "/sys/fs/cgroup")

    print(f"sysd-ns: exec {SYSTEMD} as PID 1 of {name}", flush=True)
    drop = ",".join(f"-{c}" for c in DROP_CAPS)
    os.execve(shutil.which("setpriv", path=PATH) or "/usr/bin/setpriv",
              ["setpriv", f"--bounding-set={drop}", "--", SYSTEMD, f"--unit={TARGET}", "--show-status=no"],
              {"container": "sysd-ns", "PATH": PATH, "LANG": "C.UTF-8"})


# --------------------------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["__pid1"]:
        _pid1(argv[1], Path(argv[2]))
        return 1  # not reached: execve
    p = argparse.ArgumentParser(description="boot the machine's systemd in private namespaces (for tests)")
    p.add_argument("--dir", type=Path, required=True, help="work dir: boot.log, pids (same for every call)")
    p.add_argument("--share", type=Path, help="shown read-only at " + SHARE_INSIDE + " (default DIR/share)")
    p.add_argument("--name", help="hostname inside and cgroup name (default sysd-ns-PID)")
    p.add_argument("action", choices=("start", "run", "stop"))
    p.add_argument("command", nargs=argparse.REMAINDER, help="for run: the command")
    args = p.parse_args(argv)
    sd = SysdNs(args.dir, args.share, args.name, tied=False)
    if args.action == "start":
        reason = unavailable()
        if reason:
            print(f"sysd-ns: {reason}", file=sys.stderr)
            return 2
        sd.start()
        print(f"sysd-ns: running after {sd.boot_seconds:.2f} s (init pid {sd.init_pid})", file=sys.stderr)
    elif args.action == "run":
        res = sd.run(args.command, check=False, timeout=3600)
        sys.stdout.buffer.write(res.stdout)
        sys.stderr.buffer.write(res.stderr)
        return res.returncode
    else:
        sd.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
