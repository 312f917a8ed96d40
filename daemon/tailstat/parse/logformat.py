"""nginx `log_format` strings compiled into access-log pattern pieces (TAILSTAT_FORMAT=nginx).

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"
    "$http_user_agent" $request_time $upstream_response_time

becomes the same kind of piece list as the built-in access formats (`parse.access.access_pattern` joins them and
captures only the fields a spec uses). Each variable is a field named after it, except the renames in
`RENAMES` (so an nginx format and `combined` share dimension names). A variable's pattern comes from its kind
(a status is three digits, a time list keeps its first value) or, for text, from its context: inside quotes it
may hold backslash escapes, inside brackets anything but `]`, bare anything up to the next literal character.
Pure functions, no imports from the rest of tailstat.
"""

from __future__ import annotations

import re
from functools import lru_cache

Piece = tuple[str | None, bytes]  # (field name or None, regex piece with exactly one group when named)

# "METHOD TARGET PROTOCOL" inside the quotes of $request. The query string is not part of `path` (it would
# explode the path dimension's cardinality); anything else in the quotes (e.g. "-") parses without them.
REQUEST_PIECES: tuple[Piece, ...] = (
    (None, rb"(?:"), ("method", rb"([A-Z][A-Z_-]*)"), (None, rb" "), ("path", rb"([^\s?\"]*)"),
    (None, rb"(?:\?[^\s\"]*)?"), (None, rb" "), ("protocol", rb"([^\s\"]+)"),
    (None, rb"|[^\"\\\n]*(?:\\.[^\"\\\n]*)*)"),  # else any request text, \" escapes included (Apache's %r)
)

RENAMES = {
    "remote_addr": "client", "remote_user": "user", "request_method": "method", "request_uri": "path",
    "uri": "path", "server_protocol": "protocol", "body_bytes_sent": "bytes_sent", "http_referer": "referer",
    "http_user_agent": "user_agent", "upstream_response_time": "upstream_time",
}  # fmt: skip

_NUMBER = rb"(\d+(?:\.\d+)?|-)"
_NUMBER_LIST = rb"(\d+(?:\.\d+)?|-)(?:(?:, | : )(?:\d+(?:\.\d+)?|-))*"  # several upstreams: the first one
_INT = rb"(\d+|-)"
_TEXT = None  # pattern from the context: quotes, brackets or the next literal

_KINDS: dict[str, bytes | None] = {
    "remote_addr": _TEXT, "remote_port": _INT, "remote_user": _TEXT, "realip_remote_addr": _TEXT,
    "realip_remote_port": _INT, "time_local": rb"(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})",
    "time_iso8601": rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[+-]\d\d:\d\d|Z))", "msec": rb"(\d+)\.\d+",
    "request": None, "request_method": rb"([A-Z][A-Z_-]*)", "request_uri": rb"([^\s?\"]*)(?:\?[^\s\"]*)?",
    "uri": _TEXT, "document_uri": _TEXT, "args": _TEXT, "query_string": _TEXT, "is_args": _TEXT,
    "server_protocol": _TEXT, "scheme": _TEXT, "https": _TEXT, "host": _TEXT, "hostname": _TEXT,
    "server_name": _TEXT, "server_addr": _TEXT, "server_port": _INT, "status": rb"(\d{3})",
    "body_bytes_sent": _INT, "bytes_sent": _INT, "request_length": _INT, "request_time": _NUMBER,
    "upstream_response_time": _NUMBER_LIST, "upstream_connect_time": _NUMBER_LIST,
    "upstream_header_time": _NUMBER_LIST, "upstream_addr": _TEXT,
    "upstream_status": rb"(\d{3}|-)(?:(?:, | : )(?:\d{3}|-))*", "upstream_cache_status": _TEXT,
    "upstream_response_length": _INT, "upstream_bytes_received": _INT, "upstream_bytes_sent": _INT,
    "connection": _INT, "connection_requests": _INT, "pipe": _TEXT, "gzip_ratio": _NUMBER, "pid": _INT,
    "request_id": _TEXT, "ssl_protocol": _TEXT, "ssl_cipher": _TEXT, "ssl_server_name": _TEXT,
    "ssl_session_reused": _TEXT, "ssl_client_verify": _TEXT, "server_software": _TEXT,
}  # fmt: skip
# fields whose values are text, never numbers (TAILSTAT_MEASURES may not name them), as named in the stats;
# header/cookie/argument families and upstream_status may hold numbers
TEXT_FIELDS = frozenset(
    {"method", "path", "protocol", "client", "ident", "user", "referer", "user_agent",  # access-log fields
     "host", "program", "facility", "severity", "message", "msgid"}  # syslog fields (pid is a number)
    | {RENAMES.get(n, n) for n, k in _KINDS.items() if k is _TEXT and n != "request"})
# families of variables named after a header, cookie or argument: all text
_FAMILIES = ("http_", "sent_http_", "sent_trailer_", "upstream_http_", "upstream_cookie_", "cookie_", "arg_")
# internal column names for the event time (not fields a user groups by)
TIME_COLUMNS = {"time_local": "_time", "time_iso8601": "_time_iso", "msec": "_msec"}

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]*))")


class LogFormatError(ValueError):
    """The format cannot be compiled; str(self) names the construct."""


def supported_variables() -> str:
    return ", ".join("$" + v for v in _KINDS) + ", " + ", ".join(f"${f}*" for f in _FAMILIES)


def _unquote(text: str) -> str:
    """`'$a - $b ' '"$c"'` as pasted from nginx.conf: single-quoted segments are joined."""
    stripped = text.strip().rstrip(";").strip()
    if stripped.startswith("'") and stripped.endswith("'"):
        segments = re.fullmatch(r"(?:\s*'([^']*)')+\s*", stripped)
        if segments:
            return "".join(re.findall(r"'([^']*)'", stripped))
    return text


def _context_pattern(before: str, after: str) -> bytes:
    if before.endswith('"') and after.startswith('"'):
        return rb'([^"\\\n]*(?:\\.[^"\\\n]*)*)'
    if before.endswith("[") and after.startswith("]"):
        return rb"([^\]\n]*)"
    if not after:
        return rb"([^\r\n]*)"
    return rb"([^" + re.escape(after[0]).encode() + rb"\n]*)"


@lru_cache(maxsize=32)
def compile_log_format(log_format: str) -> tuple[Piece, ...]:
    """The pattern pieces of an nginx log_format string; LogFormatError names what is not supported."""
    text = _unquote(log_format)
    if not text.strip():
        raise LogFormatError("is empty")
    literals: list[str] = []
    names: list[str] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        name = m.group(1) if m.group(1) is not None else m.group(2)
        if not name:
            raise LogFormatError(f"has a '$' without a variable name at character {m.start() + 1}")
        literals.append(text[pos:m.start()])
        names.append(name)
        pos = m.end()
    literals.append(text[pos:])
    if not names:
        raise LogFormatError("has no $variable")
    pieces: list[Piece] = [(None, b"^")]
    seen: dict[str, str] = {}
    for i, name in enumerate(names):
        before, after = literals[i], literals[i + 1]
        if name not in _KINDS and not name.startswith(_FAMILIES):
            raise LogFormatError(f"uses ${name}, which is not supported; accepted: {supported_variables()}")
        if i > 0 and before == "":
            raise LogFormatError(f"has ${names[i - 1]} and ${name} with nothing between them: the boundary "
                                 "between the two values is ambiguous")
        field = TIME_COLUMNS.get(name) or RENAMES.get(name, name)
        fields = ("method", "path", "protocol") if name == "request" else (field,)
        for f in fields:
            if f in seen:
                raise LogFormatError(f"logs field {f!r} twice (${seen[f]} and ${name})")
            seen[f] = name
        pieces.append((None, re.escape(before).encode()))
        if name == "request":
            pieces.extend(REQUEST_PIECES)
        else:
            kind = _KINDS.get(name)
            pieces.append((field, kind if kind is not None else _context_pattern(before, after)))
    pieces.append((None, re.escape(literals[-1]).encode() + rb"\r?$"))
    return tuple(pieces)


def log_format_fields(log_format: str) -> tuple[str, ...]:
    """The field names a log_format string gives (its event-time columns excluded)."""
    return tuple(f for f, _ in compile_log_format(log_format) if f and not f.startswith("_"))
