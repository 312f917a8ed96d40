"""Message patterns: grouping accuracy on public labelled samples and speed, tailstat vs drain3 (same run).

    .venv/bin/python -m bench.patterns            # accuracy per dataset + mean, then speed
    .venv/bin/python -m bench.patterns --speed-lines 200000

Accuracy is the log-parsing literature's *grouping accuracy*: the share of messages whose predicted group holds
exactly the same messages as their true group. Data: bench/loghub/*.txt (labelled lines of the Loghub 2k
samples, see LICENSE-loghub), no per-dataset settings for either parser. drain3 (`pip install drain3`, a
bench-only dependency) runs with its defaults; it is skipped when not installed.

Speed (CPU seconds of this process, steadier than wall time on a shared machine): tailstat parses whole raw lines (header: timestamp, level, logger; then masking and template mining,
through parse_text and the Store's PatternRegistry) while drain3 gets the message part only, as it is used.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

from tailstat.parse.mask import mask_messages
from tailstat.patterns import PatternRegistry

DATA = Path(__file__).resolve().parent / "loghub"


def load(path: Path) -> tuple[list[str], list[str]]:
    labels, messages = [], []
    for line in path.read_text().splitlines():
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


def accuracy() -> None:
    ours, theirs = [], []
    print(f"{'dataset':<12} {'lines':>5} {'tailstat':>9} {'drain3':>7}")
    for path in sorted(DATA.glob("*.txt")):
        labels, messages = load(path)
        a = grouping_accuracy(labels, tailstat_groups(messages))
        d = drain3_groups(messages)
        b = grouping_accuracy(labels, d) if d is not None else float("nan")
        ours.append(a)
        theirs.append(b)
        print(f"{path.stem:<12} {len(labels):>5} {a:>9.3f} {b:>7.3f}")
    print(f"{'mean':<12} {'':>5} {sum(ours) / len(ours):>9.3f} {sum(theirs) / len(theirs):>7.3f}")


def speed(lines: int) -> None:
    """Raw log4j-style lines (header + message) through parse_text + the registry, against drain3 on the
    message parts of the same lines."""
    from tailstat.parse import ParserSpec, build_spec, detect, parse_batch

    messages = []
    for path in sorted(DATA.glob("*.txt")):
        messages.extend(load(path)[1])
    levels = ("INFO", "WARN", "ERROR", "DEBUG")
    raw = [f"2026-12-01 10:{i // 600 % 60:02d}:{i // 10 % 60:02d},{i % 1000:03d} {levels[i % 4]} [worker-{i % 7}] "
           f"com.example.Service{i % 5}: {messages[i % len(messages)]}" for i in range(lines)]
    data = ("\n".join(raw) + "\n").encode()
    spec: ParserSpec = build_spec("auto", (), (), None).resolved(detect(data[:65536]) or "text")
    started = time.process_time()
    registry = PatternRegistry()
    batch = 256 * 1024
    pos, events = 0, 0
    while pos < len(data):
        end = data.rfind(b"\n", pos, pos + batch) + 1 or len(data)
        partial = parse_batch(spec, data[pos:end])
        registry.count(Counter(partial.dims["pattern"].raw))
        events += partial.events or partial.parsed
        pos = end
    ours = time.process_time() - started
    try:
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError:
        print(f"tailstat: {lines / ours:,.0f} lines/s (drain3 not installed)")
        return
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    bodies = [messages[i % len(messages)] for i in range(lines)]
    started = time.process_time()
    for m in bodies:
        miner.add_log_message(m)
    theirs = time.process_time() - started
    print(f"tailstat (header + patterns): {lines / ours:>10,.0f} lines/s ({events} events, {len(registry)} templates)")
    print(f"drain3 (message only):        {lines / theirs:>10,.0f} lines/s ({len(miner.drain.clusters)} clusters)")
    print(f"ratio: {theirs / ours:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed-lines", type=int, default=100000)
    args = parser.parse_args()
    accuracy()
    speed(args.speed_lines)


if __name__ == "__main__":
    main()
