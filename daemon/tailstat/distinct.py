"""Distinct counts: an exact set, then a HyperLogLog (see sketches.py for the contract the three summaries
share), and the register codes the window slots share."""

from __future__ import annotations

import base64
import hashlib
import math
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import partial
from itertools import repeat
from operator import methodcaller
from typing import Any, Self


class Distinct:
    """Distinct count: an exact set up to ``exact_limit`` values, HyperLogLog beyond that.

    The HyperLogLog uses ``2**precision`` one-byte registers (16 KiB at the default 14, standard error
    1.04 / sqrt(2**14) ~ 0.8 %) and a blake2b hash, so registers are stable across processes and restarts
    (the builtin ``hash()`` is salted per process) and saved sketches stay mergeable. Summaries in HyperLogLog
    form merge only with the same precision.

    Adding a value to the registers twice changes nothing, so in HyperLogLog form the values added recently
    are remembered (at most ``max(exact_limit, 1024)`` of them, dropped wholesale when full) and a batch only
    hashes the values not among them: the heavy values that recur in every batch are hashed about once per
    cache generation instead of once per batch. The cache is not state: it is neither saved nor merged.
    """

    __slots__ = ("_exact_limit", "_precision", "_recent", "_registers", "_values")

    def __init__(self, exact_limit: int = 10000, precision: int = 14) -> None:
        if exact_limit < 0:
            raise ValueError(f"Distinct exact_limit must be >= 0, got {exact_limit}")
        if not 4 <= precision <= 18:
            raise ValueError(f"Distinct precision must be in 4..18, got {precision}")
        self._exact_limit = exact_limit
        self._precision = precision
        self._values: set[str] = set()
        # Empty while exact; the set is emptied once this holds the registers, so only one form uses memory.
        self._registers = bytearray()
        self._recent: set[str] = set()  # in HyperLogLog form: values known to be in the registers already

    @property
    def is_estimate(self) -> bool:
        return len(self._registers) > 0

    def __repr__(self) -> str:
        return f"Distinct(count={self.count()}, is_estimate={self.is_estimate})"

    def update(self, values: Iterable[str], codes: RegisterCodes | None = None) -> None:
        """Add values. `codes`: a cache of values' register codes shared by sketches of its precision (the
        window slots), so a value met again in another sketch is not hashed again."""
        if codes is not None and codes.precision == self._precision:
            if not self.is_estimate:
                self._values.update(values)
                if len(self._values) <= self._exact_limit:
                    return
                values, self._values = self._values, set()
                self._registers = bytearray(1 << self._precision)
            codes.add(self._registers, values)
            return
        if self.is_estimate:
            fresh = set(values)
            fresh -= self._recent
            if not fresh:
                return
            _hll_add(self._registers, self._precision, fresh)
            if len(self._recent) + len(fresh) > max(self._exact_limit, 1024):
                self._recent = fresh
            else:
                self._recent |= fresh
            return
        self._values.update(values)
        if len(self._values) > self._exact_limit:
            self._switch_to_registers()

    def merge(self, other: Distinct) -> None:
        if other is self:
            return  # a union with itself changes nothing
        if not self.is_estimate and not other.is_estimate:
            self.update(other._values)
            return
        if other.is_estimate and other._precision != self._precision:
            raise ValueError(f"cannot merge HyperLogLog precision {other._precision} into {self._precision}")
        if not self.is_estimate:
            self._switch_to_registers()
        if other.is_estimate:
            self._registers = bytearray(map(max, self._registers, other._registers))
        else:
            _hll_add(self._registers, self._precision, other._values)

    def merge_all(self, others: list[Distinct]) -> None:
        """merge() of each of `others`, with the registers of all of them maxed in one pass (a window's union
        of many slot sketches: one C-level max per register instead of one per register and sketch)."""
        estimates = [o for o in others if o.is_estimate and o is not self]
        for other in others:
            if not other.is_estimate and other is not self:
                self.merge(other)
        if not estimates:
            return
        for other in estimates:
            if other._precision != self._precision:
                raise ValueError(f"cannot merge HyperLogLog precision {other._precision} into {self._precision}")
        if not self.is_estimate:
            self._switch_to_registers()
        self._registers = bytearray(map(max, self._registers, *(o._registers for o in estimates)))

    def count(self) -> int:
        if self.is_estimate:
            return _hll_estimate(self._registers)
        return len(self._values)

    def forget_recent(self) -> None:
        """Drop the recent-values cache (memory only: a sketch no longer written to needs none)."""
        self._recent = set()

    def reduced(self, precision: int) -> Distinct:
        """This count at a lower precision: register j of 2**precision is the largest of the registers whose
        index ends in j's bits (the index is the hash's low bits and the rank comes from its high bits, so
        this equals sketching the same values at that precision, up to ranks past 64 - precision)."""
        if precision > self._precision:
            raise ValueError(f"cannot raise HyperLogLog precision {self._precision} to {precision}")
        clone = type(self)(self._exact_limit, precision)
        if not self.is_estimate:
            clone.update(self._values)
            return clone
        size = 1 << precision
        registers = self._registers[:size]
        for start in range(size, len(self._registers), size):
            registers = bytearray(map(max, registers, self._registers[start:start + size]))
        clone._registers = bytearray(registers)
        return clone

    def copy(self) -> Self:
        clone = type(self)(self._exact_limit, self._precision)
        clone._values = set(self._values)
        clone._registers = bytearray(self._registers)
        clone._recent = set(self._recent)
        return clone

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        # the recent-values cache is not state: a pickled partial (process pool) stays sketch-sized
        return None, {"_exact_limit": self._exact_limit, "_precision": self._precision, "_values": self._values,
                      "_registers": self._registers}

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        for name, value in state[1].items():
            setattr(self, name, value)
        self._recent = set()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"exact_limit": self._exact_limit, "precision": self._precision}
        if self.is_estimate:
            data["hll"] = base64.b64encode(self._registers).decode("ascii")
        else:
            data["exact"] = sorted(self._values)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        sketch = cls(int(data["exact_limit"]), int(data.get("precision", 14)))
        if "hll" in data:
            registers = bytearray(base64.b64decode(data["hll"]))
            if len(registers) != 1 << sketch._precision:
                raise ValueError(
                    f"HyperLogLog has {len(registers)} registers, precision "
                    f"{sketch._precision} needs {1 << sketch._precision}"
                )
            sketch._registers = registers
        else:
            sketch._values = {str(value) for value in data["exact"]}
        return sketch

    def _switch_to_registers(self) -> None:
        self._registers = bytearray(1 << self._precision)
        _hll_add(self._registers, self._precision, self._values)
        self._recent = self._values  # all of them are in the registers now
        self._values = set()


class RegisterCodes:
    """Values -> their HyperLogLog register code (index << 7 | rank) at one precision, remembered for up to
    `limit` values (then forgotten wholesale): sketches sharing it hash a recurring value once, and add a batch
    as one register update per distinct code. Not state: codes are a pure function of the value."""

    __slots__ = ("_codes", "limit", "precision")

    def __init__(self, precision: int, limit: int = 10000) -> None:
        self.precision = precision
        self.limit = limit
        self._codes: dict[str, int] = {}

    def add(self, registers: bytearray, values: Iterable[str]) -> None:
        codes = self._codes
        values = set(values)
        missing = values.difference(codes)  # (a C-level pass over `values`, looked up in the dict)
        if missing:
            if len(codes) + len(missing) > self.limit:
                codes.clear()
                missing = list(values)
            p = self.precision
            mask, width = (1 << p) - 1, 64 - p
            hashes = list(map(int.from_bytes, map(_digest, map(_blake2b_8, map(_encode, missing))), repeat("little")))
            ranks = map(operator.sub, repeat(width + 1), map(int.bit_length, map(operator.rshift, hashes, repeat(p))))
            codes.update(zip(missing, map(operator.or_, map(operator.lshift, map(operator.and_, hashes, repeat(mask)),
                                                             repeat(7)), ranks)))
        found = set(map(codes.__getitem__, values))
        for code in found:
            index, rank = code >> 7, code & 127
            if rank > registers[index]:  # noqa: PLR1730 - cheaper than a max() call
                registers[index] = rank


# surrogatepass: lines decoded with surrogateescape may carry lone surrogates, which must hash, not raise.
_encode = methodcaller("encode", "utf-8", "surrogatepass")
_blake2b_8 = partial(hashlib.blake2b, digest_size=8)
_digest = methodcaller("digest")


def _hash64(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(_encode(value), digest_size=8).digest(), "little")


def _hll_add(registers: bytearray, precision: int, values: Iterable[str]) -> None:
    mask = (1 << precision) - 1
    width = 64 - precision
    # The hashes come from a chain of C-level maps (the same value as _hash64): no Python frame per value.
    for hashed in map(int.from_bytes, map(_digest, map(_blake2b_8, map(_encode, values))), repeat("little")):
        # The low bits pick the register; the register keeps the largest rank seen, where rank is
        # 1 + the number of leading zeros of the remaining (64 - precision)-bit word.
        index = hashed & mask
        rank = width + 1 - (hashed >> precision).bit_length()
        if rank > registers[index]:  # noqa: PLR1730 - cheaper than a max() call, once per value
            registers[index] = rank


def _hll_estimate(registers: bytearray) -> int:
    # Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog sketches", 2017;
    # also Redis's). The classic raw estimate with a linear-counting switch at 2.5 * m is off by up to 3 %
    # just past the switch (measured at p=14, ~41,000 values); this one stays near the 0.8 % standard
    # error over the whole range, needs no empirical bias tables, and no large-range correction at 64 bits.
    m = len(registers)
    width = 64 - (m.bit_length() - 1)
    # Registers take at most 65 distinct values: a C-level histogram leaves a short Python loop.
    histogram = Counter(registers)
    z = m * _hll_tau((m - histogram.get(width + 1, 0)) / m)
    for rank in range(width, 0, -1):
        z = 0.5 * (z + histogram.get(rank, 0))
    z += m * _hll_sigma(histogram.get(0, 0) / m)
    return round(m * m / (2.0 * math.log(2.0) * z))


def _hll_sigma(x: float) -> float:
    # Corrects for empty registers: the small-range part of the estimate. Series run until they converge.
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous, z = z, z + x * y
        y += y
        if z == previous:
            return z


def _hll_tau(x: float) -> float:
    # Corrects for saturated registers (rank 65 - precision): the large-range part of the estimate.
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        y *= 0.5
        previous, z = z, z - (1.0 - x) ** 2 * y
        if z == previous:
            return z / 3.0
