"""The regex rewrites of the text format's fast path (parse.fastregex, the message shape memo of parse.mask,
the split of a batch into columns): each gives exactly what the plain form gives."""

from __future__ import annotations

import re

import pytest

from tailstat.parse import mask
from tailstat.parse.fastregex import branch_optionals
from tailstat.parse.mask import mask_messages
from tailstat.parse.text import _GROUPS_OF, layout_pattern, learn_layout, line_columns


@pytest.mark.parametrize(("src", "want"), [
    (r"(?:<\d{1,3}>)?x", r"(?:<\d{1,3}>|)x"),
    (r"(?::\d\d(?:[.,]\d{1,9})?)?", r"(?::\d\d(?:[.,]\d{1,9}|)|)"),  # nested
    (r"(?:a|b)?c", r"(?:a|b|)c"),
    (r"(?P<a>x)?", r"(?P<a>x)?"),  # capturing: kept
    (r"(?:a)??(?:b)?+", r"(?:a)??(?:b)?+"),  # lazy, possessive: kept
    (r"(?:a)*(?:b){2}", r"(?:a)*(?:b){2}"),
    (r"[(?:]x(?:y)?", r"[(?:]x(?:y|)"),  # parentheses in a class are no group
    (r"[])]?(?:\))?", r"[])]?(?:\)|)"),  # `]` first in a class is a member
    (r"\((?:a)?", r"\((?:a|)"),  # an escaped parenthesis is no group
])
def test_optional_groups_become_branches(src: str, want: str) -> None:
    assert branch_optionals(src) == want
    re.compile(want)


HEADERS = (
    "2026-12-01 10:00:0{i},123 {lv} [main] com.example.Foo: {m}",
    "2026-12-01T10:00:0{i}.123456+02:00 - app.db - {lv} - {m}",
    "081109 20361{i} 148 {lv} dfs.DataNode$PacketResponder: {m}",
    "03-17 16:13:3{i}.811  1702  2395 D WindowManager: {m}",
    "[Sun Dec 04 04:47:4{i} 2005] [error] {m}",
    "<13>Dec  4 04:47:4{i} host sshd[123]: {m}",
    "{lv}: {m}",
)
MESSAGES = ("started in 12 ms", "user=bob id=42", "Foo:: bar: baz", "", "   ", "<main:INFO> x", "[x] y:")


@pytest.mark.parametrize("header", HEADERS)
def test_split_columns_are_the_rows_of_the_plain_pattern(header: str) -> None:
    lines = [header.format(i=i % 10, lv=("INFO", "WARN", "Foo", "app:ERROR")[i % 4], m=MESSAGES[i % len(MESSAGES)])
             for i in range(60)] + ["\tat x.y(Z.java:1)", "", "no header", "2026-12-01 10:00:00,1 +0200 INFO [t] a:b: c"]
    text = "\n".join(lines) + "\n" + "a last line without its newline"
    layout = learn_layout(text.encode())
    for fields in (None, frozenset(), frozenset(_GROUPS_OF)):
        fast = layout_pattern(layout, fields)
        plain = re.compile(fast.pattern.replace("|)", ")?").removesuffix(r"\n"), re.MULTILINE)
        rows = plain.findall(text)[:len(lines)]  # one per line start; the unfinished last line is no line
        assert line_columns(fast, text) == [list(col) for col in zip(*rows)]


def test_the_shape_memo_changes_no_shape_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    messages = [f"job {i % 7} done in {i} ms" for i in range(50)] + ["", "plain words", "x" * 500]
    monkeypatch.setattr(mask, "_memo", {})
    cold = mask_messages(messages)
    assert cold == mask._mask(messages)  # the batch pass itself
    assert len(mask._memo) == 52  # each distinct message once, a message past MAX_MESSAGE_CHARS not at all
    assert mask_messages(messages) == cold  # warm: the same shapes, from the memo
    monkeypatch.setattr(mask, "MEMO_SIZE", 40)
    mask._memo.clear()
    assert mask_messages(messages) == cold
    assert len(mask._memo) == 52  # a batch fills it; the next new message empties it first
    assert mask_messages(["one more 1"]) == ["one more <*>"]
    assert mask._memo == {"one more 1": "one more <*>"}
