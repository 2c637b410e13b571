"""The durable reference registry: acquire, release, and who references what.

Contract (seeds 000 and 003, DESIGN.md section 3):

- ``acquire({id: info})`` judges each id on its own and answers ``{id: code}``.
  0: stored (durably, before the answer) or already held with an equal info;
  478: the id is held with a different info; 490: another reference to the
  same target holds different params; 1000: a bad id or info. A failing
  entry never fails the others.
- ``release(ids, prefixes)``: 0 for each released id, 479 for an unknown
  one, 1000 for an entry that is not a valid id (a non-string entry is
  answered under its JSON text); a prefix (a valid id ending in ':')
  releases every id starting with it and answers for each, a bad one is
  1000. Each entry is judged on its own. Nothing else changes.
- A stored reference whose info no longer validates loads *in error*
  (``Reference.error``): listed, never part of ``desired()``, releasable;
  acquiring its id again answers 478 until it is released.
- The reconciler is told which targets changed after the commit, outside
  the lock; it never sees a reference that is not on disk.

Commits happen outside the registry's lock, so that concurrent acquires and
releases share one fsync (the store's group commit) instead of queueing for
one each. While its commit runs, a new reference is *pending*: it counts for
conflicts and keeps its target from being disconnected, but it is not
listed, not desired and not answered for; a released one is *releasing*:
still held and desired until its deletion is on disk. A call naming an id
that another call is committing waits for that commit first, so each id
sees one call at a time.
"""

from __future__ import annotations

import gc
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import BaseModel

from storconn.connection import (
    ConnectionInfo,
    ErrorCode,
    InvalidParameter,
    StorconnError,
    parse_info,
)

from .invalid_refs import load_error, redacted_wire
from .store import Statement, Store, StoreError

log = logging.getLogger(__name__)

_OK = int(ErrorCode.OK)
_IN_USE = int(ErrorCode.REF_ID_IN_USE)
_UNKNOWN = int(ErrorCode.REF_ID_UNKNOWN)
_CONFLICT = int(ErrorCode.CONFLICT)
_INVALID = int(ErrorCode.INVALID_PARAMETER)

MAX_ID_LENGTH = 255
_FREEZE_AFTER = 256  # new references in one batch
UNMANAGED_PREFIX = "unmanaged:"
# C0 and C1 controls (NUL included) and lone surrogates: a surrogate is not a
# Unicode scalar value, so no UTF-8 store, log or JSON reader takes it whole.
_BAD_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Reference:
    id: str
    target: str
    # connectionInfo without secrets; shared, never mutated. None only for a
    # reference in error whose stored info is not even a JSON object.
    wire: dict[str, Any] | None
    stored: str  # the canonical JSON kept in the store, secrets included
    # (code, message) when the stored info no longer validates: such a
    # reference holds its id but no target, and is never connected.
    error: tuple[int, str] | None = None


@dataclass(slots=True)
class _Target:
    info: ConnectionInfo
    ref_ids: set[str]  # committed: these make it desired
    pending: set[str] = field(default_factory=set)  # being committed by an acquire


def check_ref_id(ref_id: object, *, field: str = "id") -> str:
    """Return ``ref_id`` if it is a valid reference id, else raise InvalidParameter naming ``field``."""
    if not isinstance(ref_id, str) or not ref_id:
        raise InvalidParameter(field, "must be a non-empty string")
    if len(ref_id) > MAX_ID_LENGTH:
        raise InvalidParameter(field, f"is {len(ref_id)} characters long; at most {MAX_ID_LENGTH}")
    bad = _BAD_CHARACTER.search(ref_id)
    if bad is not None:
        what = "a lone surrogate" if bad.group() >= "\ud800" else "a control character"
        raise InvalidParameter(
            field, f"has {what} (U+{ord(bad.group()):04X}) at position {bad.start()}; "
            "ids are Unicode text without control characters"
        )
    if "/" in ref_id:
        raise InvalidParameter(field, "may not contain '/'")
    if ref_id.startswith(UNMANAGED_PREFIX):
        raise InvalidParameter(field, f"ids starting with {UNMANAGED_PREFIX!r} are reserved")
    return ref_id


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it may be released by, else raise InvalidParameter."""
    prefix = check_ref_id(prefix, field="prefix")
    if not prefix.endswith(":") or prefix == ":":
        raise InvalidParameter("prefix", "must end with ':' and have something before it")
    return prefix


def entry_key(entry: object) -> str:
    """The key an answer about ``entry`` goes under: itself if a string, else its JSON text.

    Clients may send anything in a list of ids (numbers, null, lists); each
    such entry is answered on its own rather than failing the whole call.
    """
    if isinstance(entry, str):
        return entry
    try:
        return json.dumps(entry, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return repr(entry)


def shown(entry: object) -> str:
    """``entry`` for a log line: its repr, cut short, since a client may send megabytes."""
    text = repr(entry)
    return text if len(text) <= 80 else text[:77] + "..."


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
        self._settled = threading.Condition(self._lock)  # a commit of some id finished
        self._refs: dict[str, Reference] = {}
        self._targets: dict[str, _Target] = {}
        self._pending: dict[str, Reference] = {}
        self._releasing: set[str] = set()

    def set_listener(self, on_change: Callable[[set[str]], None]) -> None:
        self._on_change = on_change

    def load(self) -> int:
        """Read every stored reference; return how many. Infos are parsed once per distinct JSON.

        A row whose info no longer validates (written by an older agent, or
        not JSON at all) loads as a reference in error rather than stopping
        the agent: one bad row must not keep every other target down.
        """
        parsed: dict[str, tuple[ConnectionInfo, str, dict[str, Any]] | tuple[int, str]] = {}
        with self._lock:
            for row in self._store.load_refs():
                cached = parsed.get(row.info_json)
                if cached is None:
                    cached = parsed[row.info_json] = _parse_stored(row.info_json)
                if len(cached) == 2:
                    log.error("reference %r loaded in error: %s", row.id, cached[1])
                    self._refs[row.id] = Reference(
                        row.id, row.target, redacted_wire(row.info_json), row.info_json, error=cached
                    )
                    continue
                info, stored, wire = cached
                self._add_locked(Reference(row.id, row.target, wire, stored), info)
            # Thousands of long-lived references would otherwise be walked by
            # every full collection, which then lands inside some acquire.
            gc.freeze()
            return len(self._refs)

    def acquire(self, entries: Mapping[str, object], *, also: Sequence[Statement] = ()) -> dict[str, int]:
        """Judge each entry on its own (0, 478, 490, 1000); ``also`` commits with the new ones.

        ``also`` is store statements that must be durable together with the
        references (an attachment's record): written in their transaction,
        or alone when every entry was held already. If no entry succeeds
        they are not written.
        """
        results: dict[str, int] = {}
        # Validation is pure: done before taking the lock, so a big batch
        # does not hold up statuses and other clients while it parses.
        candidates: list[tuple[str, ConnectionInfo, str, dict[str, Any]]] = []
        for ref_id, raw in entries.items():
            try:
                check_ref_id(ref_id)
                info = cast(ConnectionInfo, raw) if isinstance(raw, BaseModel) else parse_info(raw)
            except InvalidParameter as exc:
                log.warning("acquire %s refused: %s", shown(ref_id), exc)
                results[ref_id] = _INVALID
                continue
            candidates.append((ref_id, info, *_stored_and_wire(info)))
        new: list[tuple[Reference, ConnectionInfo]] = []
        with self._lock:
            self._wait_settled_locked(ref_id for ref_id, *_ in candidates)
            for ref_id, info, stored, wire in candidates:
                held = self._refs.get(ref_id)
                if held is not None:
                    results[ref_id] = _OK if held.stored == stored else _IN_USE
                    continue
                if ref_id in self._pending:  # twice in one batch cannot happen: dict keys
                    results[ref_id] = _IN_USE
                    continue
                key = info.identity_key
                target = self._targets.get(key)
                if target is not None:
                    differing = target.info.conflict_with(info)
                    if differing is not None:
                        log.warning("acquire %s refused: %s differs from the held target", shown(ref_id), differing)
                        results[ref_id] = _CONFLICT
                        continue
                else:
                    target = self._targets[key] = _Target(info, set())
                ref = Reference(ref_id, key, wire, stored)
                self._pending[ref_id] = ref
                target.pending.add(ref_id)
                new.append((ref, info))
        stored_refs = self._store_new(new, results, also) if new else []
        if also and not new and results and all(code == _OK for code in results.values()):
            self._store.write(also)
        with self._lock:
            kept = {ref.id for ref, _ in stored_refs}
            # Only a target's first reference changes the desired state; a
            # reference more to a held target needs no reconcile tick (each
            # costs about as much as the acquire itself).
            created: set[str] = set()
            for ref, _ in new:
                del self._pending[ref.id]
                target = self._targets[ref.target]
                target.pending.discard(ref.id)
                if ref.id in kept:
                    if not target.ref_ids:
                        created.add(ref.target)
                    self._refs[ref.id] = ref
                    target.ref_ids.add(ref.id)
                    results[ref.id] = _OK
                elif not target.ref_ids and not target.pending:
                    del self._targets[ref.target]
            if new:
                self._settled.notify_all()
        new = stored_refs
        if len(new) >= _FREEZE_AFTER:
            # References live long and hold no cycles: take them out of the
            # collector's reach, or a full collection walking all of them
            # (100+ ms at 10,000) lands inside some later acquire.
            gc.freeze()
        if created:
            self._on_change(created)
        return results

    def _store_new(
        self, new: list[tuple[Reference, ConnectionInfo]], results: dict[str, int], also: Sequence[Statement] = ()
    ) -> list[tuple[Reference, ConnectionInfo]]:
        """Store ``new`` durably; return those stored, with the error code of each other one in ``results``.

        All in one transaction first. If the store refuses it, nothing of it
        was kept, and each reference is tried on its own so that one the
        store cannot take fails alone, not the whole batch.
        """
        try:
            self._store.add_refs(((ref.id, ref.target, ref.stored) for ref, _ in new), also=also)
            return new
        except StorconnError as exc:
            if len(new) == 1 or not (isinstance(exc, StoreError) and exc.row_specific):
                log.error("acquire of %d references not stored: %s", len(new), exc)
                results.update({ref.id: int(exc.code) for ref, _ in new})
                return []
        stored: list[tuple[Reference, ConnectionInfo]] = []
        for ref, info in new:
            try:
                self._store.add_refs([(ref.id, ref.target, ref.stored)])
            except StorconnError as exc:
                log.error("acquire %s not stored: %s", shown(ref.id), exc)
                results[ref.id] = int(exc.code)
            else:
                stored.append((ref, info))
        if stored and also:
            self._store.write(also)
        return stored

    def release(
        self, ref_ids: Sequence[object] = (), prefixes: Sequence[object] = (), *, also: Sequence[Statement] = ()
    ) -> dict[str, int]:
        """Answer each entry on its own: 0 released, 479 unknown, 1000 not a valid id or prefix.

        ``also`` commits in the same transaction as the removal (or alone when
        nothing was held), so forgetting an attachment costs one commit.
        """
        results: dict[str, int] = {}
        with self._lock:
            self._wait_settled_locked(ref_id for ref_id in ref_ids if isinstance(ref_id, str))
            doomed: list[str] = []
            for ref_id in ref_ids:
                if isinstance(ref_id, str) and ref_id in self._refs and ref_id not in self._releasing:
                    # Before the id check: an older agent may have stored an
                    # id that today's rules refuse, and it must stay releasable.
                    doomed.append(ref_id)
                    continue
                try:
                    check_ref_id(ref_id)
                except InvalidParameter as exc:
                    log.warning("release %s refused: %s", shown(ref_id), exc)
                    results[entry_key(ref_id)] = _INVALID
                else:
                    results[entry_key(ref_id)] = _UNKNOWN
            for prefix in prefixes:
                try:
                    valid = check_prefix(prefix)
                except InvalidParameter as exc:
                    log.warning("release of prefix %s refused: %s", shown(prefix), exc)
                    results[entry_key(prefix)] = _INVALID
                    continue
                # Ids another release is committing are that release's to answer for.
                doomed.extend(
                    ref_id for ref_id in self._refs if ref_id.startswith(valid) and ref_id not in self._releasing
                )
            doomed = list(dict.fromkeys(doomed))
            self._releasing.update(doomed)
        removed = doomed
        if also and not doomed:
            self._store.write(also)  # raises: the caller's statements were not kept
        try:
            if doomed:
                self._store.remove_refs(doomed, also=also)
        except StorconnError as exc:
            log.error("release of %d references not stored: %s", len(doomed), exc)
            results.update({ref_id: int(exc.code) for ref_id in doomed})
            removed = []
        with self._lock:
            if doomed:
                self._releasing.difference_update(doomed)
                self._settled.notify_all()
            # Only a target's last reference changes the desired state.
            changed = {self._remove_locked(ref_id) for ref_id in removed}
            changed.discard(None)
            results.update(dict.fromkeys(removed, _OK))
        if changed:
            self._on_change(cast(set[str], changed))
        return results

    def references(self, ref_ids: Iterable[object] | None = None) -> list[Reference]:
        """Snapshot of the references (all, or those of ``ref_ids`` that exist)."""
        with self._lock:
            if ref_ids is None:
                return list(self._refs.values())
            return [self._refs[i] for i in ref_ids if isinstance(i, str) and i in self._refs]

    def desired(self) -> dict[str, ConnectionInfo]:
        """Every target with at least one committed reference, by identity key."""
        with self._lock:
            return {key: target.info for key, target in self._targets.items() if target.ref_ids}

    def run_if_unreferenced(self, key: str, action: Callable[[], None]) -> bool:
        """Run ``action`` under the lock if nothing references ``key``; return whether it ran.

        The reconciler marks a target as going away this way, so that no acquire
        can slip in between its check and its mark. A reference still being
        committed counts: its acquire may answer 0 any moment.
        """
        with self._lock:
            if key in self._targets:
                return False
            action()
            return True

    def _wait_settled_locked(self, ref_ids: Iterable[str]) -> None:
        """Wait until no other call is committing any of ``ref_ids``: one call at a time per id."""
        wanted = set(ref_ids)
        while wanted and (not wanted.isdisjoint(self._pending) or not wanted.isdisjoint(self._releasing)):
            self._settled.wait()

    def _add_locked(self, ref: Reference, info: ConnectionInfo) -> bool:
        """Hold ``ref``; return whether its target is new to the desired state."""
        self._refs[ref.id] = ref
        target = self._targets.get(ref.target)
        if target is None:
            self._targets[ref.target] = _Target(info, {ref.id})
            return True
        target.ref_ids.add(ref.id)
        return False

    def _remove_locked(self, ref_id: str) -> str | None:
        """Forget ``ref_id``; return its target's key if that was its last reference, else None.

        None too for a reference in error: it has no target.
        """
        ref = self._refs.pop(ref_id)
        if ref.error is not None:
            return None
        target = self._targets[ref.target]
        target.ref_ids.discard(ref_id)
        if target.ref_ids:
            return None
        del self._targets[ref.target]
        return ref.target


def _parse_stored(info_json: str) -> tuple[ConnectionInfo, str, dict[str, Any]] | tuple[int, str]:
    """A stored info parsed (model, canonical JSON, wire form), or the ``lastError`` that refuses it.

    Canonical JSON recomputed, not trusted: an older agent may have written
    the same info in another key order.
    """
    try:
        document = json.loads(info_json)
    except json.JSONDecodeError as exc:
        return load_error(f"not valid JSON: {exc.msg} at position {exc.pos}")
    except (ValueError, RecursionError) as exc:
        return load_error(f"not valid JSON: {type(exc).__name__}")
    try:
        info = parse_info(document)
        return (info, *_stored_and_wire(info))
    except InvalidParameter as exc:
        return load_error(exc.message)
    except Exception as exc:  # whatever an unforeseen document does, the agent must start
        # No traceback: a validator's own text may quote the values, secrets included.
        log.error("stored connection info could not be read: %s", type(exc).__name__)
        return load_error(f"it could not be read: {type(exc).__name__}")
