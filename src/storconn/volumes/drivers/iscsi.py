"""The ``iscsi`` volume driver: file-backed LUNs exported by the local tgtd.

A volume is a sparse raw file ``volume-<id>`` on the backend's *share*
(kept by a ``FileStore``, which holds the controller's agent reference on
it); tgtd, on the same host as the controller, exports that file as a LUN.

Targets (``shared_targets``, Cinder's name):

- True (default): one target per backend, ``<target_prefix><backend>``,
  the volumes are its LUNs 1..N. The LUN number chosen at export is kept in
  ``VolumeRecord.extra["target_lun"]`` so that a rebuild after a tgtd
  restart gives every volume the number its hosts already know.
- False: one target per volume, ``<target_prefix>volume-<id>``, LUN 1.

Access: each connection binds its host's initiator *name* to the target
(``initiator-name`` ACL; never an address ACL, since tgtd lets an initiator
in when *either* list matches, and an address would open the target to every
name). The ACL is the target's: with shared targets an initiator let in for
one volume can address every LUN of the backend's target (as with Cinder's
shared targets); ``shared_targets=False`` confines it to its volumes.
Names are claimed, not proven, by initiators: CHAP
(``use_chap_auth``) is what authenticates. With CHAP the backend has one
account, ``"CHAP <user> <password>"`` in every volume's ``provider_auth``
(encrypted by the persistence); the driver learns it from any volume record
it is handed and generates one (``secrets``) only when it has seen none. A
controller that restarts and creates a volume before it has seen an old
one makes a second account; both are bound to the shared target, so every
stored conn_info keeps working.

Secrets: the CHAP password goes to tgtd over its management socket (see
``tgt.py``), never on a command line, and never into a log line or an
error message.

What the driver does *not* decide: when to export or remove an export, and
whether a LUN is in use: the Backend does (DESIGN.md §5). It still refuses
to delete a volume whose file tgtd exports (defence in depth).

Thread-safety: export, ACL and account changes take one lock per driver,
so two threads never pick the same LUN or tid; another process doing the
same on the same tgtd is handled by retrying on tgtd's "already exists".
"""

from __future__ import annotations

import logging
import secrets
import string
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from storconn.agent.client import AgentClient
from storconn.connection import ConnectionInfo, InvalidParameter
from storconn.connection.volume_shapes import FILE_PROTOCOLS, check_volume_id, iscsi_conn_info

from ..errors import BackendError, InvalidVolume
from ..records import SnapshotRecord, VolumeRecord
from .files import FileStore
from .iscsi_config import IscsiConfig, slug
from .tgt import (
    TgtClient,
    TgtErr,
    TgtError,
    TgtTarget,
    TgtUnavailable,
    check_initiator_name,
)

__all__ = ["IscsiConfig", "IscsiDriver", "VolumeFiles", "parse_provider_auth"]

log = logging.getLogger(__name__)

_PASSWORD_ALPHABET = string.ascii_letters + string.digits
_PASSWORD_LENGTH = 20  # within what every common initiator takes (12-16 minimum, <= 255)
# Retries when another process took the tid or LUN picked, with a random
# pause so two controllers exporting at once stop picking the same number.
_ATTEMPTS = 40
_BACKOFF = 0.005


class VolumeFiles(Protocol):
    """The files volumes live in: what the driver uses of ``files.FileStore``."""

    def do_setup(self) -> None: ...
    def path_of(self, name: str, /) -> Path: ...
    def create(self, name: str, size_gib: int, fmt: str = "raw", /) -> None: ...
    def delete(self, name: str, /) -> None: ...
    def extend(self, name: str, size_gib: int, fmt: str = "raw", /) -> None: ...
    def clone(self, source: str, target: str, /) -> str: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self, *, release: bool = False) -> None: ...


class IscsiDriver:
    """``volume_driver="iscsi"``: see the module's docstring."""

    protocol = "iscsi"

    def __init__(
        self,
        backend_name: str,
        share: ConnectionInfo,
        agent: AgentClient | None,
        *,
        files: VolumeFiles | None = None,
        tgt: TgtClient | None = None,
        **options: Any,
    ) -> None:
        """Check the options (Cinder's names, see ``IscsiConfig``); InvalidParameter names a bad one.

        ``files`` and ``tgt`` replace the FileStore and the tgtd client (tests).
        """
        share_type = getattr(share, "type", None)
        if share_type not in FILE_PROTOCOLS:
            raise InvalidParameter("share", f"a {share_type} connection cannot hold volume files")
        self.config = IscsiConfig.from_mapping(
            {**options, "volume_backend_name": backend_name, "share": share}
        )
        self.backend_slug = slug(self.config.volume_backend_name)
        # What one ACL entry opens (the Backend decides when an initiator is done).
        self.acl_scope = "backend" if self.config.shared_targets else "volume"
        self._tgt = tgt or TgtClient(self.config.tgt_control_port, timeout=self.config.tgt_timeout)
        if files is None:
            if agent is None:
                raise InvalidParameter("agent", "the iscsi driver needs the local agent for its share")
            files = FileStore(share, agent, f"volumes-backend:{backend_name}")
        self._files = files
        self._lock = threading.RLock()
        self._chap: tuple[str, str] | None = None

    def __repr__(self) -> str:
        return f"IscsiDriver({self.config.volume_backend_name!r})"

    # -- set-up --------------------------------------------------------------------

    def do_setup(self) -> None:
        """Reach the share (through the agent) and tgtd; BackendError if tgtd does not answer."""
        self._files.do_setup()
        try:
            self._tgt.show_system()
        except TgtError as exc:
            raise BackendError(
                f"iscsi backend {self.config.volume_backend_name}: {exc}; start tgtd with "
                f"-C {self.config.tgt_control_port}"
            ) from exc

    def stats(self) -> dict[str, Any]:
        stats = dict(self._files.stats())
        stats.update(
            volume_backend_name=self.config.volume_backend_name,
            storage_protocol="iSCSI",
            vendor_name="storconn",
            driver_version="1.0",
            shared_targets=self.config.shared_targets,
            thin_provisioning_support=True,
            multiattach=True,
        )
        return stats

    def close(self) -> None:
        """Forget the share in this process; it stays held for the next one."""
        self._files.close()

    def destroy(self) -> None:
        """``Backend.destroy()``: also release the controller's reference on the share.

        The backend's target stays in tgtd: the volumes on it stay exported
        for their connections.
        """
        self._files.close(release=True)

    # -- storage ---------------------------------------------------------------------

    def create_volume(self, volume: VolumeRecord) -> None:
        name = self._name(volume)
        self._check_format(volume)
        self._files.create(name, volume.size, "raw")
        volume.provider_location = name
        self._give_auth(volume)

    def create_cloned_volume(self, volume: VolumeRecord, source: VolumeRecord) -> None:
        name = self._name(volume)
        self._check_format(volume)
        volume.extra["copy"] = self._files.clone(self._name(source), name)
        if volume.size > source.size:
            self._files.extend(name, volume.size)
        volume.provider_location = name
        self._give_auth(volume)

    def create_volume_from_snapshot(self, volume: VolumeRecord, snapshot: SnapshotRecord) -> None:
        name = self._name(volume)
        self._check_format(volume)
        volume.extra["copy"] = self._files.clone(_snapshot_name(snapshot), name)
        if volume.size > snapshot.volume_size:
            self._files.extend(name, volume.size)
        volume.provider_location = name
        self._give_auth(volume)

    def delete_volume(self, volume: VolumeRecord) -> None:
        """Remove the file; InvalidVolume while tgtd still exports it (tgtd down: not exported)."""
        name = self._name(volume)
        path = str(self._files.path_of(name))
        try:
            exports = [(t.iqn, t.lun_of(path)) for t in self._tgt.show_targets()
                       if t.lun_of(path) is not None]
        except TgtUnavailable:
            exports = []  # no tgtd, so nothing is exported now; a rebuild asks the Backend
        if exports:
            iqn, lun = exports[0]
            raise InvalidVolume(
                f"volume {volume.id} is still exported by tgtd (target {iqn}, LUN {lun}); "
                "remove its export first"
            )
        self._files.delete(name)

    def extend_volume(self, volume: VolumeRecord, new_size: int) -> None:
        """Grow the file, then make tgtd read the new size for every LUN that exports it."""
        name = self._name(volume)
        self._files.extend(name, new_size)
        path = str(self._files.path_of(name))
        with self._lock:
            try:
                targets = self._tgt.show_targets()
            except TgtUnavailable:
                return  # not exported now; a new export reads the new size
            for target in targets:
                lun = target.lun_of(path)
                if lun is not None:
                    self._tgt.reread_lun_size(target.tid, lun, path)

    def create_snapshot(self, snapshot: SnapshotRecord, volume: VolumeRecord) -> None:
        name = _snapshot_name(snapshot)
        self._files.clone(self._name(volume), name)
        snapshot.provider_location = name

    def delete_snapshot(self, snapshot: SnapshotRecord) -> None:
        self._files.delete(_snapshot_name(snapshot))

    # -- exports -----------------------------------------------------------------------

    def create_export(self, volume: VolumeRecord) -> None:
        """The volume's LUN on its target (made if missing), with the CHAP account bound.

        Idempotent: a LUN tgtd already has for the volume's file is kept, and
        its number recorded in ``extra``. Sets ``extra["target_iqn"]`` and
        ``extra["target_lun"]`` (and ``provider_auth`` when CHAP is on and the
        volume has none yet).
        """
        name = self._name(volume)
        path = str(self._files.path_of(name))
        self._give_auth(volume)
        iqn = self._iqn(volume)
        with self._lock:
            for _ in range(_ATTEMPTS):
                target = self._ensure_target(iqn)
                self._ensure_account(target, volume)
                lun = target.lun_of(path)
                if lun is None:
                    lun = self._pick_lun(target, volume)
                    try:
                        self._tgt.new_lun(target.tid, lun, path)
                    except TgtError as exc:
                        if exc.err in (TgtErr.LUN_EXIST, TgtErr.NO_TARGET):
                            # another process took it, or removed the target: look again
                            _pause()
                            continue
                        raise
                    log.info("exported volume %s as %s LUN %d", volume.id, iqn, lun)
                volume.extra["target_iqn"] = iqn
                volume.extra["target_lun"] = lun
                return
        raise BackendError(f"could not export volume {volume.id}: tgtd kept changing under us")

    def remove_export(self, volume: VolumeRecord) -> None:
        """Delete the volume's LUN (and its target, in the target-per-volume mode). Idempotent."""
        name = self._name(volume)
        path = str(self._files.path_of(name))
        iqn = self._iqn(volume)
        with self._lock:
            target = self._find_target(iqn)
            if target is None:
                return
            lun = target.lun_of(path)
            if lun is not None:
                self._ignore(self._tgt.delete_lun, target.tid, lun, ok=(TgtErr.NO_LUN,))
                log.info("removed the export of volume %s (%s LUN %d)", volume.id, iqn, lun)
            others = [n for n in target.luns if n not in (0, lun)]
            if not self.config.shared_targets and not others:
                # The target held only this volume; what sessions remain have no LUN to use.
                self._ignore(self._tgt.delete_target, target.tid, force=True,
                             ok=(TgtErr.NO_TARGET,))
        volume.extra.pop("target_lun", None)
        volume.extra.pop("target_iqn", None)

    def initialize_connection(
        self, volume: VolumeRecord, connector: dict[str, Any], *, access_mode: str
    ) -> dict[str, Any]:
        """Bind the connector's initiator to the volume's target; os-brick's iscsi conn_info.

        ``connector["initiator"]`` is required. With ``connector["multipath"]``
        every configured portal is listed (``target_portals`` and friends).
        The LUN is exported first if it is not (a rebuild the Backend missed).
        """
        if access_mode not in ("rw", "ro"):
            raise InvalidParameter("access_mode", "must be 'rw' or 'ro'")
        iqn, lun = self._let_in(volume, _initiator(connector))
        chap = self._auth_of(volume) if self.config.use_chap_auth else None
        portals = self.config.portals(bool(connector.get("multipath")))
        return iscsi_conn_info(
            [(portal, iqn, lun) for portal in portals],
            volume_id=volume.id,
            access_mode="ro" if access_mode == "ro" else "rw",
            chap=chap,
        )

    def terminate_connection(
        self, volume: VolumeRecord, connector: dict[str, Any], *, initiator_done: bool
    ) -> None:
        """With ``initiator_done``, remove the initiator's ACL from the target. Idempotent.

        A connector without a valid initiator name never had an ACL (its
        ``initialize_connection`` was refused), so there is nothing to undo.
        """
        if not initiator_done:
            return
        try:
            initiator = _initiator(connector)
        except InvalidParameter:
            return
        iqn = self._iqn(volume)
        with self._lock:
            target = self._find_target(iqn)
            if target is None or initiator not in target.acl_names:
                return
            self._ignore(self._tgt.unbind_initiator, target.tid, initiator,
                         ok=(TgtErr.ACL_NOEXIST, TgtErr.NO_TARGET))

    def ensure_exports(self, exported: list[VolumeRecord], initiators: dict[str, list[str]]) -> None:
        """Rebuild targets, LUNs (with their recorded numbers), accounts and ACLs.

        Every volume is tried; BackendError at the end names the ones that failed.
        """
        for volume in exported:
            self._learn(volume)
        failed: list[str] = []
        for volume in exported:
            try:
                self.create_export(volume)
                for initiator in initiators.get(volume.id, []):
                    self._let_in(volume, check_initiator_name(initiator, "initiators"))
            except (BackendError, InvalidParameter) as exc:
                log.error("could not rebuild the export of volume %s: %s", volume.id, exc)
                failed.append(volume.id)
        if failed:
            raise BackendError(f"could not rebuild the exports of volumes {', '.join(failed)}")

    def missing_exports(self, exported: list[VolumeRecord]) -> list[str]:
        """The ids of ``exported`` volumes whose LUN tgtd lacks (it restarted): one show.

        A Backend calls ``ensure_exports`` when this is not empty; with tgtd
        down every volume is missing.
        """
        try:
            targets = {t.iqn: t for t in self._tgt.show_targets()}
        except TgtUnavailable:
            return [volume.id for volume in exported]
        missing = []
        for volume in exported:
            target = targets.get(self._iqn(volume))
            path = str(self._files.path_of(self._name(volume)))
            if target is None or target.lun_of(path) is None:
                missing.append(volume.id)
        return missing

    # -- helpers -----------------------------------------------------------------------------

    def _let_in(self, volume: VolumeRecord, initiator: str) -> tuple[str, int]:
        """Bind ``initiator`` to the volume's target (exporting first if needed); (iqn, lun)."""
        path = str(self._files.path_of(self._name(volume)))
        iqn = self._iqn(volume)
        with self._lock:
            target = self._find_target(iqn)
            if target is None or target.lun_of(path) is None:
                self.create_export(volume)
                target = self._find_target(iqn)
            lun = target.lun_of(path) if target is not None else None
            if target is None or lun is None:
                raise BackendError(f"volume {volume.id} is not exported by tgtd")
            if initiator not in target.acl_names:
                self._ignore(self._tgt.bind_initiator, target.tid, initiator,
                             ok=(TgtErr.ACL_EXIST,))
        return iqn, lun

    def _name(self, volume: VolumeRecord) -> str:
        return f"volume-{check_volume_id(volume.id, 'volume.id')}"

    @staticmethod
    def _check_format(volume: VolumeRecord) -> None:
        if volume.format != "raw":
            raise InvalidParameter("format", "iscsi volumes are raw files")

    def _iqn(self, volume: VolumeRecord) -> str:
        if self.config.shared_targets:
            return f"{self.config.target_prefix}{self.backend_slug}"
        return f"{self.config.target_prefix}volume-{slug(check_volume_id(volume.id, 'volume.id'))}"

    def _find_target(self, iqn: str) -> TgtTarget | None:
        return self._tgt.target_by_name(iqn)

    def _ensure_target(self, iqn: str) -> TgtTarget:
        """The target named ``iqn``, created with the next free tid if tgtd lacks it."""
        for _ in range(_ATTEMPTS):
            targets = self._tgt.show_targets()
            found = next((t for t in targets if t.iqn == iqn), None)
            if found is not None:
                return found
            tid = max((t.tid for t in targets), default=0) + 1
            try:
                self._tgt.new_target(tid, iqn)
            except TgtError as exc:
                if exc.err == TgtErr.TARGET_EXIST:
                    _pause()  # the tid (or the name) was taken meanwhile: look again
                    continue
                raise
            log.info("created target %s (tid %d)", iqn, tid)
            return TgtTarget(tid, iqn)
        raise BackendError(f"could not create target {iqn}: tgtd kept changing under us")

    def _pick_lun(self, target: TgtTarget, volume: VolumeRecord) -> int:
        if not self.config.shared_targets:
            return 1
        wanted = volume.extra.get("target_lun")
        if (isinstance(wanted, int) and not isinstance(wanted, bool) and 1 <= wanted <= 16383
                and wanted not in target.luns):
            return wanted  # the number the volume's hosts know (a rebuild)
        lun = 1
        while lun in target.luns:
            lun += 1
        return lun

    # -- CHAP --------------------------------------------------------------------------

    def _give_auth(self, volume: VolumeRecord) -> None:
        """With CHAP on: learn the backend's account from ``volume``, or give it the account."""
        if not self.config.use_chap_auth:
            return
        if volume.provider_auth:
            self._learn(volume)
            return
        with self._lock:
            if self._chap is None:
                user = f"{self.backend_slug[:40]}-{secrets.token_hex(4)}"
                password = "".join(
                    secrets.choice(_PASSWORD_ALPHABET) for _ in range(_PASSWORD_LENGTH)
                )
                self._chap = (user, password)
            user, password = self._chap
        volume.provider_auth = f"CHAP {user} {password}"

    def _learn(self, volume: VolumeRecord) -> None:
        if self.config.use_chap_auth and volume.provider_auth and self._chap is None:
            with self._lock:
                if self._chap is None:
                    self._chap = parse_provider_auth(volume.provider_auth, volume.id)

    def _auth_of(self, volume: VolumeRecord) -> tuple[str, str] | None:
        if not volume.provider_auth:
            return None
        return parse_provider_auth(volume.provider_auth, volume.id)

    def _ensure_account(self, target: TgtTarget, volume: VolumeRecord) -> None:
        if not self.config.use_chap_auth:
            return
        chap = self._auth_of(volume)
        if chap is None:
            return
        user, password = chap
        self._ignore(self._tgt.new_account, user, password, ok=(TgtErr.USER_EXIST,))
        if user not in target.accounts:
            self._ignore(self._tgt.bind_account, target.tid, user, ok=(TgtErr.USER_EXIST,))
            target.accounts.append(user)

    @staticmethod
    def _ignore(call: Any, *args: Any, ok: Iterable[TgtErr], **kwargs: Any) -> None:
        """``call(*args)``, where tgtd answering one of ``ok`` means "already so"."""
        try:
            call(*args, **kwargs)
        except TgtError as exc:
            if exc.err not in tuple(ok):
                raise


def parse_provider_auth(text: str, volume_id: str = "") -> tuple[str, str]:
    """``"CHAP <user> <password>"`` → (user, password); BackendError (never quoting it) otherwise."""
    parts = text.split()
    if len(parts) != 3 or parts[0].upper() != "CHAP":
        raise BackendError(f"provider_auth of volume {volume_id} is not 'CHAP <user> <password>'")
    return parts[1], parts[2]


def _pause() -> None:
    time.sleep(_BACKOFF * (1 + secrets.randbelow(8)))


def _snapshot_name(snapshot: SnapshotRecord) -> str:
    return snapshot.provider_location or f"snapshot-{check_volume_id(snapshot.id, 'snapshot.id')}"


def _initiator(connector: Mapping[str, Any]) -> str:
    if not isinstance(connector, Mapping):
        raise InvalidParameter("connector_info", "must be an object")
    value = connector.get("initiator")
    if value in (None, ""):
        raise InvalidParameter(
            "connector_info.initiator", "field required: the host's iSCSI initiator name"
        )
    return check_initiator_name(value, "connector_info.initiator")
