"""What each host should hold, and the flows (short-lived references) in progress."""

from __future__ import annotations

import logging

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from storconn.connection import ConnectionInfo, InvalidParameter
from storconn.engine.rules.infos import to_info
from storconn.engine.rules.references import DesiredRef, DiskRef, desired_disk_refs, desired_refs

from ..schema import (
    FlowRow,
    HostDiskReferenceRow,
    ReferenceRow,
    utcnow,
)

from .connections import ConnectionRows
from .disks import DiskRows
from .inventory import InventoryRows

log = logging.getLogger(__name__)


class ReferenceRows(InventoryRows, ConnectionRows, DiskRows):
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

    def disk_references(self, host_id: str | None = None) -> list[DiskRef]:
        """What hosts (or ``host_id``) should hold for the direct LUN disks of the VMs up on them."""
        query = select(HostDiskReferenceRow).order_by(
            HostDiskReferenceRow.host_id, HostDiskReferenceRow.ref_id
        )
        if host_id is not None:
            query = query.where(HostDiskReferenceRow.host_id == host_id)
        return [
            DiskRef(row.host_id, row.ref_id, row.disk_id, row.connection_id, row.revision)
            for row in self.session.scalars(query)
        ]

    def refresh_disk_references(self) -> set[str]:
        """Rewrite what hosts should hold for direct LUN disks from the VMs up; the ids of the hosts that changed.

        Every host at once: the rows are few (one per path of each plugged
        disk of each running VM), and a VM moving between hosts changes two.
        """
        vms = [vm for vm in self.vms() if vm.host_id is not None]
        disks = {disk.id: disk for disk in self.disks()}
        ids = [cid for disk in disks.values() for cid in disk.connection_ids]
        wanted = desired_disk_refs(vms, disks, self.connections_by_id(ids))
        current = {(ref.host_id, ref.ref_id): ref for ref in self.disk_references()}
        keep = {(ref.host_id, ref.ref_id) for ref in wanted}
        changed: set[str] = set()
        for key in current.keys() - keep:
            self.session.execute(
                delete(HostDiskReferenceRow).where(
                    HostDiskReferenceRow.host_id == key[0], HostDiskReferenceRow.ref_id == key[1]
                )
            )
            changed.add(key[0])
        for ref in wanted:
            if (ref.host_id, ref.ref_id) not in current:
                self.session.add(
                    HostDiskReferenceRow(
                        host_id=ref.host_id,
                        ref_id=ref.ref_id,
                        disk_id=ref.disk_id,
                        connection_id=ref.connection_id,
                        revision=ref.revision,
                    )
                )
                changed.add(ref.host_id)
        self.session.flush()
        return changed

    def desired_infos(self, host_id: str) -> dict[str, ConnectionInfo]:
        """What ``host_id`` should hold, as the agent wants it: reference id → info, secrets included."""
        refs: list[DesiredRef | DiskRef] = [*self.references(host_id), *self.disk_references(host_id)]
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
