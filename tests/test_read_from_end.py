"""Contract item 5 (issue 15, "First start on existing logs"): with TAILSTAT_READ_FROM=end, the bytes a file
already held at the very first start are skipped -- the file record says how many (`skipped_at_start`) -- and
the file's format is detected from those existing lines anyway, so `stats` can show a format and a hint at once.
"""

from __future__ import annotations

from pathlib import Path

from helpers import wait_until

NGINX = ('10.0.0.{i} - - [01/Dec/2026:10:00:0{s} +0000] "GET /p{i} HTTP/1.1" 200 {b} "-" "curl/8.0"\n')
JSON = '{{"level":"info","msg":"m{i}"}}\n'


def lines(template: str, n: int, start: int = 0) -> bytes:
    return "".join(template.format(i=i, s=i % 10, b=100 + i) for i in range(start, start + n)).encode()


def record(doc: dict, path: Path) -> dict | None:
    return next((f for f in doc["files"] if f["path"] == str(path)), None)


def test_existing_bytes_are_skipped_counted_in_the_record_and_their_format_detected(tmp_path: Path,
                                                                                    daemon) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    access, app, empty = logs / "access.log", logs / "app.log", logs / "empty.log"
    access.write_bytes(lines(NGINX, 40))
    app.write_bytes(lines(JSON, 7) + b'{"level":"info","ms')  # and a line in progress: read from its start
    empty.write_bytes(b"")
    d = daemon(str(logs / "*.log"), TAILSTAT_READ_FROM="end", TAILSTAT_CHECKPOINT_INTERVAL="0.2")
    wait_until(lambda: record(d.stats(), access) and record(d.stats(), app), what="both files opened")
    doc = d.stats()
    a, j = record(doc, access), record(doc, app)
    assert (a["skipped_at_start"], a["format"], a["lines"], a["offset"]) == (access.stat().st_size, "combined",
                                                                            0, access.stat().st_size)
    assert (j["skipped_at_start"], j["format"], j["lines"]) == (len(lines(JSON, 7)), "json", 0)
    assert doc["totals"]["lines"] == 0
    with open(access, "ab") as fh:
        fh.write(lines(NGINX, 3, start=40))
    with open(app, "ab") as fh:
        fh.write(b'g":"done"}\n')
    wait_until(lambda: d.stats()["totals"]["lines"] == 4, what="the new lines")
    doc = d.stats()
    assert doc["totals"]["parse_errors"] == 0
    assert (record(doc, access)["lines"], record(doc, app)["lines"]) == (3, 1)
    assert d.stop() == 0
    # a later start is not a first start: nothing more is skipped, the record keeps what was
    with open(access, "ab") as fh:
        fh.write(lines(NGINX, 2, start=43))
    fresh = logs / "fresh.log"
    fresh.write_bytes(lines(JSON, 5))
    d.start()
    wait_until(lambda: d.stats()["totals"]["lines"] == 11, what="the lines written while stopped")
    doc = d.stats()
    assert record(doc, access)["skipped_at_start"] == len(lines(NGINX, 40))
    assert record(doc, fresh)["skipped_at_start"] == 0
    assert d.stop() == 0
