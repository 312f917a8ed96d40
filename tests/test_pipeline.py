"""Grouping small batches into one executor call: order kept, each file charged its own lines and errors."""

from __future__ import annotations

from tailstat.aggregate import Store
from tailstat.formats import build_spec
from tailstat.pipeline import group_batches, parse_group
from tailstat.tail import Batch

COMBINED = build_spec("combined", (), (), None)
JSON = build_spec("json", (), (), None)
LINE = b'10.0.0.1 - - [10/Oct/2025:13:55:36 +0000] "GET /a HTTP/1.1" 200 7 "-" "ua"\n'


def test_group_batches_keeps_order_and_splits_by_format_and_size() -> None:
    small = [Batch(f"f{i}", 0, 80, LINE, COMBINED) for i in range(5)]
    other = Batch("j", 0, 3, b"{}\n", JSON)
    big = Batch("b", 0, 1000, LINE * 13, COMBINED)
    groups = group_batches([*small[:3], other, *small[3:], big], group_bytes=3 * len(LINE))
    assert [[b.key for b in g] for g in groups] == [["f0", "f1", "f2"], ["j"], ["f3", "f4"], ["b"]]


def test_parse_group_charges_each_file_its_own_lines_and_errors() -> None:
    datas = [LINE * 2, LINE + b"garbage\n" + LINE, LINE]
    partial, items, _ = parse_group(COMBINED, datas)
    assert items == [(2, 2 * len(LINE), 2), (3, 2 * len(LINE) + 8, 2), (1, len(LINE), 1)]
    assert (partial.lines, partial.parsed, dict(partial.errors)) == (6, 5, {"no_match": 1})
    clean, clean_items, _ = parse_group(COMBINED, [LINE * 2, LINE])  # parsed as one buffer
    assert (clean.lines, clean.parsed) == (3, 3)
    assert clean_items == [(2, 2 * len(LINE), 2), (1, len(LINE), 1)]
    store = Store()
    for key in ("a", "b", "c"):
        store.upsert_file(key, path=f"/{key}.log")
    store.merge(partial, commits=[(k, 100 + i, n, b, n - p) for i, (k, (n, b, p)) in enumerate(zip("abc", items))])
    files = {f["key"]: (f["lines"], f["parse_errors"], f["offset"]) for f in store.snapshot()["files"]}
    assert files == {"a": (2, 0, 100), "b": (3, 1, 101), "c": (1, 0, 102)}
    assert store.snapshot()["fields"]["status"]["top"] == [["200", 5]]
