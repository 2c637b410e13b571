"""redact_text: keeping secrets out of text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from storconn.connection import SECRET_MASK, redact_text


def test_mask_is_eight_stars() -> None:
    assert SECRET_MASK == "********"


def test_replaces_every_occurrence() -> None:
    assert redact_text("pw=s3cret; again s3cret", ["s3cret"]) == "pw=********; again ********"


def test_replaces_the_percent_encoded_form() -> None:
    assert redact_text("iscsi://u:p%40ss@host/iqn", ["p@ss"]) == "iscsi://u:********@host/iqn"


def test_replaces_lower_case_percent_encoding() -> None:
    assert redact_text("u:p%2fss@h", ["p/ss"]) == "u:********@h"


def test_ignores_empty_secrets() -> None:
    assert redact_text("nothing to hide", ["", ""]) == "nothing to hide"


def test_masks_a_longer_secret_whole() -> None:
    assert redact_text("abcdef", ["abc", "abcdef"]) == SECRET_MASK


def test_accepts_any_iterable() -> None:
    assert redact_text("a-x-b", iter(["x"])) == "a-********-b"


_secrets = st.text(min_size=1).filter(lambda s: "*" not in s)


@given(st.text(), _secrets, st.text())
def test_a_secret_never_survives(before: str, secret: str, after: str) -> None:
    assert secret not in redact_text(before + secret + after, [secret])
