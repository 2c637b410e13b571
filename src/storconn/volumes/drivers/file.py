"""``volume_driver="file"``: volumes are files on a share that every host mounts through its agent.

There is nothing to export: a host reaches a volume by mounting the share,
which its agent does once for all the volumes on it. ``conn_info`` is
os-brick's remotefs shape plus the share's full ConnectionInfo.
"""

from __future__ import annotations

from typing import Any

from storconn.agent.client import AgentClient
from storconn.connection import ConnectionInfo, InvalidParameter
from storconn.connection.volume_shapes import file_conn_info, volume_file_name

from ..records import SnapshotRecord, VolumeRecord
from .files import GIB, FileStore

__all__ = ["FileDriver"]


def snapshot_file_name(snapshot_id: str) -> str:
    return f"snapshot-{snapshot_id}"


class FileDriver:
    acl_scope: str = "none"

    def __init__(
        self,
        backend_name: str,
        share: ConnectionInfo,
        agent: AgentClient,
        *,
        volume_format: str = "raw",
    ) -> None:
        if share.type not in ("nfs", "glusterfs", "posixfs", "localfs"):
            raise InvalidParameter("share", f"a {share.type} connection cannot hold volume files")
        if volume_format not in ("raw", "qcow2"):
            raise InvalidParameter("volume_format", "must be 'raw' or 'qcow2'")
        self.protocol: str = share.type
        self.share = share
        self.volume_format = volume_format
        self.store = FileStore(share, agent, f"volumes-backend:{backend_name}")

    def do_setup(self) -> None:
        self.store.do_setup()

    def stats(self) -> dict[str, Any]:
        return {
            "driver_version": "1.0",
            "storage_protocol": self.protocol,
            "vendor_name": "storconn",
            "thin_provisioning_support": True,
            "multiattach": True,
            **self.store.stats(),
        }

    def create_volume(self, volume: VolumeRecord) -> None:
        volume.provider_location = volume_file_name(volume.id)
        volume.format = volume.format or self.volume_format
        self.store.create(volume.provider_location, volume.size, volume.format)

    def create_cloned_volume(self, volume: VolumeRecord, source: VolumeRecord) -> None:
        volume.provider_location = volume_file_name(volume.id)
        volume.format = source.format
        volume.extra["copy"] = self.store.clone(_location(source), volume.provider_location)
        self._grow_to(volume)

    def create_volume_from_snapshot(self, volume: VolumeRecord, snapshot: SnapshotRecord) -> None:
        volume.provider_location = volume_file_name(volume.id)
        assert snapshot.provider_location is not None
        volume.extra["copy"] = self.store.clone(snapshot.provider_location, volume.provider_location)
        self._grow_to(volume)

    def delete_volume(self, volume: VolumeRecord) -> None:
        self.store.delete(_location(volume))

    def extend_volume(self, volume: VolumeRecord, new_size: int) -> None:
        self.store.extend(_location(volume), new_size, volume.format)

    def create_snapshot(self, snapshot: SnapshotRecord, volume: VolumeRecord) -> None:
        snapshot.provider_location = snapshot_file_name(snapshot.id)
        self.store.clone(_location(volume), snapshot.provider_location)

    def delete_snapshot(self, snapshot: SnapshotRecord) -> None:
        if snapshot.provider_location:
            self.store.delete(snapshot.provider_location)

    def create_export(self, volume: VolumeRecord) -> None:
        """Nothing to do: the share is the export."""

    def remove_export(self, volume: VolumeRecord) -> None:
        """Nothing to do: the share stays for the other volumes."""

    def initialize_connection(
        self, volume: VolumeRecord, connector: dict[str, Any], *, access_mode: str
    ) -> dict[str, Any]:
        return file_conn_info(
            self.share,
            volume_id=volume.id,
            name=_location(volume),
            volume_format=volume.format,
            access_mode="ro" if access_mode == "ro" else "rw",
        )

    def terminate_connection(
        self, volume: VolumeRecord, connector: dict[str, Any], *, initiator_done: bool
    ) -> None:
        """Nothing to do: hosts need no permission beyond mounting the share."""

    def ensure_exports(self, exported: list[VolumeRecord], initiators: dict[str, list[str]]) -> None:
        """Nothing is exported, so nothing can be lost."""

    def close(self) -> None:
        self.store.close()

    def destroy(self) -> None:
        self.store.close(release=True)

    def _grow_to(self, volume: VolumeRecord) -> None:
        location = _location(volume)
        if self.store.size_of(location) < volume.size * GIB:
            self.store.extend(location, volume.size, volume.format)


def _location(volume: VolumeRecord) -> str:
    return volume.provider_location or volume_file_name(volume.id)
