"""The references the engine asks agents to hold, and their ids (DESIGN.md section 4).

- ``engine:<domain-id>:<connection-id>:<revision>``: held by every host of a
  data center for each connection of each active domain there. A change of
  the connection's details bumps the revision, so the new details get a new
  id: the engine acquires it, then releases the old one.
- ``engine:disk:<disk-id>:<connection-id>:<revision>``: held by the host a
  VM is Up on, for each connection of each direct LUN disk plugged into it
  (as oVirt connects a VM's direct LUNs when it runs it); released when the
  VM goes down or the disk is unplugged.
- ``engine-flow:<uuid>:<n>``: a flow that needs a connection for a moment
  (add with a host, a connectivity test); the flow releases its prefix
  ``engine-flow:<uuid>:`` when it ends, also on failure, and a host sync
  releases the leftovers of flows that never ended.

Pure: nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from storconn.engine.model import (
    DomainStatus,
    Host,
    LunDisk,
    StorageConnection,
    StorageDomain,
    Vm,
    VmStatus,
)

__all__ = [
    "ENGINE_PREFIX",
    "FLOW_PREFIX",
    "DISK_PREFIX",
    "DesiredRef",
    "DiskRef",
    "desired_disk_refs",
    "desired_refs",
    "disk_ref_id",
    "domain_prefix",
    "flow_prefix",
    "flow_uuid",
    "is_engine_ref",
    "ref_id",
]

ENGINE_PREFIX = "engine:"
FLOW_PREFIX = "engine-flow:"
# Cannot clash with a domain's references: those go on with a uuid.
DISK_PREFIX = f"{ENGINE_PREFIX}disk:"


@dataclass(frozen=True, slots=True)
class DesiredRef:
    """One reference one host should hold."""

    host_id: str
    ref_id: str
    domain_id: str
    connection_id: str
    revision: int


@dataclass(frozen=True, slots=True)
class DiskRef:
    """One reference one host should hold for a direct LUN disk of a VM Up on it."""

    host_id: str
    ref_id: str
    disk_id: str
    connection_id: str
    revision: int


def disk_ref_id(disk_id: str, connection_id: str, revision: int) -> str:
    return f"{DISK_PREFIX}{disk_id}:{connection_id}:{revision}"


def ref_id(domain_id: str, connection_id: str, revision: int) -> str:
    return f"{ENGINE_PREFIX}{domain_id}:{connection_id}:{revision}"


def domain_prefix(domain_id: str) -> str:
    """The prefix releasing every reference of one domain, whatever the revision."""
    return f"{ENGINE_PREFIX}{domain_id}:"


def flow_prefix(flow_id: str) -> str:
    return f"{FLOW_PREFIX}{flow_id}:"


def flow_uuid(agent_ref_id: str) -> str | None:
    """The flow's uuid in ``engine-flow:<uuid>:<n>``, or None for any other id."""
    if not agent_ref_id.startswith(FLOW_PREFIX):
        return None
    flow_id, colon, _ = agent_ref_id[len(FLOW_PREFIX) :].partition(":")
    return flow_id if colon and flow_id else None


def is_engine_ref(agent_ref_id: str) -> bool:
    """Whether the engine manages this id on the agent (``engine-flow:`` ids are flows, not these)."""
    return agent_ref_id.startswith(ENGINE_PREFIX)


def desired_refs(
    hosts: Iterable[Host],
    domains: Iterable[StorageDomain],
    connections: Mapping[str, StorageConnection],
) -> set[DesiredRef]:
    """What ``hosts`` should hold: each host, for each active domain of its data center, each of its connections.

    Hosts in maintenance still should hold nothing new; the dispatcher only
    talks to Up hosts, and a host coming Up is synced from this set.
    """
    by_dc: dict[str, list[StorageDomain]] = {}
    for domain in domains:
        if domain.status is DomainStatus.ACTIVE and domain.data_center_id:
            by_dc.setdefault(domain.data_center_id, []).append(domain)
    wanted: set[DesiredRef] = set()
    for host in hosts:
        for domain in by_dc.get(host.data_center_id or "", []):
            for connection_id in domain.connection_ids:
                conn = connections.get(connection_id)
                if conn is None:
                    continue
                wanted.add(
                    DesiredRef(
                        host.id,
                        ref_id(domain.id, conn.id, conn.revision),
                        domain.id,
                        conn.id,
                        conn.revision,
                    )
                )
    return wanted


def desired_disk_refs(
    vms: Iterable[Vm],
    disks: Mapping[str, LunDisk],
    connections: Mapping[str, StorageConnection],
) -> set[DiskRef]:
    """What hosts should hold for direct LUN disks: each Up VM's host, each plugged disk, each connection.

    Two VMs on one host sharing a disk need one reference: the id names the
    disk, not the VM.
    """
    wanted: set[DiskRef] = set()
    for vm in vms:
        if vm.status is not VmStatus.UP or vm.host_id is None:
            continue
        for attachment in vm.disk_attachments:
            disk = disks.get(attachment.disk_id)
            if not attachment.plugged or disk is None:
                continue
            for connection_id in disk.connection_ids:
                conn = connections.get(connection_id)
                if conn is None:
                    continue
                wanted.add(
                    DiskRef(
                        vm.host_id,
                        disk_ref_id(disk.id, conn.id, conn.revision),
                        disk.id,
                        conn.id,
                        conn.revision,
                    )
                )
    return wanted
