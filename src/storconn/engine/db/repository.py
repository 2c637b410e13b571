"""The repository: the engine's entities in and out of the database, inside one transaction.

Each method reads or writes rows through the session it was given and
speaks the entities of ``storconn.engine.model``; nothing here decides
whether a change is allowed (``storconn.engine.rules`` does). Secrets are
encrypted on the way in and decrypted on the way out only when the caller
asks for them (``secrets=True``): what leaves for the API carries none.

Thread-safety: a Repository lives inside one transaction of one thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from storconn.connection import ConnectionInfo, InvalidParameter
from storconn.engine.model import (
    TYPE_CODES,
    DataCenter,
    DiskAttachment,
    DomainStatus,
    Host,
    HostStatus,
    LunDisk,
    Role,
    StorageConnection,
    StorageDomain,
    StorageType,
    User,
    Vm,
    VmStatus,
)
from storconn.engine.rules.duplicates import Candidate, duplicate_scope
from storconn.engine.rules.fields import mount_fields
from storconn.engine.rules.infos import identity_hash, identity_key, to_info
from storconn.engine.rules.references import DesiredRef, desired_refs
from storconn.engine.secrets import SecretBox

from .schema import (
    Base,
    ConnectionRow,
    DataCenterRow,
    DiskAttachmentRow,
    DomainConnectionRow,
    DomainRow,
    FlowRow,
    HostRow,
    LunDiskConnectionRow,
    LunDiskRow,
    ReferenceRow,
    UserRow,
    VmRow,
    utcnow,
)

__all__ = ["Repository"]

log = logging.getLogger(__name__)


class Repository:
    def __init__(self, session: Session, box: SecretBox) -> None:
        self.session = session
        self._box = box

    # -- users ------------------------------------------------------------

    def count_users(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(UserRow)) or 0)

    def user(self, name: str) -> tuple[User, str] | None:
        """The user and its password hash, or None."""
        row = self.session.scalar(select(UserRow).where(UserRow.name == name))
        return (User(name=row.name, role=Role(row.role)), row.password_hash) if row else None

    def add_user(self, user_id: str, user: User, password_hash: str) -> None:
        self.session.add(
            UserRow(id=user_id, name=user.name, role=str(user.role), password_hash=password_hash)
        )
        self.session.flush()

    # -- data centers -------------------------------------------------------

    def data_centers(self) -> list[DataCenter]:
        rows = self.session.scalars(
            select(DataCenterRow).order_by(DataCenterRow.created_at, DataCenterRow.id)
        )
        return [_data_center(row) for row in rows]

    def data_center(self, dc_id: str) -> DataCenter | None:
        row = self.session.get(DataCenterRow, dc_id)
        return _data_center(row) if row else None

    def add_data_center(self, dc: DataCenter) -> None:
        self.session.add(
            DataCenterRow(id=dc.id, name=dc.name, description=dc.description, local=dc.local)
        )
        self.session.flush()

    # -- hosts --------------------------------------------------------------

    def hosts(self, *, data_center_id: str | None = None, secrets: bool = False) -> list[Host]:
        query = select(HostRow).order_by(HostRow.created_at, HostRow.id)
        if data_center_id is not None:
            query = query.where(HostRow.data_center_id == data_center_id)
        return [self._host(row, secrets) for row in self.session.scalars(query)]

    def host(self, id_or_name: str, *, secrets: bool = False) -> Host | None:
        row = self.session.get(HostRow, id_or_name) or self.session.scalar(
            select(HostRow).where(HostRow.name == id_or_name)
        )
        return self._host(row, secrets) if row else None

    def add_host(self, host: Host) -> None:
        self.session.add(
            HostRow(
                id=host.id,
                name=host.name,
                address=host.address,
                port=host.port,
                token_encrypted=self._box.encrypt(host.token),
                data_center_id=host.data_center_id,
                status=str(host.status),
            )
        )
        self.session.flush()

    def set_host_status(self, host_id: str, status: HostStatus) -> None:
        self.session.execute(
            update(HostRow).where(HostRow.id == host_id).values(status=str(status))
        )

    def remove_host(self, host_id: str) -> None:
        self.session.execute(delete(ReferenceRow).where(ReferenceRow.host_id == host_id))
        self.session.execute(delete(FlowRow).where(FlowRow.host_id == host_id))
        self.session.execute(delete(HostRow).where(HostRow.id == host_id))

    def _host(self, row: HostRow, secrets: bool) -> Host:
        return Host(
            id=row.id,
            name=row.name,
            address=row.address,
            port=row.port,
            token=self._box.decrypt(row.token_encrypted) if secrets else None,
            data_center_id=row.data_center_id,
            status=HostStatus(row.status),
        )

    # -- storage connections -------------------------------------------------

    def connections(
        self, *, max: int | None = None, secrets: bool = False
    ) -> list[StorageConnection]:
        if not secrets:
            return self._listed_connections(max)
        query = select(ConnectionRow).order_by(ConnectionRow.created_at, ConnectionRow.id)
        if max is not None:
            query = query.limit(max)
        return [self._connection(row, secrets) for row in self.session.scalars(query)]

    def _listed_connections(self, max: int | None) -> list[StorageConnection]:
        """The list without secrets, from plain column tuples.

        Loading 10,000 ORM objects (identity map, attribute instrumentation)
        costs five times the query itself; a list answer needs neither.
        """
        c = ConnectionRow
        query = select(
            c.id, c.type, c.connection, c.port, c.iqn, c.portal, c.username, c.vfs_type,
            c.mount_options, c.nfs_version, c.nfs_timeo, c.nfs_retrans, c.gluster_volume, c.revision,
        ).order_by(c.created_at, c.id)
        if max is not None:
            query = query.limit(max)
        return [
            StorageConnection(
                id=r[0], type=StorageType(r[1]), connection=r[2], port=r[3], iqn=r[4],
                portal=r[5], username=r[6], vfs_type=r[7], mount_options=r[8],
                nfs_version=r[9], nfs_timeo=r[10], nfs_retrans=r[11], gluster_volume=r[12],
                revision=r[13],
            )
            for r in map(tuple, self.session.execute(query))
        ]

    def connection(self, connection_id: str, *, secrets: bool = False) -> StorageConnection | None:
        row = self.session.get(ConnectionRow, connection_id)
        return self._connection(row, secrets) if row else None

    def connections_by_id(
        self, ids: Iterable[str], *, secrets: bool = False
    ) -> dict[str, StorageConnection]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        rows = self.session.scalars(select(ConnectionRow).where(ConnectionRow.id.in_(wanted)))
        return {row.id: self._connection(row, secrets) for row in rows}

    def connection_data_center(self, connection_id: str) -> str | None:
        row = self.session.get(ConnectionRow, connection_id)
        return row.data_center_id if row else None

    def candidates(self, conn: StorageConnection) -> list[Candidate]:
        """Stored connections with the same identity as ``conn``, with their data center and domains."""
        rows = list(
            self.session.scalars(
                select(ConnectionRow).where(
                    ConnectionRow.identity_hash == identity_hash(identity_key(conn))
                )
            )
        )
        return [
            Candidate(
                connection=self._connection(row, False),
                data_center_id=row.data_center_id,
                domains=tuple(self.domains_using(row.id)),
            )
            for row in rows
        ]

    def save_connection(
        self, conn: StorageConnection, *, data_center_id: str | None = None
    ) -> None:
        """Insert or update ``conn``, every column, the (encrypted) password too.

        Callers of an update pass the merged connection, which carries the
        stored password unless the client replaced or cleared it.
        """
        key = identity_key(conn)
        values = dict(
            type=str(conn.type),
            type_code=TYPE_CODES[conn.type],
            connection=conn.connection,
            port=conn.port,
            iqn=conn.iqn,
            portal=conn.portal,
            username=conn.username,
            password_encrypted=self._box.encrypt(conn.password),
            **mount_fields(conn),
            revision=conn.revision,
            identity_key=key,
            identity_hash=identity_hash(key),
            scope=duplicate_scope(conn, data_center_id),
            data_center_id=data_center_id,
        )
        self._upsert(ConnectionRow, conn.id, values)

    def set_connection_data_center(
        self, conn: StorageConnection, data_center_id: str | None
    ) -> None:
        """Local storage joins the data center of the domain using it (its duplicate scope changes)."""
        self.session.execute(
            update(ConnectionRow)
            .where(ConnectionRow.id == conn.id)
            .values(data_center_id=data_center_id, scope=duplicate_scope(conn, data_center_id))
        )
        self.session.flush()

    def delete_connection(self, connection_id: str) -> None:
        self.session.execute(delete(ConnectionRow).where(ConnectionRow.id == connection_id))
        self.session.flush()

    def _connection(self, row: ConnectionRow, secrets: bool) -> StorageConnection:
        return StorageConnection(
            id=row.id,
            type=StorageType(row.type),
            connection=row.connection,
            port=row.port,
            iqn=row.iqn,
            portal=row.portal,
            username=row.username,
            password=self._box.decrypt(row.password_encrypted) if secrets else None,
            **mount_fields(row),
            revision=row.revision,
        )

    # -- storage domains -----------------------------------------------------

    def domains(
        self, *, max: int | None = None, data_center_id: str | None = None
    ) -> list[StorageDomain]:
        query = select(DomainRow).order_by(DomainRow.created_at, DomainRow.id)
        if data_center_id is not None:
            query = query.where(DomainRow.data_center_id == data_center_id)
        if max is not None:
            query = query.limit(max)
        return self._domains(list(self.session.scalars(query)))

    def domain(self, domain_id: str) -> StorageDomain | None:
        row = self.session.get(DomainRow, domain_id)
        return self._domains([row])[0] if row else None

    def domain_by_name(self, name: str) -> StorageDomain | None:
        row = self.session.scalar(select(DomainRow).where(DomainRow.name == name))
        return self._domains([row])[0] if row else None

    def domains_using(self, connection_id: str) -> list[StorageDomain]:
        rows = self.session.scalars(
            select(DomainRow)
            .join(DomainConnectionRow, DomainConnectionRow.domain_id == DomainRow.id)
            .where(DomainConnectionRow.connection_id == connection_id)
            .order_by(DomainRow.created_at, DomainRow.id)
        )
        return self._domains(list(rows))

    def save_domain(self, domain: StorageDomain) -> None:
        """Insert or update the domain's own columns; its connections change with ``attach``/``detach``."""
        values = dict(
            name=domain.name,
            storage_type=str(domain.storage_type),
            domain_type=domain.domain_type,
            description=domain.description,
            data_center_id=domain.data_center_id,
            status=str(domain.status),
        )
        self._upsert(DomainRow, domain.id, values)

    def attach(self, domain_id: str, connection_id: str) -> None:
        self.session.add(DomainConnectionRow(domain_id=domain_id, connection_id=connection_id))
        self.session.flush()

    def detach(self, domain_id: str, connection_id: str) -> None:
        self.session.execute(
            delete(DomainConnectionRow).where(
                DomainConnectionRow.domain_id == domain_id,
                DomainConnectionRow.connection_id == connection_id,
            )
        )
        self.session.flush()

    def delete_domain(self, domain_id: str) -> None:
        self.session.execute(delete(ReferenceRow).where(ReferenceRow.domain_id == domain_id))
        self.session.execute(
            delete(DomainConnectionRow).where(DomainConnectionRow.domain_id == domain_id)
        )
        self.session.execute(delete(DomainRow).where(DomainRow.id == domain_id))
        self.session.flush()

    def _domains(self, rows: Sequence[DomainRow]) -> list[StorageDomain]:
        mapping = self._connection_ids(
            DomainConnectionRow.domain_id, DomainConnectionRow.connection_id, rows
        )
        return [
            StorageDomain(
                id=row.id,
                name=row.name,
                storage_type=StorageType(row.storage_type),
                domain_type=row.domain_type,
                description=row.description,
                data_center_id=row.data_center_id,
                status=DomainStatus(row.status),
                connection_ids=mapping[row.id],
            )
            for row in rows
        ]

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
        self.session.add(VmRow(id=vm.id, name=vm.name, status=str(vm.status)))
        self.session.flush()

    def set_vm_status(self, vm_id: str, status: VmStatus) -> None:
        self.session.execute(update(VmRow).where(VmRow.id == vm_id).values(status=str(status)))

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
            )
            for row in rows
        ]

    # -- what hosts should hold ----------------------------------------------------

    def references(self, host_id: str) -> list[DesiredRef]:
        rows = self.session.scalars(
            select(ReferenceRow)
            .where(ReferenceRow.host_id == host_id)
            .order_by(ReferenceRow.ref_id)
        )
        return [
            DesiredRef(row.host_id, row.ref_id, row.domain_id, row.connection_id, row.revision)
            for row in rows
        ]

    def replace_references(self, host_ids: Iterable[str], wanted: set[DesiredRef]) -> None:
        """Make the rows of ``host_ids`` exactly ``wanted`` (which must only name those hosts)."""
        ids = list(set(host_ids))
        if not ids:
            return
        current = {
            (row.host_id, row.ref_id): row
            for row in self.session.scalars(
                select(ReferenceRow).where(ReferenceRow.host_id.in_(ids))
            )
        }
        keep = {(ref.host_id, ref.ref_id) for ref in wanted}
        for key, row in current.items():
            if key not in keep:
                self.session.delete(row)
        for ref in wanted:
            if (ref.host_id, ref.ref_id) not in current:
                self.session.add(
                    ReferenceRow(
                        host_id=ref.host_id,
                        ref_id=ref.ref_id,
                        domain_id=ref.domain_id,
                        connection_id=ref.connection_id,
                        revision=ref.revision,
                    )
                )
        self.session.flush()

    def refresh_references(self, data_center_id: str) -> None:
        """Rewrite what the data center's hosts should hold from the state of its domains."""
        hosts = self.hosts(data_center_id=data_center_id)
        domains = self.domains(data_center_id=data_center_id)
        ids = [cid for domain in domains for cid in domain.connection_ids]
        wanted = desired_refs(hosts, domains, self.connections_by_id(ids))
        self.replace_references([host.id for host in hosts], wanted)

    def desired_infos(self, host_id: str) -> dict[str, ConnectionInfo]:
        """What ``host_id`` should hold, as the agent wants it: reference id → info, secrets included."""
        refs = self.references(host_id)
        conns = self.connections_by_id({ref.connection_id for ref in refs}, secrets=True)
        wanted: dict[str, ConnectionInfo] = {}
        for ref in refs:
            try:
                wanted[ref.ref_id] = to_info(conns[ref.connection_id])
            except (KeyError, InvalidParameter) as exc:
                # Stored before a stricter vocabulary: reported, and the rest still synced.
                log.error("reference %s cannot be built: %s", ref.ref_id, exc)
        return wanted

    # -- flows ------------------------------------------------------------------------

    def add_flow(self, flow_id: str, host_id: str, purpose: str) -> None:
        self.session.add(FlowRow(id=flow_id, host_id=host_id, purpose=purpose))
        self.session.flush()

    def delete_flow(self, flow_id: str) -> None:
        self.session.execute(delete(FlowRow).where(FlowRow.id == flow_id))

    def live_flows(self, *, max_age: timedelta) -> set[str]:
        """Flows started less than ``max_age`` ago; older ones are taken for dead (their engine crashed)."""
        since: datetime = utcnow() - max_age
        rows = self.session.scalars(select(FlowRow.id).where(FlowRow.started_at >= since))
        return set(rows)

    def forget_flows_before(self, max_age: timedelta) -> None:
        self.session.execute(delete(FlowRow).where(FlowRow.started_at < utcnow() - max_age))

    # -- helpers ----------------------------------------------------------------------

    def _upsert(self, row_type: type[Base], row_id: str, values: Mapping[str, object]) -> None:
        """Insert the row ``row_id`` with ``values``, or set every one of them on the stored row."""
        row = self.session.get(row_type, row_id)
        if row is None:
            self.session.add(row_type(id=row_id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
        self.session.flush()

    def _connection_ids(
        self,
        owner: InstrumentedAttribute[str],
        connection: InstrumentedAttribute[str],
        rows: Sequence[DomainRow | LunDiskRow],
    ) -> dict[str, list[str]]:
        """The connection ids of each row (a domain or a disk), in listing order, in one query.

        ``owner`` and ``connection`` are the two columns of the row's link
        table, as ``DomainConnectionRow.domain_id`` and ``.connection_id``.
        """
        ids = [row.id for row in rows]
        mapping: dict[str, list[str]] = {owner_id: [] for owner_id in ids}
        if ids:
            pairs = self.session.execute(
                select(owner, connection)
                .join(ConnectionRow, ConnectionRow.id == connection)
                .where(owner.in_(ids))
                .order_by(ConnectionRow.created_at, ConnectionRow.id)
            )
            for owner_id, connection_id in pairs:
                mapping[owner_id].append(connection_id)
        return mapping


def _data_center(row: DataCenterRow) -> DataCenter:
    return DataCenter(id=row.id, name=row.name, description=row.description, local=row.local)
