"""The token file: created whole and private, refused when empty or malformed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storconn.agent.server import ensure_token
from storconn.connection import InvalidParameter


def test_first_start_creates_a_private_token_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "state" / "token"
    token = ensure_token(path)
    assert path.read_text() == token + "\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(path.parent) == ["token"]  # no temporary file left behind


def test_later_starts_read_the_same_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    assert ensure_token(path) == ensure_token(path)


@pytest.mark.parametrize("content, state", [("", "empty"), ("\n", "empty"), ("short", "malformed"),
                                             ("x" * 40 + " y", "malformed")])
def test_an_empty_or_malformed_token_file_is_refused(tmp_path: Path, content: str, state: str) -> None:
    path = tmp_path / "token"
    path.write_text(content)
    with pytest.raises(InvalidParameter, match=f"is {state}: remove it"):
        ensure_token(path)
    assert path.read_text() == content  # left for the administrator to look at


def test_a_token_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_bytes(b"\xff" * 40)
    with pytest.raises(InvalidParameter, match="cannot read the token file"):
        ensure_token(path)
