"""normalize_path: the one spelling of a path used in identities."""

from __future__ import annotations

import pytest
from .connection_strategies import absolute_paths, messy
from hypothesis import given
from hypothesis import strategies as st

from storconn.connection import normalize_path


def test_collapses_double_slashes() -> None:
    assert normalize_path("/a//b///c") == "/a/b/c"


def test_drops_dot_components() -> None:
    assert normalize_path("/a/./b/.") == "/a/b"


def test_strips_a_trailing_slash() -> None:
    assert normalize_path("/export/data/") == "/export/data"


def test_root_stays_root() -> None:
    assert normalize_path("/") == "/"
    assert normalize_path("//./") == "/"


def test_relative_path_stays_relative() -> None:
    assert normalize_path("./a//b/") == "a/b"


def test_current_directory_stays_a_dot() -> None:
    assert normalize_path("./") == "."


@pytest.mark.parametrize("path", ["/a/../b", "..", "/a/..", "a/../../etc"])
def test_refuses_dot_dot(path: str) -> None:
    with pytest.raises(ValueError, match=r"\.\."):
        normalize_path(path)


def test_keeps_names_that_merely_contain_dots() -> None:
    assert normalize_path("/a/..b/c../.d") == "/a/..b/c../.d"


def test_refuses_an_empty_path() -> None:
    with pytest.raises(ValueError):
        normalize_path("")


@given(absolute_paths().flatmap(lambda p: st.tuples(st.just(p), messy(p))))
def test_every_spelling_normalizes_to_the_same_path(paths: tuple[str, str]) -> None:
    clean, spelled = paths
    assert normalize_path(spelled) == normalize_path(clean)


@given(absolute_paths())
def test_normalizing_is_idempotent(path: str) -> None:
    once = normalize_path(path)
    assert normalize_path(once) == once
    assert "//" not in once and "/./" not in once
