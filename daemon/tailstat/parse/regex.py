"""The `regex` format: a user pattern with named groups."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from tailstat.parse.structured import aggregate_records
from tailstat.partial import Partial

if TYPE_CHECKING:
    from tailstat.parse.spec import ParserSpec

def parse_regex(spec: ParserSpec, data: bytes) -> Partial:
    """A user pattern with named groups, which must match a whole line."""
    pattern = _compiled_user_regex(spec.regex or "")
    partial = Partial(lines=data.count(b"\n"), bytes=len(data))
    records = []
    for line in data.split(b"\n")[:-1]:
        if line.endswith(b"\r"):
            line = line[:-1]
        m = pattern.fullmatch(line)
        if m is None:
            partial.add_error("no_match" if pattern.search(line) is None else "partial_match", line)
            continue
        records.append({k: v.decode("utf-8", "replace") for k, v in m.groupdict().items() if v is not None})
    partial.parsed = len(records)
    aggregate_records(spec, records, partial)
    return partial


@lru_cache(maxsize=16)
def _compiled_user_regex(regex: str) -> re.Pattern:
    return re.compile(regex.encode())
