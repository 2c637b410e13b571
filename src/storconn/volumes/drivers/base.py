"""The driver contract: what a ``volume_driver`` does to the storage, and nothing else.

The Backend owns the lifecycle rules (when to export, when to remove an
export, which connection is an initiator's last) and the persistence; a
driver only performs the storage actions it is told to, each idempotent so
that a retry after a crash is safe. Drivers never touch the persistence:
what they must remember goes into ``VolumeRecord.provider_location`` /
``extra`` / ``provider_auth``, which the Backend stores.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..records import SnapshotRecord, VolumeRecord

__all__ = ["Driver"]


class Driver(Protocol):
    """One storage back end (``volume_driver="file"`` or ``"iscsi"``)."""

    protocol: str
    """The conn_info ``driver_volume_type`` this driver hands out."""

    acl_scope: str
    """What one ACL entry lets an initiator reach: ``"backend"`` (one shared
    target), ``"volume"`` (a target per volume) or ``"none"`` (no ACLs)."""

    def do_setup(self) -> None:
        """Reach the storage (mount the share through the local agent, check tgtd)."""

    def stats(self) -> dict[str, Any]:
        """Cinder-style capacity stats: ``total_capacity_gb``, ``free_capacity_gb``, ..."""

    def create_volume(self, volume: VolumeRecord) -> None:
        """Create empty storage of ``volume.size`` GiB; sets provider_location. Idempotent."""

    def create_cloned_volume(self, volume: VolumeRecord, source: VolumeRecord) -> None:
        """Create ``volume`` as a copy of ``source`` (reflink where possible)."""

    def create_volume_from_snapshot(self, volume: VolumeRecord, snapshot: SnapshotRecord) -> None:
        """Create ``volume`` from ``snapshot`` (reflink where possible)."""

    def delete_volume(self, volume: VolumeRecord) -> None:
        """Remove the storage; a volume already gone is not an error."""

    def extend_volume(self, volume: VolumeRecord, new_size: int) -> None:
        """Grow to ``new_size`` GiB (> volume.size); an export's LUN size follows."""

    def create_snapshot(self, snapshot: SnapshotRecord, volume: VolumeRecord) -> None:
        """A point-in-time copy of ``volume``; sets snapshot.provider_location."""

    def delete_snapshot(self, snapshot: SnapshotRecord) -> None:
        """Remove the snapshot; one already gone is not an error."""

    def create_export(self, volume: VolumeRecord) -> None:
        """Make the volume reachable (a LUN on a target). Idempotent; may update ``extra``."""

    def remove_export(self, volume: VolumeRecord) -> None:
        """Undo ``create_export``. Idempotent. Called only with the volume's last connection."""

    def initialize_connection(
        self, volume: VolumeRecord, connector: dict[str, Any], *, access_mode: str
    ) -> dict[str, Any]:
        """Let ``connector``'s host in (bind its initiator) and return os-brick's conn_info."""

    def terminate_connection(
        self, volume: VolumeRecord, connector: dict[str, Any], *, initiator_done: bool
    ) -> None:
        """Undo ``initialize_connection``; ``initiator_done``: that host's last connection
        to what the ACL covers (the target), so its ACL goes."""

    def ensure_exports(self, exported: list[VolumeRecord], initiators: dict[str, list[str]]) -> None:
        """Rebuild exports and ACLs the storage lost (tgtd restarted).

        ``exported`` are the volumes with connections; ``initiators`` maps a
        volume id to the initiator names connected to it.
        """

    def close(self) -> None:
        """Forget the storage for this process; the share stays held for the next one."""

    def destroy(self) -> None:
        """``Backend.destroy()``: also release the controller's reference on the share."""
