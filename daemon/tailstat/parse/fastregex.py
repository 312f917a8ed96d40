"""Regex sources rewritten for CPython's sre, which runs some equivalent spellings much faster than others.

An optional group, `(?:X)?`, compiles to sre's general REPEAT/MAX_UNTIL loop: it saves and restores the match
state on every attempt, and costs several times what the group's own matching does. The branch `(?:X|)`
means the same (X is tried first, then nothing; backtracking goes into the same alternatives in the same
order), and a BRANCH is cheap: sre skips an alternative whose first character is a literal that is not there
without entering it. The header regexes of the `text` format have a dozen optional groups per line (the
timestamp's seconds, fraction and zone, a syslog priority, the level and logger pieces), so this halves
the cost of their timestamp part.
"""

from __future__ import annotations


def branch_optionals(src: str) -> str:
    """`src` with every greedy optional non-capturing group `(?:X)?` written as the branch `(?:X|)`.

    Capturing groups, lookarounds and lazy (`??`) or possessive (`?+`) optionals are left as they are."""
    opens: list[int] = []
    rewrite: set[int] = set()  # indices of the `)` of groups to rewrite
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: `]` right after `[` or `[^` is a member, not its end
            j = i + 1
            if j < n and src[j] == "^":
                j += 1
            if j < n and src[j] == "]":
                j += 1
            while j < n and src[j] != "]":
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            opens.append(i)
        elif c == ")" and opens:
            start = opens.pop()
            optional = src[i + 1:i + 2] == "?" and src[i + 2:i + 3] not in ("?", "+")
            if optional and src.startswith("(?:", start):
                rewrite.add(i)
        i += 1
    if not rewrite:
        return src
    out, last = [], 0
    for close in sorted(rewrite):
        out.append(src[last:close])
        out.append("|)")
        last = close + 2  # past `)?`
    out.append(src[last:])
    return "".join(out)
