"""Mergeable, bounded-memory summaries behind the statistics: heavy hitters, distinct counts, quantiles.

All three share one contract so the aggregate store can treat them alike:

- updates take one parsed batch already reduced to distinct values (a Counter from the parser), so the
  Python-level work is per distinct value, never per line;
- ``merge(other)`` works in place, and merging two summaries equals summarising the concatenated inputs
  (exactly while a summary is still exact, within the documented bounds after that);
- ``to_dict``/``from_dict`` round-trip through JSON (checkpoints, saved stats documents), and instances
  pickle (``__slots__``, no stored callables) so partial aggregates can cross a process pool.
"""

from __future__ import annotations

from tailstat.distinct import Distinct, RegisterCodes
from tailstat.quantiles import Quantiles
from tailstat.topk import TopK

__all__ = ["Distinct", "Quantiles", "RegisterCodes", "TopK"]
