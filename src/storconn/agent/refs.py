"""The durable reference registry: acquire, release, and who references what.

Contract (seeds 000 and 003, DESIGN.md section 3):

- ``acquire({id: info})`` judges each id on its own and answers ``{id: code}``.
  0: stored (durably, before the answer) or already held with an equal info;
  478: the id is held with a different info; 490: another reference to the
  same target holds different params; 1000: a bad id or info. A failing
  entry never fails the others.
- ``release(ids, prefixes)``: 0 for each released id, 479 for an unknown
  one; a prefix (non-empty, ending in ':') releases every id starting with
  it and answers for each. Nothing else changes.
- The reconciler is told which targets changed after the commit, outside
  the lock; it never sees a reference that is not on disk.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel

from storconn.connection import (
    ConnectionInfo,
    ErrorCode,
    InvalidParameter,
    StorconnError,
    parse_info,
)

from .store import Store

log = logging.getLogger(__name__)

_OK = int(ErrorCode.OK)
_IN_USE = int(ErrorCode.REF_ID_IN_USE)
_UNKNOWN = int(ErrorCode.REF_ID_UNKNOWN)
_CONFLICT = int(ErrorCode.CONFLICT)
_INVALID = int(ErrorCode.INVALID_PARAMETER)

MAX_ID_LENGTH = 255
_FREEZE_AFTER = 256  # new references in one batch
UNMANAGED_PREFIX = "unmanaged:"


@dataclass(frozen=True, slots=True)
class Reference:
    id: str
    target: str
    wire: dict[str, Any]  # connectionInfo without secrets; shared, never mutated
    stored: str  # the canonical JSON kept in the store, secrets included


@dataclass(slots=True)
class _Target:
    info: ConnectionInfo
    ref_ids: set[str]


def check_ref_id(ref_id: object) -> str:
    """Return ``ref_id`` if it is a valid reference id, else raise InvalidParameter."""
    if not isinstance(ref_id, str) or not ref_id:
        raise InvalidParameter("id", "must be a non-empty string")
    if len(ref_id) > MAX_ID_LENGTH:
        raise InvalidParameter("id", f"is {len(ref_id)} characters long; at most {MAX_ID_LENGTH}")
    if "/" in ref_id:
        raise InvalidParameter("id", "may not contain '/'")
    if ref_id.startswith(UNMANAGED_PREFIX):
        raise InvalidParameter("id", f"ids starting with {UNMANAGED_PREFIX!r} are reserved")
    return ref_id


def _stored_and_wire(info: ConnectionInfo) -> tuple[str, dict[str, Any]]:
    """The canonical stored JSON (secrets included) and the wire form without secrets.

    Canonical because ``to_wire`` fills in defaults and orders keys as the
    model declares them, so equal infos give equal JSON.
    """
    return info.stored_json(), info.to_wire()


class Registry:
    """References and the targets they point at. Thread-safe: public methods take the lock."""

    def __init__(self, store: Store, *, on_change: Callable[[set[str]], None] | None = None) -> None:
        self._store = store
        self._on_change = on_change or (lambda keys: None)
        self._lock = threading.RLock()
        self._refs: dict[str, Reference] = {}
        self._targets: dict[str, _Target] = {}

    def set_listener(self, on_change: Callable[[set[str]], None]) -> None:
        self._on_change = on_change

    def load(self) -> int:
        """Read every stored reference; return how many. Infos are parsed once per distinct JSON."""
        parsed: dict[str, tuple[ConnectionInfo, str, dict[str, Any]]] = {}
        with self._lock:
            for row in self._store.load_refs():
                cached = parsed.get(row.info_json)
                if cached is None:
                    info = parse_info(json.loads(row.info_json))
                    # Recomputed, not trusted: an older agent may have
                    # written the same info in another key order.
                    cached = parsed[row.info_json] = (info, *_stored_and_wire(info))
                info, stored, wire = cached
                self._add_locked(Reference(row.id, row.target, wire, stored), info)
            # Thousands of long-lived references would otherwise be walked by
            # every full collection, which then lands inside some acquire.
            gc.freeze()
            return len(self._refs)

    def acquire(self, entries: Mapping[str, object]) -> dict[str, int]:
        results: dict[str, int] = {}
        # Validation is pure: done before taking the lock, so a big batch
        # does not hold up statuses and other clients while it parses.
        candidates: list[tuple[str, ConnectionInfo, str, dict[str, Any]]] = []
        for ref_id, raw in entries.items():
            try:
                check_ref_id(ref_id)
                info = cast(ConnectionInfo, raw) if isinstance(raw, BaseModel) else parse_info(raw)
            except InvalidParameter as exc:
                log.warning("acquire %r refused: %s", ref_id, exc)
                results[ref_id] = _INVALID
                continue
            candidates.append((ref_id, info, *_stored_and_wire(info)))
        new: list[tuple[Reference, ConnectionInfo]] = []
        with self._lock:
            batch_targets: dict[str, ConnectionInfo] = {}
            for ref_id, info, stored, wire in candidates:
                held = self._refs.get(ref_id)
                if held is not None:
                    results[ref_id] = _OK if held.stored == stored else _IN_USE
                    continue
                key = info.identity_key
                target = self._targets.get(key)
                current = target.info if target is not None else batch_targets.get(key)
                if current is not None:
                    differing = current.conflict_with(info)
                    if differing is not None:
                        log.warning("acquire %r refused: %s differs from the held target", ref_id, differing)
                        results[ref_id] = _CONFLICT
                        continue
                else:
                    batch_targets[key] = info
                new.append((Reference(ref_id, key, wire, stored), info))
            try:
                self._store.add_refs((ref.id, ref.target, ref.stored) for ref, _ in new)
            except StorconnError as exc:
                log.error("acquire of %d references not stored: %s", len(new), exc)
                results.update({ref.id: int(exc.code) for ref, _ in new})
                return results
            for ref, info in new:
                self._add_locked(ref, info)
                results[ref.id] = _OK
        if len(new) >= _FREEZE_AFTER:
            # References live long and hold no cycles: take them out of the
            # collector's reach, or a full collection walking all of them
            # (100+ ms at 10,000) lands inside some later acquire.
            gc.freeze()
        if new:
            self._on_change({ref.target for ref, _ in new})
        return results

    def release(self, ref_ids: Sequence[str] = (), prefixes: Sequence[str] = ()) -> dict[str, int]:
        results: dict[str, int] = {}
        with self._lock:
            doomed: list[str] = []
            for ref_id in ref_ids:
                if isinstance(ref_id, str) and ref_id in self._refs:
                    doomed.append(ref_id)
                else:
                    results[str(ref_id)] = _UNKNOWN
            for prefix in prefixes:
                if not isinstance(prefix, str) or not prefix.endswith(":") or prefix == ":":
                    results[str(prefix)] = _INVALID
                    continue
                doomed.extend(ref_id for ref_id in self._refs if ref_id.startswith(prefix))
            doomed = list(dict.fromkeys(doomed))
            try:
                self._store.remove_refs(doomed)
            except StorconnError as exc:
                log.error("release of %d references not stored: %s", len(doomed), exc)
                results.update({ref_id: int(exc.code) for ref_id in doomed})
                return results
            changed = {self._remove_locked(ref_id) for ref_id in doomed}
            results.update(dict.fromkeys(doomed, _OK))
        if changed:
            self._on_change(changed)
        return results

    def references(self, ref_ids: Iterable[str] | None = None) -> list[Reference]:
        """Snapshot of the references (all, or those of ``ref_ids`` that exist)."""
        with self._lock:
            if ref_ids is None:
                return list(self._refs.values())
            return [self._refs[i] for i in ref_ids if isinstance(i, str) and i in self._refs]

    def desired(self) -> dict[str, ConnectionInfo]:
        """Every target with at least one reference, by identity key."""
        with self._lock:
            return {key: target.info for key, target in self._targets.items()}

    def run_if_unreferenced(self, key: str, action: Callable[[], None]) -> bool:
        """Run ``action`` under the lock if nothing references ``key``; return whether it ran.

        The reconciler marks a target as going away this way, so that no acquire
        can slip in between its check and its mark.
        """
        with self._lock:
            if key in self._targets:
                return False
            action()
            return True

    def _add_locked(self, ref: Reference, info: ConnectionInfo) -> None:
        self._refs[ref.id] = ref
        target = self._targets.get(ref.target)
        if target is None:
            self._targets[ref.target] = _Target(info, {ref.id})
        else:
            target.ref_ids.add(ref.id)

    def _remove_locked(self, ref_id: str) -> str:
        ref = self._refs.pop(ref_id)
        target = self._targets[ref.target]
        target.ref_ids.discard(ref_id)
        if not target.ref_ids:
            del self._targets[ref.target]
        return ref.target
