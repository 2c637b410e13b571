"""Direct LUN disks and the VMs that use them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select, update

from storconn.engine.model import (
    DiskAttachment,
    LunDisk,
    Vm,
    VmStatus,
)

from ..schema import (
    DiskAttachmentRow,
    LunDiskConnectionRow,
    LunDiskRow,
    VmRow,
)

from .base import RepositoryBase


class DiskRows(RepositoryBase):
    # -- LUN disks and VMs ---------------------------------------------------------

    def disks(self) -> list[LunDisk]:
        rows = list(
            self.session.scalars(select(LunDiskRow).order_by(LunDiskRow.created_at, LunDiskRow.id))
        )
        return self._disks(rows)

    def disk(self, disk_id: str) -> LunDisk | None:
        row = self.session.get(LunDiskRow, disk_id)
        return self._disks([row])[0] if row else None

    def disks_using(self, connection_id: str) -> list[LunDisk]:
        rows = self.session.scalars(
            select(LunDiskRow)
            .join(LunDiskConnectionRow, LunDiskConnectionRow.disk_id == LunDiskRow.id)
            .where(LunDiskConnectionRow.connection_id == connection_id)
            .order_by(LunDiskRow.created_at, LunDiskRow.id)
        )
        return self._disks(list(rows))

    def add_disk(self, disk: LunDisk) -> None:
        self.session.add(LunDiskRow(id=disk.id, name=disk.name, lun_id=disk.lun_id))
        self.session.flush()
        for connection_id in disk.connection_ids:
            self.session.add(LunDiskConnectionRow(disk_id=disk.id, connection_id=connection_id))
        self.session.flush()

    def delete_disk(self, disk_id: str) -> None:
        self.session.execute(delete(DiskAttachmentRow).where(DiskAttachmentRow.disk_id == disk_id))
        self.session.execute(
            delete(LunDiskConnectionRow).where(LunDiskConnectionRow.disk_id == disk_id)
        )
        self.session.execute(delete(LunDiskRow).where(LunDiskRow.id == disk_id))
        self.session.flush()

    def _disks(self, rows: Sequence[LunDiskRow]) -> list[LunDisk]:
        mapping = self._connection_ids(
            LunDiskConnectionRow.disk_id, LunDiskConnectionRow.connection_id, rows
        )
        return [
            LunDisk(id=row.id, name=row.name, lun_id=row.lun_id, connection_ids=mapping[row.id])
            for row in rows
        ]

    def vms(self, *, disk_ids: Iterable[str] | None = None) -> list[Vm]:
        """All VMs, or those with any of ``disk_ids`` attached."""
        query = select(VmRow).order_by(VmRow.created_at, VmRow.id)
        if disk_ids is not None:
            wanted = list(set(disk_ids))
            if not wanted:
                return []
            query = query.where(
                VmRow.id.in_(
                    select(DiskAttachmentRow.vm_id).where(DiskAttachmentRow.disk_id.in_(wanted))
                )
            )
        return self._vms(list(self.session.scalars(query)))

    def vm(self, vm_id: str) -> Vm | None:
        row = self.session.get(VmRow, vm_id)
        return self._vms([row])[0] if row else None

    def vm_name_taken(self, name: str) -> bool:
        return self.session.scalar(select(VmRow.id).where(VmRow.name == name)) is not None

    def add_vm(self, vm: Vm) -> None:
        self.session.add(
            VmRow(id=vm.id, name=vm.name, status=str(vm.status), host_id=vm.host_id)
        )
        self.session.flush()

    def set_vm_status(self, vm_id: str, status: VmStatus, *, host_id: str | None = None) -> None:
        """The VM's status and the host it runs on (None when it is down)."""
        self.session.execute(
            update(VmRow).where(VmRow.id == vm_id).values(status=str(status), host_id=host_id)
        )

    def clear_vm_host(self, host_id: str) -> None:
        """A host leaves the engine: no VM runs on it any more as far as the engine knows."""
        self.session.execute(update(VmRow).where(VmRow.host_id == host_id).values(host_id=None))

    def attach_disk(self, vm_id: str, disk_id: str, *, plugged: bool) -> None:
        row = self.session.get(DiskAttachmentRow, (vm_id, disk_id))
        if row is None:
            self.session.add(DiskAttachmentRow(vm_id=vm_id, disk_id=disk_id, plugged=plugged))
        else:
            row.plugged = plugged
        self.session.flush()

    def _vms(self, rows: Sequence[VmRow]) -> list[Vm]:
        ids = [row.id for row in rows]
        mapping: dict[str, list[DiskAttachment]] = {vm_id: [] for vm_id in ids}
        if ids:
            for att in self.session.scalars(
                select(DiskAttachmentRow)
                .where(DiskAttachmentRow.vm_id.in_(ids))
                .order_by(DiskAttachmentRow.disk_id)
            ):
                mapping[att.vm_id].append(DiskAttachment(disk_id=att.disk_id, plugged=att.plugged))
        return [
            Vm(
                id=row.id,
                name=row.name,
                status=VmStatus(row.status),
                disk_attachments=mapping[row.id],
                host_id=row.host_id,
            )
            for row in rows
        ]
