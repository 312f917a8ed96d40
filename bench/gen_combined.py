"""Seeded generator of realistic nginx "combined" access-log lines.

    python bench/gen_combined.py --lines 1000000 --seed 1 [--distinct-paths N] [--distinct-clients N]
                                 [--timed] OUT

Line format (nginx ``log_format combined``), optionally followed by ``$request_time $upstream_response_time``
with ``--timed``:

    1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] "GET /a/b?x=1 HTTP/1.1" 200 1234 "https://ref/" "Mozilla/5.0 ..."

Speed comes from drawing every field of a line from one 128-bit random word: each field takes a bit slice and
indexes a pre-made table in which values are repeated in proportion to their weight.  Lines are built by one
f-string per line and written in chunks of ``CHUNK_LINES``.

Without ``--distinct-*`` clients and URIs come from Zipf-skewed pools.  With ``--distinct-paths N`` line ``i``
gets URI number ``(i * stride + offset) % N`` (``stride`` coprime with ``N``), so exactly ``min(N, lines)``
distinct values appear; the number is part of the path, and the query string is a function of it, so the count
holds whether a consumer keys on the path or on the whole URI.  ``--distinct-clients`` works the same way with
an IPv4 address that is a bijection of the number.  A JSON summary with the exact distinct counts goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from array import array
from datetime import UTC, datetime, timedelta
from itertools import accumulate

START = datetime(2025, 10, 10, 13, 55, 36, tzinfo=UTC)
CHUNK_LINES = 100_000
DEFAULT_CLIENTS = 5_000
DEFAULT_URIS = 3_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

METHODS = {"GET": 880, "POST": 80, "HEAD": 25, "PUT": 10, "DELETE": 5}
STATUSES = {
    "200": 780, "301": 25, "302": 30, "304": 60, "400": 10, "401": 12,
    "403": 8, "404": 55, "500": 8, "502": 6, "503": 6,
}  # fmt: skip
USERS = {"-": 970, "alice": 10, "bob": 8, "carol": 6, "deploy": 4, "monitor": 2}
PROTOCOLS = {"HTTP/1.1": 85, "HTTP/2.0": 13, "HTTP/1.0": 2}
USER_AGENTS = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36": 300,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15": 120,
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0": 60,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0": 70,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1": 150,
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Mobile Safari/537.36": 110,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0": 50,
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": 40,
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)": 20,
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)": 10,
    "curl/8.5.0": 25,
    "python-requests/2.32.3": 20,
    "Go-http-client/1.1": 10,
    "Prometheus/2.54.1": 10,
    "-": 5,
}
REFERER_WEIGHTS = {"-": 420, "internal": 380, "search": 150, "social": 50}
SEARCH_REFERERS = ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/")
SOCIAL_REFERERS = ("https://t.co/", "https://www.facebook.com/", "https://news.ycombinator.com/")
WORDS = (
    "alpha", "beta", "cloud", "delta", "edge", "forest", "garden", "harbor", "island", "jungle", "kernel",
    "lemon", "market", "nebula", "ocean", "pixel", "quartz", "river", "summit", "tiger", "umbrella", "valley",
    "winter", "xenon", "yellow", "zephyr", "coffee", "python", "nginx", "metrics",
)  # fmt: skip
CATEGORIES = ("books", "music", "garden", "tools", "toys", "sports", "kitchen", "office")
STATIC_EXT = ("js", "css", "png", "jpg", "svg", "woff2", "webp")
STATIC_DIRS = (
    ("js", ("js",)),
    ("css", ("css",)),
    ("img", ("png", "jpg", "svg", "webp")),
    ("fonts", ("woff2",)),
)


def weighted_table(weights: dict[str, int] | list[tuple[str, float]], bits: int) -> list[str]:
    """A table of 2**bits values, each repeated in proportion to its weight (at least once)."""
    items = list(weights.items()) if isinstance(weights, dict) else list(weights)
    size = 1 << bits
    if len(items) > size:
        raise ValueError(f"{len(items)} values do not fit a {bits}-bit table")
    total = sum(w for _, w in items)
    # Every value gets one slot; the rest are shared out by largest remainder.
    spare = size - len(items)
    exact = [w / total * spare for _, w in items]
    counts = [1 + int(x) for x in exact]
    leftover = size - sum(counts)
    by_remainder = sorted(range(len(items)), key=lambda k: exact[k] - int(exact[k]), reverse=True)
    for k in by_remainder[:leftover]:
        counts[k] += 1
    table: list[str] = []
    for (value, _), count in zip(items, counts):
        table.extend([value] * count)
    return table


def zipf_weights(values: list[str], exponent: float = 1.05) -> list[tuple[str, float]]:
    return [(v, 1.0 / (rank**exponent)) for rank, v in enumerate(values, start=1)]


def make_ipv4(number: int) -> str:
    """A public-looking IPv4 address; a bijection of number for number < 2**30 (so values stay distinct)."""
    scrambled = (number * 2_654_435_761) & 0x3FFF_FFFF  # odd multiplier: a permutation of 30-bit values
    address = 0x1000_0000 + scrambled  # 16.0.0.0 .. 79.255.255.255
    return f"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}"


def client_pool(rng: random.Random, size: int) -> list[str]:
    return [make_ipv4(n) for n in rng.sample(range(1 << 30), size)]


def uri_pool(rng: random.Random, size: int) -> list[str]:
    """Realistic URIs; several may share a path and differ in the query string."""
    uris = ["/", "/favicon.ico", "/robots.txt", "/login", "/logout", "/api/v1/health", "/wp-login.php",
            "/.env", "/sitemap.xml", "/feed.xml"]  # fmt: skip
    seen = set(uris)
    while len(uris) < size:
        kind = rng.random()
        word, other = rng.choice(WORDS), rng.choice(WORDS)
        if kind < 0.25:
            folder, extensions = rng.choice(STATIC_DIRS)
            uri = f"/static/{folder}/{word}.{rng.getrandbits(32):08x}.{rng.choice(extensions)}"
        elif kind < 0.45:
            resource = rng.choice(("users", "orders", "items", "carts", "sessions"))
            uri = f"/api/v1/{resource}/{rng.randrange(1, 100_000)}"
            if rng.random() < 0.3:
                uri += rng.choice(("/items", "/history", "/settings"))
            if rng.random() < 0.2:
                uri += f"?fields={word},{other}&expand={rng.choice(('true', 'false'))}"
        elif kind < 0.60:
            uri = f"/products/{rng.choice(CATEGORIES)}/{rng.randrange(1, 20_000)}"
            if rng.random() < 0.4:
                uri += f"?ref={rng.choice(('home', 'search', 'email', 'ad'))}&utm_source={word}"
        elif kind < 0.72:
            uri = f"/search?q={word}+{other}&page={rng.randrange(1, 20)}"
        elif kind < 0.85:
            uri = f"/blog/{rng.randrange(2015, 2026)}/{rng.randrange(1, 13):02d}/{word}-{other}-{rng.randrange(1000)}"
        elif kind < 0.93:
            uri = f"/category/{rng.choice(CATEGORIES)}?sort={rng.choice(('price', 'new', 'popular'))}"
            uri += f"&page={rng.randrange(1, 50)}"
        else:
            uri = f"/docs/{word}/{other}.html"
            if rng.random() < 0.3:
                uri += f"?lang={rng.choice(('en', 'de', 'fr', 'ja'))}"
        if uri not in seen:
            seen.add(uri)
            uris.append(uri)
    return uris


def distinct_uri(number: int) -> str:
    """URI number `number`: its path is unique per number and its query string depends only on it."""
    kind = number % 4
    if kind == 0:
        return f"/api/v1/items/{number}"
    if kind == 1:
        return f"/products/{CATEGORIES[number % len(CATEGORIES)]}/{number}?ref=search"
    if kind == 2:
        return f"/blog/2025/{number % 12 + 1:02d}/post-{number}"
    return f"/static/img/{number:x}.{STATIC_EXT[number % len(STATIC_EXT)]}?v={number % 97}"


def coprime_stride(n: int, rng: random.Random) -> int:
    if n <= 2:
        return 1
    while True:
        stride = rng.randrange(n // 3, n)
        if math.gcd(stride, n) == 1:
            return stride


def timing_pool(rng: random.Random, size: int) -> list[str]:
    """` $request_time $upstream_response_time`; '-' upstream for responses nginx served itself."""
    pool = []
    for _ in range(size):
        request_time = min(rng.lognormvariate(-3.0, 1.1), 30.0)
        if rng.random() < 0.03:
            pool.append(f" {request_time:.3f} -")
        else:
            upstream = request_time * rng.uniform(0.85, 1.0)
            pool.append(f" {request_time:.3f} {upstream:.3f}")
    return pool


def size_pool(rng: random.Random, size: int) -> list[str]:
    return [str(int(min(rng.lognormvariate(8.5, 1.4), 20_000_000))) for _ in range(size)]


def referer_pool(rng: random.Random, uris: list[str]) -> list[str]:
    table = weighted_table(REFERER_WEIGHTS, 8)
    pool = []
    for kind in table:
        if kind == "-":
            pool.append("-")
        elif kind == "internal":
            pool.append("https://shop.example.com" + rng.choice(uris[:200]))
        elif kind == "search":
            pool.append(rng.choice(SEARCH_REFERERS))
        else:
            pool.append(rng.choice(SOCIAL_REFERERS))
    return pool


def clf_time(moment: datetime) -> str:
    return f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


class Generator:
    """Writes lines in chunks; keeps the state (line number, clock) that crosses chunk borders."""

    def __init__(
        self, seed: int, distinct_paths: int | None, distinct_clients: int | None, timed: bool
    ) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.timed = timed
        self.line_no = 0
        self.clock_s = 0
        self.start = START  # the first line's time; main() may move it (--start)
        self.per_second = 100  # lines per second of log time, about (--per-second)
        self.time_strings: dict[int, str] = {}
        self.clients = client_pool(rng, DEFAULT_CLIENTS)
        self.uris = uri_pool(rng, DEFAULT_URIS)
        self.client_table = weighted_table(zipf_weights(self.clients, 0.95), 16)
        self.uri_table = weighted_table(zipf_weights(self.uris, 0.9), 16)
        self.method_table = weighted_table(METHODS, 10)
        self.status_table = weighted_table(STATUSES, 10)
        self.user_table = weighted_table(USERS, 10)
        self.proto_table = weighted_table(PROTOCOLS, 8)
        self.agent_table = weighted_table(USER_AGENTS, 8)
        self.size_table = size_pool(rng, 1 << 12)
        self.referer_table = referer_pool(rng, self.uris)
        self.timing_table = timing_pool(rng, 1 << 12) if timed else [""] * (1 << 12)
        self.distinct_paths = distinct_paths
        self.distinct_clients = distinct_clients
        self.path_rule = (
            (coprime_stride(distinct_paths, rng), rng.randrange(distinct_paths)) if distinct_paths else None
        )
        self.client_rule = (
            (coprime_stride(distinct_clients, rng), rng.randrange(distinct_clients))
            if distinct_clients
            else None
        )
        self.used_clients: set[str] = set()
        self.used_uris: set[str] = set()

    def _times(self, words: array) -> list[str]:
        # About one clock tick per `per_second` lines, drawn from the spare high bits of the second word.
        per_second = self.per_second
        ticks = accumulate((1 if (w >> 48) % per_second == 0 else 0 for w in words), initial=self.clock_s)
        offsets = list(ticks)
        self.clock_s = offsets[-1]
        strings = self.time_strings
        out = []
        for offset in offsets[1:]:
            text = strings.get(offset)
            if text is None:
                if len(strings) > 4096:
                    strings.clear()
                text = strings[offset] = clf_time(self.start + timedelta(seconds=offset))
            out.append(text)
        return out

    def _column(
        self, rule: tuple[int, int] | None, count: int | None, make, table: list[str], words, shift: int
    ):
        """Pool mode: a Zipf-table draw from a 16-bit slice; distinct mode: value number (i*stride+offset) % count."""
        if rule is None:
            return [table[(w >> shift) & 0xFFFF] for w in words]
        stride, offset = rule
        return [make((i * stride + offset) % count) for i in range(self.line_no, self.line_no + len(words))]

    def chunk(self, n: int) -> str:
        words = array("Q", self.rng.randbytes(16 * n))
        firsts = words[0::2]
        seconds = words[1::2]
        times = self._times(seconds)
        clients = self._column(
            self.client_rule, self.distinct_clients, make_ipv4, self.client_table, firsts, 0
        )
        uris = self._column(self.path_rule, self.distinct_paths, distinct_uri, self.uri_table, firsts, 16)
        self.line_no += n
        if self.client_rule is None:
            self.used_clients.update(clients)
        if self.path_rule is None:
            self.used_uris.update(uris)
        mt, st, ut, pt = self.method_table, self.status_table, self.user_table, self.proto_table
        at, zt, rt, tt = self.agent_table, self.size_table, self.referer_table, self.timing_table
        lines = []
        append = lines.append
        for client, uri, when, a, b in zip(clients, uris, times, firsts, seconds):
            status = st[(a >> 32) & 0x3FF]
            method = mt[(a >> 42) & 0x3FF]
            size = "0" if status == "304" or method == "HEAD" else zt[(b & 0xFFF)]
            append(
                f'{client} - {ut[(a >> 52) & 0x3FF]} [{when}] "{method} {uri} {pt[(b >> 40) & 0xFF]}" {status} '
                f'{size} "{rt[(b >> 12) & 0xFF]}" "{at[(b >> 20) & 0xFF]}"{tt[(b >> 28) & 0xFFF]}\n'
            )
        return "".join(lines)

    def summary(self, lines: int) -> dict[str, int]:
        if self.path_rule is None:
            distinct_uris = len(self.used_uris)
            distinct_paths = len({u.split("?", 1)[0] for u in self.used_uris})
        else:
            distinct_uris = distinct_paths = min(self.distinct_paths, lines)
        if self.client_rule is None:
            distinct_clients = len(self.used_clients)
        else:
            distinct_clients = min(self.distinct_clients, lines)
        return {
            "distinct_clients": distinct_clients,
            "distinct_paths": distinct_paths,
            "distinct_uris": distinct_uris,
        }


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output file")
    parser.add_argument("--lines", type=positive_int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--distinct-paths", type=positive_int, help="exactly min(N, lines) distinct paths/URIs"
    )
    parser.add_argument(
        "--distinct-clients", type=positive_int, help="exactly min(N, lines) distinct clients"
    )
    parser.add_argument("--timed", action="store_true", help="append $request_time $upstream_response_time")
    parser.add_argument("--start", type=float, help="epoch seconds of the first line (default 2025-10-10 13:55:36)")
    parser.add_argument("--per-second", type=positive_int, default=100, help="lines per second of log time (about)")
    args = parser.parse_args(argv)
    if args.distinct_clients and args.distinct_clients > 1 << 30:
        parser.error("--distinct-clients must be <= 2**30")

    started = time.perf_counter()
    gen = Generator(args.seed, args.distinct_paths, args.distinct_clients, args.timed)
    gen.per_second = args.per_second
    if args.start is not None:
        gen.start = datetime.fromtimestamp(args.start, UTC)
    written = 0
    with open(args.out, "wb", buffering=0) as out:
        remaining = args.lines
        while remaining:
            n = min(CHUNK_LINES, remaining)
            written += out.write(gen.chunk(n).encode("ascii"))
            remaining -= n
    summary = {"out": args.out, "lines": args.lines, "bytes": written, "seed": args.seed, "timed": args.timed}
    summary |= gen.summary(args.lines)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
