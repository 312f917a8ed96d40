"""identity.possible_originals is the inverse of named_after: every file a rotated name could come from is offered
(the tailer checks only those streams), for logrotate's names: .N, -DATE, .backup, stem.N.ext, compressed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tailstat.tail.identity import named_after, possible_originals

NAMES = st.text(alphabet="ab.-_1", min_size=1, max_size=10).filter(lambda n: n not in (".", ".."))


@settings(max_examples=2000, deadline=None)
@given(NAMES, NAMES)
def test_every_original_a_name_is_named_after_is_offered(orig: str, candidate: str) -> None:
    if named_after(f"/logs/{candidate}", f"/logs/{orig}"):
        assert f"/logs/{orig}" in possible_originals(f"/logs/{candidate}")


def test_logrotate_names_offer_their_original() -> None:
    for candidate, orig in [("app.log.1", "app.log"), ("app.log-20260101", "app.log"), ("app.log.3.gz", "app.log"),
                            ("app.log.1-backup", "app.log"), ("app.1.log", "app.log"), ("app.log-2026.backup", "app.log"),
                            ("w0.log-2026120120.backup", "w0.log")]:
        assert named_after(f"/l/{candidate}", f"/l/{orig}")
        assert f"/l/{orig}" in possible_originals(f"/l/{candidate}")
    assert sorted(possible_originals("/l/app-00001.log")) == ["/l/app", "/l/app-00001"]
