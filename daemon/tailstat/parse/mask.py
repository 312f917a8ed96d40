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
_PASSES: tuple[tuple[str | None, re.Pattern], ...] = tuple((marker, re.compile(p)) for marker, p in (
    ('"', r"\"[^\"\n]*\""),  # quoted values
    ("'", r"'[^'\n]*'"),
    ("://", r"(?<![\w.+-])[a-z][a-z0-9+.-]{1,15}://\S+"),  # URLs
    ("/", r"/(?<![\w/.]/)(?:[^\s/,;:()\[\]{}\"']+/?)+"),  # absolute paths: /var/log/x.log
    (None, r"(?<=[=:])(?<!::)[^\s,;()\[\]{}<]+"),  # key=value / key:value values (right after = or :)
    (None, (r"[-\d](?<![A-Za-z0-9][-\d])(?:"  # numbers, starting at a digit (or a minus) that starts a token
     r"[0-9a-fA-F]{7}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # UUIDs
     r"|[0-9a-fA-F](?:[:-][0-9a-fA-F]{2}){5}"  # MACs
     r"|\d{0,2}(?:\.\d{1,3}){3}(?::\d+)?"  # IPv4 with an optional port
     r"|[xX][0-9a-fA-F]+"  # 0x1f
     r"|[0-9a-fA-F]*(?:[.:,_-][0-9a-fA-F]*\d[0-9a-fA-F]*)*)")),  # 42, -7, 3.5, 1.2.3, 12:30:01, 9f4ef63
    (None, r"[a-fA-F](?<![\w.-][a-fA-F])[0-9a-fA-F]*\d[0-9a-fA-F]*(?![\w.-])"),  # hex ids that start with a letter
))
# a token made only of wildcards and punctuation around them is one wildcard: `<*>:<*>`, `(<*>)` stay apart
# from words, but `<*>.<*>`, `-<*>`, `<*>ms` would otherwise split one variable into many shapes
_JOINED = re.compile(r"[-+#.:_<](?<!\S[-+#.:_<])(?:(?<=<)|[-+#.:_]*<)\*>(?:[-+.:_/]*<\*>)*"
                     r"(?:[.,;:]?(?!\S)|[a-zA-Z%]{1,3}(?![^\s,;.:)\]]))")
_SPACES = re.compile(r"[ \t\r\f\v]{2,}|[\t\r\f\v]")  # runs: a single space (the usual case) is no match
_EDGES = re.compile(r"^ | $", re.MULTILINE)


def mask_messages(messages: list[str] | tuple[str, ...]) -> list[str]:
    """The shape of each message, in order (a few C-level passes over the batch). Messages that repeat
    exactly are masked once."""
    if not messages:
        return []
    distinct = dict.fromkeys(messages)
    if len(distinct) * 4 < len(messages) * 3:
        shapes = dict(zip(distinct, _mask(list(distinct))))
        return list(map(shapes.__getitem__, messages))
    return _mask(messages)


def _mask(messages: list[str] | tuple[str, ...]) -> list[str]:
    text = "\n".join(m if len(m) <= MAX_MESSAGE_CHARS else m[:MAX_MESSAGE_CHARS] for m in messages)
    for marker, variable in _PASSES:
        if marker is None or marker in text:
            text = variable.sub(WILDCARD, text)
    text = _JOINED.sub(WILDCARD, text)
    if "  " in text or "\t" in text or "\r" in text or "\f" in text or "\v" in text:
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\n " in text or text[:1] == " " or text[-1:] == " ":
        text = _EDGES.sub("", text)
    return text.split("\n")


def mask_message(message: str) -> str:
    return mask_messages([message])[0]
