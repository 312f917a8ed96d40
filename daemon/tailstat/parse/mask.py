"""Message shapes: the worker half of pattern mining (pure, C-level work over a whole batch).

A message's *shape* is its text with the obvious variables masked as `<*>` and runs of whitespace collapsed:
numbers, hex, IPs (with ports), UUIDs and MACs, absolute paths and URLs, quoted values, `key=value` values. It is
computed for a whole batch with one `re.sub` over the joined messages (no Python code per line), so the many
messages that differ only in their variables collapse into few distinct shapes before they cross to the store.
The store's PatternRegistry (tailstat.patterns) then groups similar shapes into templates: a shape seen before
costs one dict lookup there.
"""

from __future__ import annotations

import re

WILDCARD = "<*>"
MAX_MESSAGE_CHARS = 400  # a shape keeps this much of a message: a huge message must not make a huge key

# One pass per kind of variable, in this order (a masked value is not looked at again): sre scans a simple
# pattern at C speed, where one alternation of them all is tried at every position and costs three times as
# much. Each pattern starts with a character class when it can (sre then skips to candidate positions without
# trying the pattern) and checks the character before the match with a lookbehind, so it starts only where a
# token (or a token's digits) starts. A pass whose marker is absent from the batch is not run at all.
_PASSES: tuple[tuple[str | None, re.Pattern, str], ...] = tuple((marker, re.compile(p), by) for marker, p, by in (
    ('"', r"\"[^\"\n]*\"", WILDCARD),  # quoted values
    ("'", r"'[^'\n]*'", WILDCARD),
    ("/", r"/(?<![\w/.]/)(?:[^\s/,;:()\[\]{}\"']+/?)+", WILDCARD),  # absolute paths: /var/log/x.log
    ("=", r"=[^\s,;()\[\]{}<]+", "=" + WILDCARD),  # key=value
    (":", r":(?<!::)(?=[^\s,;()\[\]{}<:])[^\s,;()\[\]{}<]+", ":" + WILDCARD),  # key:value, not a C++ a::b
    (None, (r"[-\d](?<![A-Za-z0-9][-\d])(?:"  # numbers, starting at a digit (or a minus) that starts a token
            r"[0-9a-fA-F]{7}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # UUIDs
            r"|[0-9a-fA-F](?:[:-][0-9a-fA-F]{2}){5}"  # MACs
            r"|\d{0,2}(?:\.\d{1,3}){3}(?::\d+)?"  # IPv4 with an optional port
            r"|[xX][0-9a-fA-F]+"  # 0x1f
            r"|[0-9a-fA-F]*(?:[.:,_-][0-9a-fA-F]*\d[0-9a-fA-F]*)*)"), WILDCARD),  # 42, -7, 3.5, 1.2.3, 9f4ef63
    (None, r"[a-fA-F](?<![\w.-][a-fA-F])[0-9a-fA-F]*\d[0-9a-fA-F]*(?![\w.-])", WILDCARD),  # hex ids: a64f992
))
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{1,15}\Z")
# a token made only of wildcards and punctuation around them is one wildcard: `<*>:<*>`, `(<*>)` stay apart
# from words, but `<*>.<*>`, `-<*>`, `<*>ms` would otherwise split one variable into many shapes
_JOINED = re.compile(r"[-+#.:_=<](?<!\S[-+#.:_=<])(?:(?<=<)|[-+#.:_]*<)\*>(?:[-+.:_/]*<\*>)*"
                     r"(?:[.,;:]?(?!\S)|[a-zA-Z%]{1,3}(?![^\s,;.:)\]]))")
_SPACE_RUNS = re.compile("  +")  # a literal prefix: sre jumps from one double space to the next
_BLANKS = str.maketrans("\t\r\f\v", "    ")


def _mask_urls(text: str) -> str:
    """URLs (`scheme://...` up to the next blank) as one wildcard: found from their `://`, which is rare, so
    no pattern is tried at every word."""
    out, pos = [], 0
    i = text.find("://")
    while i >= 0:
        start = i
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "+.-"):
            start -= 1
        end = i + 3
        while end < len(text) and not text[end].isspace():
            end += 1
        if _SCHEME.match(text, start, i) and (start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_.+-")) \
                and end > i + 3:
            out.append(text[pos:start])
            out.append(WILDCARD)
            pos = end
        i = text.find("://", max(end, i + 3))
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


# Shapes of messages seen in earlier batches: a message that repeats exactly (`Connection closed`, a health
# check) is masked once, not once per batch. A memo of a pure function (a message's shape depends on nothing
# else), like functools.lru_cache: its content changes no result, only what is computed again. It is bounded
# (emptied when full) and only ever read or replaced by whole entries, which threads may do at once.
MEMO_SIZE = 8192
_memo: dict[str, str] = {}


def mask_messages(messages: list[str] | tuple[str, ...]) -> list[str]:
    """The shape of each message, in order (a few C-level passes over the batch). Messages that repeat
    exactly, in the batch or since earlier ones (the memo), are masked once."""
    memo = _memo
    shapes = list(map(memo.get, messages))
    if all(shapes) or None not in shapes:  # a log whose messages all came before: one lookup each
        return shapes
    new = list(dict.fromkeys(m for m, shape in zip(messages, shapes) if shape is None))
    found = dict(zip(new, _mask(new)))
    if len(memo) + len(new) > MEMO_SIZE:
        memo.clear()
    memo.update((m, shape) for m, shape in found.items() if len(m) <= MAX_MESSAGE_CHARS)
    get = found.get
    return [shape if shape is not None else get(m) for m, shape in zip(messages, shapes)]


def _mask(messages: list[str] | tuple[str, ...]) -> list[str]:
    text = "\n".join(m if len(m) <= MAX_MESSAGE_CHARS else m[:MAX_MESSAGE_CHARS] for m in messages)
    if "://" in text:
        text = _mask_urls(text)
    for marker, variable, by in _PASSES:
        if marker is None or marker in text:
            text = variable.sub(by, text)
    text = _JOINED.sub(WILDCARD, text)
    if "\t" in text or "\r" in text or "\f" in text or "\v" in text:
        text = text.translate(_BLANKS)
    if "  " in text:
        text = _SPACE_RUNS.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = text.replace(" \n", "\n").replace("\n ", "\n")
    if text[:1] == " " or text[-1:] == " ":
        text = text.strip(" ")
    return text.split("\n")
