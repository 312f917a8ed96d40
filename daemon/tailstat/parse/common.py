"""Helpers shared by the formats: numbers and measure sketches."""

from __future__ import annotations

import math
from collections import Counter

from tailstat.partial import Partial
from tailstat.sketches import Quantiles


def to_number(value: object) -> float | None:
    """A measure value: numbers, and numbers given as strings; None for anything else (skipped)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, (str, bytes)):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def numeric_counter(raw: Counter, name: str, partial: Partial, dash_is_zero: bool = False) -> Counter:
    """Counter of raw values (bytes or str) -> Counter of floats; non-numbers counted as skipped.

    Runs once per distinct value of the batch, not per line."""
    out: Counter = Counter()
    for key, n in raw.items():
        try:
            number = float(key)
        except (ValueError, TypeError):
            if dash_is_zero and key in (b"-", "-"):
                out[0.0] += n
            else:
                number = to_number(key) if not isinstance(key, (bytes, str)) else None
                if number is None:
                    partial.skipped[f"not_a_number:{name}"] += n
                else:
                    out[number] += n
            continue
        if not math.isfinite(number):  # NaN or inf: not a measure
            partial.skipped[f"not_a_number:{name}"] += n
        else:
            out[number] += n
    return out


# formats whose measure columns the pattern restricts to digits (\d+ or \d+.\d+) or "-"
DIGIT_MEASURE_FORMATS = ("combined", "common", "combined_timed")


def measure_sketch(column: tuple[str, ...], name: str, partial: Partial, dash_is_zero: bool = False,
                   digits_only: bool = False) -> Quantiles:
    """One batch's values of a measure as a (small, mergeable) Quantiles sketch, built in the worker.

    A `-` is the log's "no value": 0 for a byte count (Apache's %b), else skipped as `missing:<name>` (nginx's
    $upstream_response_time when nothing was proxied). Fast path: every other value is a plain finite number,
    converted and bucketed by C-level maps. Otherwise (garbage, NaN) the values go through numeric_counter,
    which counts what it skips as `not_a_number:<name>`."""
    sketch = Quantiles()
    dashes = column.count("-")
    if dashes:
        column = tuple(filter("-".__ne__, column))
        if dash_is_zero:
            sketch.add_values([0.0] * dashes)
        else:
            partial.skipped[f"missing:{name}"] += dashes
    try:
        values = list(map(float, column))
    except ValueError:
        values = None
    # (a column the pattern already restricted to digits cannot hold "nan" or "inf")
    if values is not None and (digits_only or not (any(map(math.isinf, values)) or any(map(math.isnan, values)))):
        sketch.add_values(values)
    else:
        sketch.add_counts(numeric_counter(Counter(column), name, partial, dash_is_zero))
    return sketch
