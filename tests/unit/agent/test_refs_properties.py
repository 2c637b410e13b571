"""Property tests of the registry: whatever ids and batches come in, answers, memory and store agree.

Ids are drawn from all of Unicode (lone surrogates and controls included),
with '/', reserved prefixes and lengths around the limit; release entries
may be any JSON value. After every call:

- a valid id with a valid info is stored exactly when it is answered 0;
- a refused entry changes nothing;
- the store and the in-memory registry agree, and a fresh registry loaded
  from the same store sees the same references and targets.

``STORCONN_HYPOTHESIS_EXAMPLES`` raises the number of examples (CI keeps the default).
"""

from __future__ import annotations

import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from storconn.agent.refs import MAX_ID_LENGTH, UNMANAGED_PREFIX, Registry, entry_key
from storconn.agent.store import Store

EXAMPLES = int(os.environ.get("STORCONN_HYPOTHESIS_EXAMPLES", "100"))

INFOS: list[Any] = [
    {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=1m"}},
    {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=2m"}},  # conflicts
    {"type": "localfs", "params": {"path": "/srv/a"}},
    {"type": "localfs", "params": {"path": "/srv/b"}},
    {"type": "nfs", "params": {}},  # invalid
    "not an info",  # invalid
]


def valid_id(ref_id: object) -> bool:
    """The rule, written apart from check_ref_id so that each checks the other."""
    return (
        isinstance(ref_id, str)
        and 0 < len(ref_id) <= MAX_ID_LENGTH
        and "/" not in ref_id
        and not ref_id.startswith(UNMANAGED_PREFIX)
        and all(unicodedata.category(c) not in ("Cs", "Cc") for c in ref_id)
    )


def valid_info(info: Any) -> bool:
    return INFOS.index(info) < 4


pool = st.sampled_from(["a", "b", "flow:a", "flow:b", "flow:c", "x" * MAX_ID_LENGTH])
ids = st.one_of(
    pool,
    pool,
    st.text(max_size=12),  # all of Unicode: surrogates, NUL, controls
    st.text(alphabet=st.sampled_from(["a", "/", ":", "\x00", "\ud800", "\x85", "é"]), max_size=6),
    st.just(UNMANAGED_PREFIX + "1"),
    st.integers(MAX_ID_LENGTH - 1, MAX_ID_LENGTH + 2).map(lambda n: "y" * n),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
entries = st.one_of(ids, ids, json_values)
prefixes = st.one_of(st.sampled_from(["flow:", ":", "", "flow", "a:"]), ids.map(lambda s: s + ":"), json_values)

acquire = st.tuples(st.just("acquire"), st.dictionaries(ids, st.sampled_from(INFOS), max_size=5))
release = st.tuples(st.just("release"), st.tuples(st.lists(entries, max_size=5), st.lists(prefixes, max_size=2)))
calls = st.lists(st.one_of(acquire, release), min_size=1, max_size=8)


def _stored(store: Store) -> dict[str, str]:
    return {row.id: row.info_json for row in store.load_refs()}


def _check_agreement(registry: Registry, store: Store, path: Path) -> None:
    in_memory = {ref.id: ref.stored for ref in registry.references()}
    assert _stored(store) == in_memory
    fresh_store = Store(path)
    try:
        fresh = Registry(fresh_store)
        fresh.load()
        assert {ref.id: ref.stored for ref in fresh.references()} == in_memory
        assert fresh.desired().keys() == registry.desired().keys()
    finally:
        fresh_store.close()


def _check_acquire(batch: dict[str, Any], answer: dict[str, int], before: dict[str, str], after: dict[str, str]) -> None:
    assert answer.keys() == batch.keys()
    for ref_id, info in batch.items():
        code = answer[ref_id]
        if not valid_id(ref_id) or not valid_info(info):
            assert code == 1000
        if code == 0:
            assert ref_id in after
        else:
            assert after.get(ref_id) == before.get(ref_id)  # refused: nothing changed for it
    assert {i: j for i, j in after.items() if i not in batch or answer[i] != 0} == {
        i: j for i, j in before.items() if i not in batch or answer[i] != 0
    }


def _check_release(
    args: tuple[list[Any], list[Any]], answer: dict[str, int], before: dict[str, str], after: dict[str, str]
) -> None:
    ref_ids, prefix_list = args
    released = {key for key, code in answer.items() if code == 0}
    assert released <= before.keys()
    assert after == {i: j for i, j in before.items() if i not in released}
    for entry in ref_ids:
        key = entry_key(entry)
        if isinstance(entry, str) and entry in before:
            assert answer[key] == 0
        else:
            assert answer[key] == (1000 if not valid_id(entry) else 479)
    for prefix in prefix_list:
        if not (valid_id(prefix) and prefix.endswith(":") and prefix != ":"):
            assert answer[entry_key(prefix)] == 1000
        else:
            assert all(answer.get(i) == 0 for i in before if i.startswith(prefix))


def _unambiguous(ref_ids: list[Any], prefix_list: list[Any]) -> bool:
    """Whether no two different entries are answered under one key.

    The number 1 and the string "1", or an id and a prefix spelled alike,
    share their answer's key: the wire cannot tell them apart, so such a call
    is not checked entry by entry.
    """
    kinds: dict[str, set[bool]] = {}
    for entry in ref_ids:
        kinds.setdefault(entry_key(entry), set()).add(isinstance(entry, str))
    prefix_keys = {entry_key(p) for p in prefix_list}
    prefix_kinds: dict[str, set[bool]] = {}
    for prefix in prefix_list:
        prefix_kinds.setdefault(entry_key(prefix), set()).add(isinstance(prefix, str))
    return (
        all(len(k) == 1 for k in kinds.values())
        and all(len(k) == 1 for k in prefix_kinds.values())
        and not prefix_keys & kinds.keys()
    )


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls)
def test_answers_store_and_memory_agree_whatever_comes_in(sequence: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "refs.sqlite"
        store = Store(path)
        registry = Registry(store)
        try:
            for verb, args in sequence:
                before = _stored(store)
                if verb == "acquire":
                    answer = registry.acquire(args)
                    _check_acquire(args, answer, before, _stored(store))
                else:
                    assume(_unambiguous(*args))
                    answer = registry.release(*args)
                    _check_release(args, answer, before, _stored(store))
                _check_agreement(registry, store, path)
        finally:
            store.close()
