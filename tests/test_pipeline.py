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


def test_one_files_batches_with_errors_are_not_parsed_again_one_by_one() -> None:
    """Runs of one file's batches (process mode groups several of a busy file) are charged together: the
    file's errors land on the run's last batch, and only runs of different files are parsed separately."""
    datas = [LINE + b"garbage\n", LINE * 2, LINE + b"bad\n", LINE]
    partial, items, _ = parse_group(COMBINED, datas, ["a", "a", "b", "c"])
    assert items == [(2, len(LINE) + 8, 2), (2, 2 * len(LINE), 1), (2, len(LINE) + 4, 1), (1, len(LINE), 1)]
    assert (partial.lines, partial.parsed, dict(partial.errors)) == (7, 5, {"no_match": 2})
    one_file, one_items, _ = parse_group(COMBINED, datas, ["a"] * 4)
    assert one_items == [(2, len(LINE) + 8, 2), (2, 2 * len(LINE), 2), (2, len(LINE) + 4, 2), (1, len(LINE), -1)]
    assert sum(n - p for n, _, p in one_items) == one_file.lines - one_file.parsed == 2


def test_a_failing_call_is_retried_batch_by_batch(monkeypatch) -> None:
    """Only the batch that fails again is counted as failed, not the rest of its group."""
    import asyncio

    from tailstat import pipeline

    real = pipeline.parse_group

    def poisoned(spec, datas, keys=None):
        if any(b"poison" in d for d in datas):
            raise ValueError("poisoned batch")
        return real(spec, datas, keys)

    monkeypatch.setattr(pipeline, "parse_group", poisoned)
    store = Store()
    batches = [Batch(key, 0, 100, data, COMBINED) for key, data in
               (("a", LINE * 2), ("b", LINE + b"poison\n" + LINE), ("c", LINE))]
    for b in batches:
        store.upsert_file(b.key, path=f"/{b.key}.log")

    async def run() -> pipeline.ParsePool:
        pool = pipeline.ParsePool("thread", 1, store)
        queue: asyncio.Queue = asyncio.Queue()
        await queue.put(batches)
        await queue.put(None)
        await asyncio.wait_for(asyncio.gather(pool.submit_from(queue), pool.merge_results()), 30)
        pool.shutdown()
        return pool

    assert asyncio.run(run()).failed_batches == 1
    doc = store.snapshot()
    assert (doc["totals"]["lines"], doc["totals"]["parsed"], doc["errors"]) == (6, 3, {"parse_failed": 3})
    assert {f["key"]: (f["lines"], f["parse_errors"]) for f in doc["files"]} == {"a": (2, 0), "b": (3, 3), "c": (1, 0)}
