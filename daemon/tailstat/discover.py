"""Finding the local daemon for `tailstat stats` / `top` / `stats --follow` (the way docker finds its socket).

With TAILSTAT_HTTP_ADDR set, that address is the only one. Without it, the client tries the service's
well-known socket (TAILSTAT_SERVICE_SOCKET, /run/tailstat/tailstat.sock: where the shipped systemd unit
listens) when it exists, then the loopback default 127.0.0.1:9514. Decisions (which addresses, what to tell
the user) are pure functions here; `first_answering` does the one connect per candidate.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import socket
import stat
from dataclasses import dataclass

from tailstat.config import Config, http_endpoint

PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Attempt:
    """One address tried and why it did not answer (an OSError's errno and text)."""

    addr: str
    errno: int
    reason: str


def candidates(cfg: Config, exists=os.path.lexists) -> list[str]:
    """The addresses to try, in order."""
    if cfg.http_addr_set or cfg.http_addr == "off":
        return [cfg.http_addr]
    service = f"unix:{cfg.service_socket}"
    out = [service] if exists(cfg.service_socket) else []
    return out + [a for a in (cfg.http_addr,) if a != service]


def connect_error(addr: str, timeout: float = PROBE_TIMEOUT) -> OSError | None:
    """None if something accepts a connection at `addr`, else the error."""
    kind, host, port = http_endpoint(addr)
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: object = host
    else:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        except OSError as exc:
            return exc
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        target = info[4]
    sock.settimeout(timeout)
    try:
        sock.connect(target)
    except OSError as exc:
        return exc
    finally:
        sock.close()
    return None


def first_answering(cfg: Config) -> tuple[str, list[Attempt]]:
    """The first candidate that accepts a connection (or the last one, to report on), and the failed ones."""
    tried: list[Attempt] = []
    options = candidates(cfg)
    if len(options) == 1:
        return options[0], tried  # nothing to choose: the request itself reports a failure
    for addr in options:
        exc = connect_error(addr)
        if exc is None:
            return addr, tried
        tried.append(Attempt(addr, exc.errno or 0, exc.strerror or str(exc)))
    return options[-1], tried[:-1]


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def permission_hint(path: str) -> str:
    """What to do about EACCES on the socket at `path`: the group its file (or its directory) lets in."""
    parent = os.path.dirname(path)
    blocker = parent if os.path.isdir(parent) and not os.access(parent, os.X_OK) else path
    try:
        st = os.stat(blocker)
    except OSError:
        return "run tailstat as root (sudo), or set TAILSTAT_HTTP_ADDR to an address you may use"
    group = _group_name(st.st_gid)
    what = "socket" if stat.S_ISSOCK(st.st_mode) else "directory"
    return (f"the {what} {blocker} has owner {_user_name(st.st_uid)}, group {group}, mode "
            f"{stat.S_IMODE(st.st_mode):04o}: run tailstat as a member of group {group} or as root (sudo), "
            "or set TAILSTAT_HTTP_ADDR to an address you may use")


def describe_failures(tried: list[Attempt]) -> str:
    """Earlier candidates that did not answer, for the final error line ("" if none)."""
    parts = []
    for a in tried:
        where = a.addr if a.addr.startswith("unix:") else f"http://{a.addr}"
        if a.errno in (errno.EACCES, errno.EPERM) and a.addr.startswith("unix:"):
            parts.append(f"permission denied on {where}; {permission_hint(a.addr[5:])}")
        else:
            parts.append(f"nothing answering at {where} ({a.reason})")
    return "; ".join(parts)
