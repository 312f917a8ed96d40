"""Message patterns: grouping accuracy on public labelled samples and speed, tailstat vs drain3 (same run).

    .venv/bin/python -m bench.patterns            # accuracy per dataset + mean, then speed
    .venv/bin/python -m bench.patterns --speed-lines 200000
    .venv/bin/python -m bench.patterns --extra DIR  # each dataset's rows plus those of DIR/<Name>.part*.txt

Accuracy is the log-parsing literature's *grouping accuracy*: the share of messages whose predicted group holds
exactly the same messages as their true group. Data: bench/loghub/*.txt (labelled lines of the Loghub 2k
samples, see LICENSE-loghub), no per-dataset settings for either parser. drain3 (`pip install drain3`, a
bench-only dependency) runs with its defaults; it is skipped when not installed.

Speed (CPU seconds of this process, steadier than wall time on a shared machine): tailstat parses whole raw lines (header: timestamp, level, logger; then masking and template mining,
through parse_text and the Store's PatternRegistry) while drain3 gets the message part only, as it is used.
Each side runs `--rounds` times, alternating, from a fresh state (registry and shape memo; template miner); the
best round of each counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

from tailstat.parse.mask import mask_messages
from tailstat.patterns import PatternRegistry

DATA = Path(__file__).resolve().parent / "loghub"


def load(path: Path) -> tuple[list[str], list[str]]:
    labels, messages = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        label, _, message = line.partition(" ")
        labels.append(label)
        messages.append(message)
    return labels, messages


def grouping_accuracy(truth: list[str], predicted: list) -> float:
    by_pred: dict = defaultdict(set)
    by_true: dict = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, predicted)):
        by_pred[p].add(i)
        by_true[t].add(i)
    correct = sum(1 for i, (t, p) in enumerate(zip(truth, predicted)) if by_pred[p] == by_true[t])
    return correct / len(truth)


def tailstat_groups(messages: list[str]) -> list[int]:
    registry = PatternRegistry()
    return [registry.assign(shape) for shape in mask_messages(messages)]


def drain3_groups(messages: list[str]) -> list[int] | None:
    try:
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError:
        return None
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    return [miner.add_log_message(m)["cluster_id"] for m in messages]


def dataset(path: Path, extra: Path | None = None) -> tuple[list[str], list[str]]:
    """A dataset's labelled rows, followed by those of `extra`/<Name>.part*.txt (sorted by name)."""
    labels, messages = load(path)
    for part in sorted(extra.glob(f"{path.stem}.part*.txt")) if extra is not None else ():
        more_labels, more_messages = load(part)
        labels += more_labels
        messages += more_messages
    return labels, messages


def accuracy(extra: Path | None = None) -> None:
    ours, theirs = [], []
    print(f"{'dataset':<12} {'lines':>5} {'tailstat':>9} {'drain3':>7}")
    for path in sorted(DATA.glob("*.txt")):
        labels, messages = dataset(path, extra)
        a = grouping_accuracy(labels, tailstat_groups(messages))
        d = drain3_groups(messages)
        b = grouping_accuracy(labels, d) if d is not None else float("nan")
        ours.append(a)
        theirs.append(b)
        print(f"{path.stem:<12} {len(labels):>5} {a:>9.3f} {b:>7.3f}")
    print(f"{'mean':<12} {'':>5} {sum(ours) / len(ours):>9.3f} {sum(theirs) / len(theirs):>7.3f}")


def speed(lines: int, rounds: int = 3, fresh_numbers: bool = False) -> None:
    """Raw log4j-style lines (header + message) through parse_text + the registry, against drain3 on the
    message parts of the same lines. The messages are the labelled rows in turn, so each one recurs every
    len(messages) lines; with fresh_numbers every run of digits in a line's message is replaced by a number of
    that line's own, so no message recurs as it was (no exact-repeat cache helps; the shapes still recur)."""
    from tailstat.parse import ParserSpec, build_spec, detect
    from tailstat.parse import mask as shape_memo

    messages = []
    for path in sorted(DATA.glob("*.txt")):
        messages.extend(load(path)[1])
    if fresh_numbers:
        messages = _fresh_numbers(messages, lines)
    levels = ("INFO", "WARN", "ERROR", "DEBUG")
    raw = [f"2026-12-01 10:{i // 600 % 60:02d}:{i // 10 % 60:02d},{i % 1000:03d} {levels[i % 4]} [worker-{i % 7}] "
           f"com.example.Service{i % 5}: {messages[i % len(messages)]}" for i in range(lines)]
    data = ("\n".join(raw) + "\n").encode()
    spec: ParserSpec = build_spec("auto", (), (), None).resolved(detect(data[:65536]) or "text")
    bodies = [messages[i % len(messages)] for i in range(lines)]
    have_drain3 = importlib.util.find_spec("drain3") is not None
    ours, theirs = [], []
    for _ in range(rounds):
        shape_memo._memo.clear()  # a fresh start, like drain3's new miner
        ours.append(_tailstat_round(spec, data))
        if have_drain3:
            theirs.append(_drain3_round(bodies))
    best, (events, templates) = min(ours)
    print(f"tailstat (header + patterns): {lines / best:>10,.0f} lines/s ({events} events, {templates} templates)"
          + ("" if theirs else " (drain3 not installed)"))
    if theirs:
        best_theirs, clusters = min(theirs)
        print(f"drain3 (message only):        {lines / best_theirs:>10,.0f} lines/s ({clusters} clusters)")
        print(f"ratio: {best_theirs / best:.2f}x (best of {rounds} rounds each, CPU seconds: tailstat "
              f"{', '.join(f'{t:.3f}' for t, _ in ours)}; drain3 {', '.join(f'{t:.3f}' for t, _ in theirs)})")


def _fresh_numbers(messages: list[str], lines: int) -> list[str]:
    digits = re.compile(r"\d+")
    out = []
    for i in range(lines):
        serial = iter(range(1_000_000))
        number = lambda _m, i=i, serial=serial: str((i * 7919 + next(serial) * 104729) % 999_983)  # noqa: E731
        out.append(digits.sub(number, messages[i % len(messages)]))
    return out


def _tailstat_round(spec, data: bytes) -> tuple[float, tuple[int, int]]:
    from tailstat.parse import parse_batch

    started = time.process_time()
    registry = PatternRegistry()
    batch = 256 * 1024
    pos, events = 0, 0
    while pos < len(data):
        end = data.rfind(b"\n", pos, pos + batch) + 1 or len(data)
        partial = parse_batch(spec, data[pos:end])
        registry.count(Counter(partial.dims["pattern"].raw))  # as the Store does (aggregate._template_counts)
        events += partial.events or partial.parsed
        pos = end
    return time.process_time() - started, (events, len(registry))


def _drain3_round(bodies: list[str]) -> tuple[float, int]:
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    started = time.process_time()
    for m in bodies:
        miner.add_log_message(m)
    return time.process_time() - started, len(miner.drain.clusters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed-lines", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds of each side, alternating (best counts)")
    parser.add_argument("--extra", type=Path, default=None,
                        help="a directory of more labelled rows: DIR/<Name>.part*.txt join dataset <Name>")
    parser.add_argument("--fresh-numbers", action="store_true",
                        help="speed: every line's message gets numbers of its own (no message recurs exactly)")
    args = parser.parse_args()
    accuracy(args.extra)
    speed(args.speed_lines, args.rounds, args.fresh_numbers)


if __name__ == "__main__":
    main()
