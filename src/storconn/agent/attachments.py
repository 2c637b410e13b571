"""Volume attachments on this host: ``Volumes.attach/detach/list/resize`` (DESIGN.md §5 "Host side").

An attachment holds agent references ``volumes:<volume-id>:<connection-id>``
(``...:<n>`` for the n-th iSCSI portal, n ≥ 1) on the volume's share or
target, and the device made over it. Each step is recorded in the agent's
store before it is taken::

    attach:  record attaching → acquire → wait connected → (record the backing file) → device → record attached
    detach:  record detaching → remove this attachment's device → release → delete the record

so a crash at any step is finished on the next start (:meth:`Attachments.recover`):
``attaching`` is rolled back (its device, found by the recorded backing file,
removed; its references released), ``detaching`` is finished, ``attached``
re-adopts its loop device by backing file and inode, or makes it again once
the share is connected.

A detach whose device is busy (mounted, held, or open by a process) fails
with BUSY and leaves the record ``detaching`` with that error: the
references stay, so the share stays mounted under the device, and a later
detach (or the next start) finishes it. An attach never proceeds over a
record in that state.

Test-only fault hook: ``STORCONN_AGENT_FAULT=after-acquire`` (or
``after-device``), read once when the agent starts, makes the agent SIGKILL
itself at that step of every attach, so the tests can crash it mid-attach.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from storconn.connection import ConnectionInfo, ErrorCode, IscsiInfo, LocalfsInfo, StorconnError
from storconn.connection.volume_shapes import FILE_PROTOCOLS, VolumeLocation, check_volume_id, parse_conn_info

from . import attachment_devices as devices
from .attachment_devices import Device
from .attachment_requests import REF_PREFIX, AttachmentConflict, Plan, Request, parse_request
from .store import Store, StoredAttachment, delete_attachment_statement, put_attachment_statement
from .system import loop
from .system.iscsi_sysfs import SYSFS
from .system.scsi_devices import DEV

if TYPE_CHECKING:
    from .refs import Registry

log = logging.getLogger(__name__)

FAULT_ENV = "STORCONN_AGENT_FAULT"
DEFAULT_TIMEOUT = 60.0
# Removing or re-adopting a device at start and on detach: bounded like any device call.
DEVICE_TIMEOUT = 30.0
_OK = int(ErrorCode.OK)
_UNKNOWN = int(ErrorCode.REF_ID_UNKNOWN)


class StatusSource(Protocol):
    """What the attachments need of the agent besides the registry (the Agent has it)."""

    def statuses(self, ref_ids: Sequence[object] | None = None) -> dict[str, dict[str, Any]]:
        """Each reference's status, as ``ConnectionRefs.statuses`` answers."""

    def wait(self, ref_ids: Sequence[object], timeout: float) -> dict[str, dict[str, Any]]:
        """Statuses once connected or failed, or at the timeout (blocking)."""

    def share_path(self, info: ConnectionInfo) -> str | None:
        """Where the agent mounts (or links) ``info``: known before it is connected."""


class Attachments:
    """The attachments of this host, their records, and the steps between them. Thread-safe."""

    def __init__(
        self, store: Store, registry: Registry, agent: StatusSource, *, sysfs: Path = SYSFS, dev: Path = DEV
    ) -> None:
        # sysfs and /dev are parameters so that the iSCSI path runs on a fake tree in the tests.
        self._dev = dev
        self._store = store
        self._registry = registry
        self._agent = agent
        self._sysfs = sysfs
        self._lock = threading.Lock()
        self._records: dict[str, StoredAttachment] = {}
        self._busy: set[str] = set()  # connection ids with an attach or detach under way
        self._fault = os.environ.get(FAULT_ENV, "")

    # -- attach -------------------------------------------------------------

    def begin(self, request: Request) -> Plan:
        """Record the attach and acquire its references; the plan to wait on. Blocking (a commit)."""
        deadline = time.monotonic() + request.timeout
        cid = request.connection_id
        with self._lock:
            self._claim_locked(cid)
            held = self._records.get(cid)
        if held is not None:
            try:
                return Plan(request, deadline, self._repeat(held, request))
            finally:
                self._unclaim(cid)
        record = StoredAttachment(cid, request.location.volume_id, "attaching", request.stored(),
                                  json.dumps(request.ref_ids))
        try:
            record = self._with_intent(record, request)
            with self._lock:
                self._records[cid] = record
            # The record commits with the references: one transaction, one fsync.
            answers = self._registry.acquire(
                dict(zip(request.ref_ids, request.location.shares, strict=True)),
                also=[put_attachment_statement(record)],
            )
            refused = {ref_id: code for ref_id, code in answers.items() if code != _OK}
            if refused:
                ref_id, code = next(iter(refused.items()))
                raise StorconnError(
                    f"reference {ref_id} was refused with {code}: {_refusal(code)}",
                    code=_code(code),
                )
            self._crash_if("after-acquire")
        except BaseException:
            self._roll_back(record)
            raise
        return Plan(request, deadline)

    def finish(self, plan: Plan) -> dict[str, Any]:
        """After the wait: check the references are connected, make the device, record it attached."""
        if plan.answer is not None:
            return plan.answer
        request = plan.request
        with self._lock:
            record = self._records[request.connection_id]
        try:
            statuses = self._agent.statuses(list(request.ref_ids))
            for ref_id in request.ref_ids:
                status = statuses.get(ref_id, {})
                if not status.get("connected"):
                    code, message = status.get("lastError") or (0, "")
                    if not code:
                        code, message = int(ErrorCode.TIMEOUT), f"not connected within {request.timeout:g} s"
                    raise StorconnError(f"{ref_id}: {message}", code=_code(code))
            device = self._make(request, statuses, plan.remaining())
            self._crash_if("after-device")
            record = replace(record, state="attached", device=json.dumps(device.to_json()), error=None)
            try:
                self._put(record)
            except BaseException:
                self._remove_device(device)
                raise
        except BaseException:
            self._roll_back(record)
            raise
        finally:
            self._unclaim(request.connection_id)
        log.info("volume %s attached as connection %s: %s %s", request.location.volume_id,
                 request.connection_id, device.type, device.path)
        return self._answer(device, request.ref_ids)

    def abandon(self, plan: Plan) -> None:
        """The client went away during the wait: roll the attach back."""
        if plan.answer is not None:
            return
        with self._lock:
            record = self._records.get(plan.request.connection_id)
        try:
            if record is not None:
                self._roll_back(record)
        finally:
            self._unclaim(plan.request.connection_id)

    def _repeat(self, held: StoredAttachment, request: Request) -> dict[str, Any]:
        """A second attach of an attached connection id: the same device, or 478 naming what differs."""
        if held.state != "attached":
            raise StorconnError(
                f"connectionID {request.connection_id} is {held.state}: detach it first",
                code=ErrorCode.BUSY,
            )
        stored = json.loads(held.request)
        asked = json.loads(request.stored())
        for name in ("connInfo", "mode", "deviceType"):
            if stored.get(name) != asked.get(name):
                raise AttachmentConflict(request.connection_id, name)
        assert held.device is not None
        return self._answer(Device.from_json(json.loads(held.device)), json.loads(held.ref_ids))

    def _with_intent(self, record: StoredAttachment, request: Request) -> StoredAttachment:
        """The record with the backing file a loop device will have, so a crash right after making it finds it.

        Known before the acquire (the share's path is the agent's own choice),
        so the first record carries it: one commit fewer on every attach.
        """
        location = request.location
        if request.device_type != "block" or location.protocol not in FILE_PROTOCOLS:
            return record
        assert location.name is not None
        share = location.shares[0]
        path = share.params.path if isinstance(share, LocalfsInfo) else self._agent.share_path(share)
        if path is None:
            return record
        # Resolved as the kernel names a loop device's backing file; bounded,
        # since resolving stats every component, the share's own included.
        base = loop.bounded(lambda: os.path.realpath(path), DEVICE_TIMEOUT, "resolving the share's path")
        intent = Device("block", "", request.mode == "ro", backing_file=os.path.join(base, location.name))
        return replace(record, device=json.dumps(intent.to_json()))

    def _make(self, request: Request, statuses: Mapping[str, Any], timeout: float) -> Device:
        location = request.location
        read_only = request.mode == "ro"
        if location.protocol == "iscsi":
            targets = [_iscsi_target(share, lun) for share, lun in zip(location.shares, location.luns, strict=True)]
            return devices.iscsi_disks(targets, read_only=read_only, timeout=timeout, root=self._sysfs,
                                       dev=self._dev)
        share_dir = self._share_dir(location, statuses)
        assert location.name is not None
        name = location.name
        if request.device_type == "file":
            return loop.bounded(
                lambda: devices.file_device(os.path.realpath(share_dir), name, read_only=read_only),
                max(timeout, 1.0), "checking the volume file",
            )
        return loop.bounded(
            lambda: devices.loop_over_file(os.path.realpath(share_dir), name, read_only=read_only),
            max(timeout, 1.0), "making the loop device", undo=self._remove_device,
        )

    def _share_dir(self, location: VolumeLocation, statuses: Mapping[str, Any]) -> str:
        share = location.shares[0]
        if isinstance(share, LocalfsInfo):
            # The directory itself, not the agent's link to it (the callers
            # resolve it, within their deadline, as the kernel names it).
            return share.params.path
        path = next(iter(statuses.values())).get("path") if statuses else None
        if not isinstance(path, str):
            raise StorconnError("the share is connected but has no path", code=ErrorCode.STALE)
        return path

    # -- detach -------------------------------------------------------------

    def detach(self, connection_id: object) -> dict[str, Any]:
        """Remove this attachment's device, release its references, forget it. Unknown: done already."""
        cid = check_volume_id(connection_id, "connectionID")
        with self._lock:
            self._claim_locked(cid)
            record = self._records.get(cid)
        try:
            if record is not None:
                self._finish_detach(record)
            else:
                self._release_orphans(cid)
        finally:
            self._unclaim(cid)
        return {}

    def _release_orphans(self, cid: str) -> None:
        """Release the ``volumes:<vol>:<cid>[:n]`` references no attachment holds (``Volumes.list``: orphaned).

        Left by a crash between an attach's acquire and its record (an older
        agent), or acquired by hand: detaching the connection id is asking
        for them to go, and the library's ``cleanup()`` does exactly that for
        connections it no longer knows.
        """
        orphans = [ref.id for ref in self._registry.references() if _connection_of(ref.id) == cid]
        if orphans:
            self._registry.release(orphans)
            log.info("connection %s: %d unattached volume references released", cid, len(orphans))

    def _finish_detach(self, record: StoredAttachment) -> None:
        # No "detaching" record before the device goes: a crash between the
        # two leaves "attached" with the device gone, and the next start makes
        # the device again; the client, which got no answer, detaches again.
        # So a detach costs one commit (release and forget together), not three.
        if record.device is not None:
            device = Device.from_json(json.loads(record.device))
            try:
                self._remove_device(device)
            except StorconnError as exc:
                self._put(replace(record, state="detaching", error=json.dumps(exc.as_pair())))
                log.warning("detach of connection %s: %s", record.connection_id, exc.message)
                raise
        self._release_and_forget(record)
        shown = json.loads(record.device).get("path") if record.device else None
        log.info("volume %s detached from connection %s: %s", record.volume_id, record.connection_id,
                 shown or "no device")

    # -- list and resize ----------------------------------------------------

    def listed(self) -> dict[str, dict[str, Any]]:
        """Every attachment, and the ``volumes:`` references no attachment holds (state ``orphaned``)."""
        with self._lock:
            records = list(self._records.values())
        result: dict[str, dict[str, Any]] = {}
        held: set[str] = set()
        for record in records:
            request = json.loads(record.request)
            ref_ids: list[str] = json.loads(record.ref_ids)
            held.update(ref_ids)
            device = Device.from_json(json.loads(record.device)) if record.device else None
            result[record.connection_id] = {
                "volumeID": record.volume_id,
                "refIDs": ref_ids,
                "state": record.state,
                "mode": request.get("mode"),
                "device": device.to_wire() if device is not None and device.path else None,
                "lastError": json.loads(record.error) if record.error else [0, ""],
            }
        for ref in self._registry.references():
            if not ref.id.startswith(REF_PREFIX) or ref.id in held:
                continue
            parts = ref.id.split(":")
            cid = _connection_of(ref.id) or ref.id
            entry = result.setdefault(cid, {
                "volumeID": parts[1] if len(parts) >= 2 else "", "refIDs": [], "state": "orphaned",
                "mode": None, "device": None, "lastError": [0, ""],
            })
            if entry["state"] == "orphaned":
                entry["refIDs"].append(ref.id)
        return result

    def resize(self, connection_id: object) -> dict[str, int]:
        """Grow the attachment's device to its volume's size now; ``{"size": bytes}``."""
        cid = check_volume_id(connection_id, "connectionID")
        with self._lock:
            record = self._records.get(cid)
        if record is None or record.state != "attached" or record.device is None:
            raise StorconnError(f"connectionID {cid} is not attached", code=ErrorCode.REF_ID_UNKNOWN)
        device = Device.from_json(json.loads(record.device))
        request = json.loads(record.request)
        location = parse_conn_info(request["connInfo"])
        share_dir: str | None = None
        if location.protocol in FILE_PROTOCOLS:
            ref_ids = json.loads(record.ref_ids)
            share_dir = self._share_dir(location, self._agent.statuses(ref_ids))
        size = loop.bounded(
            lambda: devices.size(device, share_dir and os.path.realpath(share_dir), location.name, root=self._sysfs),
            DEVICE_TIMEOUT, "resizing the device",
        )
        return {"size": size}

    # -- restart ------------------------------------------------------------

    def recover(self) -> None:
        """On start: roll back ``attaching``, finish ``detaching``, re-adopt ``attached``.

        Only sysfs and the loop devices' ioctls are read here, never a
        share, so a hung share cannot keep the agent from starting. A device
        that must be made again waits for its share in a thread of its own.
        """
        records = self._store.load_attachments()
        with self._lock:
            self._records = {r.connection_id: r for r in records}
        claimed = {json.loads(r.device).get("loop", {}).get("name") if r.device else None
                   for r in records if r.state != "attaching"}
        for record in records:
            try:
                if record.state == "attaching":
                    self._recover_attaching(record, claimed)
                elif record.state == "detaching":
                    self._finish_detach(record)
                else:
                    self._readopt(record)
            except Exception as exc:  # one record must not keep the others (or the agent) down
                log.error("recovering connection %s failed: %s", record.connection_id, exc)

    def _recover_attaching(self, record: StoredAttachment, claimed: set[str | None]) -> None:
        if record.device is not None:
            device = Device.from_json(json.loads(record.device))
            if device.loop is not None:
                self._remove_device(device)
            elif device.backing_file is not None:
                # Crashed between recording the backing file and recording the
                # loop device: any loop device over that file that no other
                # attachment owns is this attach's.
                for name in _loops_over(device.backing_file):
                    if name in claimed:
                        continue
                    try:
                        made = loop.device_of(name)
                        loop.bounded(lambda: loop.detach(made), DEVICE_TIMEOUT, "removing a loop device")
                    except StorconnError as exc:
                        log.error("connection %s: %s", record.connection_id, exc.message)
            else:
                self._remove_device(device)
        self._release_and_forget(record)
        log.info("attach of volume %s as connection %s rolled back after a restart",
                 record.volume_id, record.connection_id)

    def _readopt(self, record: StoredAttachment) -> None:
        if record.device is None:
            return
        device = Device.from_json(json.loads(record.device))
        found = devices.readopt(device)
        if found is not None:
            if found != device:
                self._put(replace(record, device=json.dumps(found.to_json()), error=None))
            log.info("connection %s re-adopted %s", record.connection_id, found.path)
            return
        threading.Thread(target=self._remake, args=(record,), name="storconn-remake", daemon=True).start()

    def _remake(self, record: StoredAttachment) -> None:
        """Make a vanished device again once the share is connected; else record why not."""
        request = json.loads(record.request)
        try:
            parsed = parse_request(record.connection_id, request["connInfo"], request["mode"],
                                   request["deviceType"], DEFAULT_TIMEOUT)
            ref_ids = json.loads(record.ref_ids)
            statuses = self._agent.wait(ref_ids, DEFAULT_TIMEOUT)
            if not all(statuses.get(r, {}).get("connected") for r in ref_ids):
                raise StorconnError("the share did not connect after the restart", code=ErrorCode.TIMEOUT)
            device = self._make(parsed, statuses, DEFAULT_TIMEOUT)
        except StorconnError as exc:
            self._update(record.connection_id, error=json.dumps(exc.as_pair()))
            log.error("connection %s: the device could not be made again: %s", record.connection_id, exc.message)
            return
        if not self._update(record.connection_id, device=json.dumps(device.to_json()), error=None):
            self._remove_device(device)  # detached meanwhile
            return
        log.info("connection %s: device made again after the restart: %s", record.connection_id, device.path)

    # -- records ------------------------------------------------------------

    def _put(self, record: StoredAttachment) -> None:
        self._store.put_attachment(record)
        with self._lock:
            self._records[record.connection_id] = record

    def _update(self, cid: str, **changes: Any) -> bool:
        with self._lock:
            record = self._records.get(cid)
            if record is None or record.state != "attached":
                return False
        self._put(replace(record, **changes))
        return True

    def _release_and_forget(self, record: StoredAttachment) -> None:
        answers = self._registry.release(
            json.loads(record.ref_ids), also=[delete_attachment_statement(record.connection_id)]
        )
        failed = {ref_id: code for ref_id, code in answers.items() if code not in (_OK, _UNKNOWN)}
        if failed:
            ref_id, code = next(iter(failed.items()))
            raise StorconnError(f"reference {ref_id} could not be released: {code}", code=_code(code))
        with self._lock:
            self._records.pop(record.connection_id, None)

    def _roll_back(self, record: StoredAttachment) -> None:
        try:
            if record.device is not None:
                device = Device.from_json(json.loads(record.device))
                if device.loop is not None or device.disks:
                    self._remove_device(device)
            self._release_and_forget(record)
        except Exception:
            # Left as ``attaching``: the next start rolls it back.
            log.exception("rolling back the attach of connection %s failed", record.connection_id)

    def _remove_device(self, device: Device) -> None:
        loop.bounded(lambda: devices.remove(device, root=self._sysfs, dev=self._dev), DEVICE_TIMEOUT, "removing the device")

    def _claim_locked(self, cid: str) -> None:
        if cid in self._busy:
            raise StorconnError(f"connectionID {cid}: an attach or detach of it is under way", code=ErrorCode.BUSY)
        self._busy.add(cid)

    def _unclaim(self, cid: str) -> None:
        with self._lock:
            self._busy.discard(cid)

    def _crash_if(self, step: str) -> None:
        if self._fault == step:
            log.warning("fault hook %s=%s: killing the agent", FAULT_ENV, step)
            os.kill(os.getpid(), signal.SIGKILL)

    @staticmethod
    def _answer(device: Device, ref_ids: list[str]) -> dict[str, Any]:
        return {**device.to_wire(), "refIDs": list(ref_ids)}


def _connection_of(ref_id: str) -> str | None:
    """The connection id of a ``volumes:<volume-id>:<connection-id>[:<n>]`` reference; None for any other."""
    parts = ref_id.split(":")
    if parts[0] + ":" != REF_PREFIX or len(parts) not in (3, 4):
        return None
    return parts[2]


def _iscsi_target(share: ConnectionInfo, lun: int) -> tuple[str, int, str, int]:
    assert isinstance(share, IscsiInfo)
    target = share.params.target
    return target.portal.hostname, target.portal.port, target.iqn, lun


def _loops_over(backing_file: str) -> list[str]:
    root = loop.SYSFS / "block"
    try:
        names = sorted(p.name for p in root.iterdir() if p.name.startswith("loop"))
    except OSError:
        return []
    return [name for name in names if loop.backing_file(name) == backing_file]


def _refusal(code: int) -> str:
    reasons: dict[int, str] = {
        int(ErrorCode.REF_ID_IN_USE): "the id is held with another share (an earlier attach left it: "
                                      "the library's cleanup releases it)",
        int(ErrorCode.CONFLICT): "the share is held by other references with different parameters",
    }
    return reasons.get(code, "see the agent's log")


def _code(code: object) -> ErrorCode:
    try:
        return ErrorCode(int(code))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ErrorCode.GENERAL


__all__ = ["AttachmentConflict", "Attachments", "Plan", "Request", "parse_request"]
