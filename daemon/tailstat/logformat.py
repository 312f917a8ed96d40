"""Compatibility shim: nginx log_format compilation lives in `tailstat.parse.logformat`."""

from tailstat.parse.logformat import *
from tailstat.parse.logformat import (  # noqa: F401
    REQUEST_PIECES,
    TEXT_FIELDS,
    TIME_COLUMNS,
    LogFormatError,
    compile_log_format,
    log_format_fields,
    supported_variables,
)
