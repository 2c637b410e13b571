"""Direct LUN disks and the VMs that use them.

A VM is storconn's stand-in for oVirt's: a status, the host it runs on
while Up, and disk attachments. What matters to storage is item 12 of
issue 9: a VM Up on a host makes that host hold its plugged LUN disks'
connections (``engine:disk:<disk>:<connection>:<revision>``), and they are
released when it goes down or the disk is unplugged.
"""

from __future__ import annotations

import uuid

from storconn.engine import rules
from storconn.engine.db import Repository
from storconn.engine.errors import Conflict
from storconn.engine.model import (
    ConnectionFields,
    Host,
    HostStatus,
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

    def disk_connections(self, disk_id: str) -> list[StorageConnection]:
        """The connections a direct LUN disk is reached through (``/disks/{id}/storageconnections``)."""
        with self._tx(write=False) as repo:
            disk = found(repo.disk(disk_id), "disk", disk_id)
            by_id = repo.connections_by_id(disk.connection_ids)
            return [by_id[cid] for cid in disk.connection_ids if cid in by_id]

    @command(Action.EDIT_VM)
    def set_vm_status(self, vm_id: str, status: VmStatus, *, host: str | None = None) -> Vm:
        """Start (Up) or stop (Down) a VM; an Up VM runs on ``host`` (id or name).

        Without ``host``, a VM that is already Up stays where it is, and one
        that starts runs on the first Up host, as oVirt's scheduler would
        pick one; with no Up host at all it is Up on none and holds nothing
        (storconn's VMs are a stand-in: nothing really runs).
        """
        status = VmStatus(status)
        vm = self.get_vm(vm_id)
        target = self._vm_host(vm, host) if status is VmStatus.UP else None
        # Starting a VM takes its disks' locks: an iSCSI edit holding them excludes it.
        disk_keys = [keys.disk_key(att.disk_id) for att in vm.disk_attachments if att.plugged]
        with self.locks.hold([f"vm:{vm_id}", *disk_keys], action=Action.EDIT_VM):
            with self._tx() as repo:
                repo.set_vm_status(vm_id, status, host_id=target)
                hosts = self._changed_disk_hosts(repo, repo.refresh_disk_references())
                updated = found(repo.vm(vm_id), "VM", vm_id)
            # After the commit: a slow host never holds the database.
            self._sync(hosts)
        return updated

    def _vm_host(self, vm: Vm, host: str | None) -> str | None:
        """The id of the host an Up VM runs on: the one named (it must be Up), else where it is, else the first Up."""
        if host is not None:
            chosen = self._host(host)
            if chosen.status is not HostStatus.UP:
                raise Conflict(
                    "ACTION_TYPE_FAILED_VDS_STATUS_ILLEGAL",
                    "Operation can be performed only when Host status is Up "
                    f"(host {chosen.name} is {chosen.status.value}).",
                    action=Action.RUN_VM,
                )
            return chosen.id
        if vm.status is VmStatus.UP and vm.host_id is not None:
            return vm.host_id
        with self._tx(write=False) as repo:
            up = [h for h in repo.hosts() if h.status is HostStatus.UP]
        return up[0].id if up else None

    @staticmethod
    def _changed_disk_hosts(repo: Repository, host_ids: set[str]) -> list[Host]:
        """The hosts (with their tokens, for the agent) whose disk references changed and that are Up."""
        hosts = [repo.host(host_id, secrets=True) for host_id in sorted(host_ids)]
        return [host for host in hosts if host is not None and host.status is HostStatus.UP]

    @command(Action.ATTACH_DISK)
    def attach_disk(self, vm_id: str, disk_id: str, *, plugged: bool = True) -> Vm:
        """Attach (or plug, unplug) a disk; a running VM's host gets or releases its connections."""
        lock_keys = [f"vm:{vm_id}", keys.disk_key(disk_id)]
        with self.locks.hold(lock_keys, action=Action.ATTACH_DISK):
            with self._tx() as repo:
                found(repo.vm(vm_id), "VM", vm_id)
                found(repo.disk(disk_id), "disk", disk_id)
                repo.attach_disk(vm_id, disk_id, plugged=plugged)
                hosts = self._changed_disk_hosts(repo, repo.refresh_disk_references())
                updated = found(repo.vm(vm_id), "VM", vm_id)
            self._sync(hosts)
        return updated
