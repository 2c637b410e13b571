"""Direct LUN disks and the VMs that use them."""

from __future__ import annotations

import uuid

from storconn.engine import rules
from storconn.engine.model import (
    ConnectionFields,
    LunDisk,
    StorageConnection,
    StorageType,
    Vm,
    VmStatus,
)
from storconn.engine.rules import Action
from storconn.engine.rules import locks as keys
from storconn.engine.service.base import EngineBase, command, found


class DiskCommands(EngineBase):
    def list_disks(self) -> list[LunDisk]:
        with self._tx(write=False) as repo:
            return repo.disks()

    def get_disk(self, disk_id: str) -> LunDisk:
        with self._tx(write=False) as repo:
            return found(repo.disk(disk_id), "disk", disk_id)

    @command(Action.ADD_DISK)
    def add_lun_disk(
        self, name: str, *, lun_id: str, connections: list[ConnectionFields]
    ) -> LunDisk:
        rules.check_lun_disk(name, lun_id, connections)
        wanted: list[StorageConnection] = []
        for fields in connections:
            fields = rules.clean_fields(fields)
            fields.type = fields.type or StorageType.ISCSI  # the port defaults to 3260
            wanted.append(self._checked(fields, entity="Disk", required=("address", "target")))
        lock_keys = [key for conn in wanted for key in keys.add_connection_keys(conn)]
        disk = LunDisk(id=str(uuid.uuid4()), name=name, lun_id=lun_id)
        with self.locks.hold(lock_keys, action=Action.ADD_DISK), self._tx() as repo:
            for conn in wanted:
                # A disk reuses the connection to its target when there is one.
                found = rules.find_duplicate(conn, repo.candidates(conn))
                if found is None:
                    repo.save_connection(conn)
                chosen = found.connection.id if found is not None else conn.id
                if chosen not in disk.connection_ids:
                    disk.connection_ids.append(chosen)
            repo.add_disk(disk)
        return disk

    @command(Action.REMOVE_DISK)
    def remove_disk(self, disk_id: str) -> None:
        with (
            self.locks.hold([keys.disk_key(disk_id)], action=Action.REMOVE_DISK),
            self._tx() as repo,
        ):
            disk = found(repo.disk(disk_id), "disk", disk_id)
            rules.check_disk_removable(disk, repo.vms(disk_ids=[disk.id]))
            repo.delete_disk(disk.id)
            # As oVirt's removeLun: the disk's connections go unless a domain or another disk uses them.
            self._drop_unused(repo, disk.connection_ids)

    def list_vms(self) -> list[Vm]:
        with self._tx(write=False) as repo:
            return repo.vms()

    def get_vm(self, vm_id: str) -> Vm:
        with self._tx(write=False) as repo:
            return found(repo.vm(vm_id), "VM", vm_id)

    @command(Action.ADD_VM)
    def add_vm(self, name: str, *, status: VmStatus = VmStatus.DOWN) -> Vm:
        rules.check_name(name, entity="VM")
        vm = Vm(id=str(uuid.uuid4()), name=name, status=VmStatus(status))
        with self._tx() as repo:
            rules.check_name_free(name, repo.vm_name_taken(name), entity="VM")
            repo.add_vm(vm)
        return vm

    @command(Action.EDIT_VM)
    def set_vm_status(self, vm_id: str, status: VmStatus) -> Vm:
        vm = self.get_vm(vm_id)
        # Starting a VM takes its disks' locks: an iSCSI edit holding them excludes it.
        disk_keys = [keys.disk_key(att.disk_id) for att in vm.disk_attachments if att.plugged]
        with (
            self.locks.hold([f"vm:{vm_id}", *disk_keys], action=Action.EDIT_VM),
            self._tx() as repo,
        ):
            repo.set_vm_status(vm_id, VmStatus(status))
            return found(repo.vm(vm_id), "VM", vm_id)

    @command(Action.ATTACH_DISK)
    def attach_disk(self, vm_id: str, disk_id: str, *, plugged: bool = True) -> Vm:
        lock_keys = [f"vm:{vm_id}", keys.disk_key(disk_id)]
        with self.locks.hold(lock_keys, action=Action.ATTACH_DISK), self._tx() as repo:
            found(repo.vm(vm_id), "VM", vm_id)
            found(repo.disk(disk_id), "disk", disk_id)
            repo.attach_disk(vm_id, disk_id, plugged=plugged)
            return found(repo.vm(vm_id), "VM", vm_id)
