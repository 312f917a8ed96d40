"""Which dimension and measure names a stats request may ask for (`stats --field`, `GET /stats?fields=`), and
the answer to one that does not exist: its name and the list of those that do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class UnknownField(ValueError):
    """A requested field does not exist; str(self) names it, `accepted` lists the fields that do."""

    def __init__(self, message: str, accepted: list[str]) -> None:
        super().__init__(message)
        self.accepted = accepted


def configured(sources: Iterable[Any]) -> set[str]:
    """Dimensions and measures the sources' formats and TAILSTAT_GROUP_BY / MEASURES name (an `auto` source
    has only its extra ones until a file's format is detected)."""
    names: set[str] = set()
    for src in sources:
        spec = src.spec
        names.update(spec.dimensions, spec.measures, spec.extra_dimensions, spec.extra_measures)
    return names


def check(requested: Iterable[str] | None, known: Iterable[str]) -> None:
    """Raise UnknownField for the first requested name not in `known`."""
    if not requested:
        return
    accepted = sorted(set(known))
    missing = [n for n in requested if n not in accepted]
    if missing:
        names = ", ".join(repr(n) for n in missing)
        listed = ", ".join(accepted) if accepted else "none yet (no line has been parsed)"
        raise UnknownField(f"no field {names} in the stats; the fields are: {listed}", accepted)
