"""Compatibility shim: the syslog format lives in `tailstat.parse.syslog`."""

from tailstat.parse.syslog import *
from tailstat.parse.syslog import (  # noqa: F401
    FACILITIES,
    SEVERITIES,
    bsd_minute,
    failure_reason,
    parse_syslog,
    syslog_pattern,
)
