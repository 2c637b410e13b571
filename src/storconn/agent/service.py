"""The agent: the store, the registry and the reconciler wired together, and its verbs.

Everything the JSON-RPC layer, the tests and the benchmarks call goes through
:class:`Agent`; it knows nothing of HTTP.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from storconn.connection import ConnectionInfo, ErrorCode, InvalidParameter, parse_uri

from .attachments import Attachments
from .config import AgentConfig
from .connectors import build_connectors
from .metrics import AgentMetrics
from .reconciler import Reconciler
from .refs import UNMANAGED_PREFIX, Registry, check_ref_id, entry_key, shown
from .store import Store
from .system import iscsi_luns, iscsi_sysfs, iscsiadm, mountinfo
from .system.mountinfo import MountEntry

log = logging.getLogger(__name__)

MAX_WAIT = 300.0
_WAIT_SETTLE = 0.01  # seconds

# Mounts of these types are storage connections even when no reference owns
# them; the host's tmpfs, cgroup and overlay mounts are not.
NETWORK_FSTYPES = frozenset(
    {
        "nfs", "nfs4", "glusterfs", "fuse.glusterfs", "fuse.sshfs", "cifs", "smb3",
        "ceph", "fuse.ceph-fuse", "fuse.s3fs", "fuse.rclone", "lustre", "gpfs",
    }
)

Status = dict[str, Any]


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.metrics = AgentMetrics()
        self._store = Store(config.store_path)
        self._registry = Registry(self._store)
        self._reconciler = Reconciler(
            self._registry,
            self._store,
            build_connectors(
                config.mount_root,
                timeouts=config.timeouts,
                localfs_user=config.localfs_user,
                log_dir=config.state_dir / "log",
            ),
            config=config.reconciler,
            metrics=self.metrics,
        )
        self._registry.set_listener(self._reconciler.wake)
        self.volumes = Attachments(self._store, self._registry, self)

    def start(self) -> None:
        started = time.perf_counter()
        count = self._registry.load()
        self._reconciler.restore_ownership()
        self._reconciler.start()
        # After the reconciler: an attachment whose device must be made again
        # waits for its share, which the reconciler connects.
        self.volumes.recover()
        log.info("agent started with %d references in %.3f s", count, time.perf_counter() - started)

    def stop(self) -> None:
        self._reconciler.stop()
        self._store.close()

    # -- verbs -------------------------------------------------------------

    def acquire(self, con_ref_args: Mapping[str, object]) -> dict[str, int]:
        return self._registry.acquire(con_ref_args)

    def release(self, ref_ids: Sequence[object] = (), prefixes: Sequence[object] = ()) -> dict[str, int]:
        return self._registry.release(ref_ids, prefixes)

    def statuses(self, ref_ids: Sequence[object] | None = None) -> dict[str, Status]:
        """Each reference's status; an asked-for id that is not held answers 479, one that is no valid id 1000.

        Every entry of ``ref_ids`` is judged on its own (a number or a list
        among them is answered under its JSON text), never failing the call.
        """
        views = self._reconciler.views()
        result: dict[str, Status] = {}
        for ref in self._registry.references(ref_ids):
            if ref.error is not None:
                # Stored by an older agent with an info no longer accepted:
                # never connected, its own error, its info as far as it can be shown.
                result[ref.id] = {"connected": False, "managed": True, "lastError": ref.error,
                                  "connectionInfo": ref.wire, "path": None}
                continue
            view = views.get(ref.target)
            result[ref.id] = {
                "connected": view.connected if view else False,
                "managed": True,
                "lastError": view.error if view else (0, ""),
                "connectionInfo": ref.wire,
                "path": view.path if view else None,
            }
        if ref_ids is None:
            result.update(self._unmanaged())
        else:
            for ref_id in ref_ids:
                if not (isinstance(ref_id, str) and ref_id in result):
                    key, status = _not_held(ref_id)
                    result.setdefault(key, status)
        return result

    def wait(self, ref_ids: Sequence[object], timeout: float) -> dict[str, Status]:
        """Statuses once each id is connected or an attempt begun after this call failed, or at the timeout.

        Blocks the calling thread: for in-process callers. The JSON-RPC server
        waits without a thread (``waits.Waits``) on the same two methods below.
        """
        if not 0 <= timeout <= MAX_WAIT:
            raise InvalidParameter("timeout", f"must be between 0 and {MAX_WAIT:g} seconds")
        called = time.monotonic()
        deadline = called + timeout
        while True:
            remaining = deadline - time.monotonic()
            if not self.wait_pending(ref_ids, called) or remaining <= 0:
                return self.statuses(ref_ids)
            self._reconciler.wait_for_change(min(remaining, 0.25))
            # Many targets change in a burst: look again after it, not after each.
            time.sleep(min(_WAIT_SETTLE, max(0.0, deadline - time.monotonic())))

    def wait_pending(self, ref_ids: Sequence[object], since: float) -> bool:
        """Whether some referenced id is neither connected nor failed in an attempt begun at or after ``since``.

        Ids that are unknown or not even strings are not pending: statuses
        answers for them at once.
        """
        wanted = [ref_id for ref_id in ref_ids if isinstance(ref_id, str)]
        if not wanted:
            return False
        for ref in self._registry.references(wanted):
            if ref.error is not None:
                continue  # a reference in error is never connected: nothing to wait for
            view = self._reconciler.view(ref.target)
            if view is not None and view.connected:
                continue
            if view is not None and view.last_failed_attempt is not None and view.last_failed_attempt >= since:
                continue
            return True
        return False

    def share_path(self, info: ConnectionInfo) -> str | None:
        """Where the agent mounts (or links) ``info``, connected or not."""
        return self._reconciler.path_of(info)

    def wait_for_change(self, timeout: float) -> None:
        """Block until some target's state changes or ``timeout`` passes."""
        self._reconciler.wait_for_change(timeout)

    def manage(self, uri: str, connection_id: str) -> int:
        try:
            info = parse_uri(uri)
        except InvalidParameter as exc:
            log.warning("manage %s refused: %s", shown(connection_id), exc)
            return int(exc.code)
        return self._registry.acquire({connection_id: info})[connection_id]

    def unmanage(self, connection_id: str) -> int:
        return self._registry.release([connection_id])[connection_id]

    def discover(self, hostname: str, port: int, iface: str) -> list[dict[str, Any]]:
        """The targets an iSCSI portal offers (SendTargets), as ``params.target`` shapes."""
        found = iscsiadm.discover(hostname, port, iface=iface, timeout=self.config.timeouts.mount)
        return [target.to_wire() for target in found]

    def iscsi_devices(self) -> list[dict[str, Any]]:
        """The disks of this host's iSCSI sessions (sysfs, read-only): what the engine lists as host storage."""
        return [lun.to_wire() for lun in iscsi_luns.luns()]

    def reference_count(self) -> int:
        return len(self._registry.references())

    def target_counts(self) -> dict[str, int]:
        """Referenced targets by state: connected, or failing with some error."""
        views = self._reconciler.views()
        counts = {"connected": 0, "disconnected": 0}
        for key in self._registry.desired():
            view = views.get(key)
            counts["connected" if view is not None and view.connected else "disconnected"] += 1
        return counts

    # -- unmanaged connections ---------------------------------------------

    def _unmanaged(self) -> dict[str, Status]:
        desired = self._registry.desired()
        # Mount points of referenced targets, connected or not (statuses
        # report a path only while connected): never unmanaged.
        claimed = {self._reconciler.path_of(info) for info in desired.values()}
        root = str(self.config.mount_root).rstrip("/") + "/"
        found: dict[str, Status] = {}
        for entry in mountinfo.read().values():
            if entry.mountpoint in claimed:
                continue
            if entry.fstype in NETWORK_FSTYPES or entry.mountpoint.startswith(root):
                found[f"{UNMANAGED_PREFIX}{entry.mount_id}"] = _unmanaged_status(entry)
        owned_sessions = self._reconciler.iscsi_sessions_in_use()
        for session in iscsi_sysfs.sessions():
            if session.sid not in owned_sessions:
                found[f"{UNMANAGED_PREFIX}iscsi-session{session.sid}"] = _unmanaged_session(session)
        return found


def _unmanaged_status(entry: MountEntry) -> Status:
    if entry.fstype in ("nfs", "nfs4"):
        info: dict[str, Any] = {"type": "nfs", "params": {"export": entry.source}}
    elif entry.fstype in ("glusterfs", "fuse.glusterfs"):
        info = {"type": "glusterfs", "params": {"spec": entry.source}}
    else:
        info = {"type": "posixfs", "params": {"spec": entry.source, "vfsType": entry.fstype}}
    return {
        "connected": True,
        "managed": False,
        "lastError": (0, ""),
        "connectionInfo": info,
        "path": entry.mountpoint,
    }


def _unmanaged_session(session: iscsi_sysfs.Session) -> Status:
    target: dict[str, Any] = {
        "portal": {"hostname": session.address or "", "port": session.port or 3260},
        "iqn": session.iqn,
    }
    if session.tpgt is not None:
        target["tpgt"] = session.tpgt
    return {
        "connected": session.logged_in,
        "managed": False,
        "lastError": (0, "") if session.logged_in else (int(ErrorCode.CONNECTION_LOST), f"session is {session.state}"),
        "connectionInfo": {"type": "iscsi", "params": {"target": target, "iface": session.iface}},
        "path": None,
    }


def _not_held(ref_id: object) -> tuple[str, Status]:
    """The key and status answering an asked-for id that is not held: 1000 if it is no valid id, else 479."""
    try:
        check_ref_id(ref_id)
    except InvalidParameter as exc:
        error = (int(exc.code), exc.message)
    else:
        error = (int(ErrorCode.REF_ID_UNKNOWN), f"no reference {ref_id!r}")
    return entry_key(ref_id), {
        "connected": False,
        "managed": False,
        "lastError": error,
        "connectionInfo": None,
        "path": None,
    }
