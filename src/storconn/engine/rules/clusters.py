"""Rules for data centers, clusters and a host's place in them (oVirt's AddCluster, UpdateCluster,
RemoveCluster, UpdateStoragePool, RemoveStoragePool, AddVds and ChangeVDSCluster validations).

Pure: nothing here does I/O. Each check raises with oVirt's message key;
the command adds the action prefix ("Cannot add Cluster.").
"""

from __future__ import annotations

from collections.abc import Sequence

from storconn.engine.errors import BadRequest, Conflict
from storconn.engine.model import (
    SUPPORTED_VERSIONS,
    Cluster,
    DataCenter,
    DataCenterStatus,
    DomainStatus,
    Host,
    HostStatus,
    StorageDomain,
    StorageType,
)

from .messages import names

__all__ = [
    "check_cluster_add",
    "check_cluster_remove",
    "check_cluster_update",
    "check_data_center_remove",
    "check_data_center_update",
    "check_host_in_cluster",
    "check_host_move",
    "check_host_remove",
    "check_version",
    "data_center_status",
    "storage_format",
    "version_text",
]

# oVirt's storage format per data center level: V5 from 4.3 on, V4 for 4.1 and 4.2.
_V5_FROM = (4, 3)


def version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def storage_format(version: tuple[int, int]) -> str:
    """The storage format (``v4``, ``v5``) oVirt gives a data center of this compatibility version."""
    return "v5" if version >= _V5_FROM else "v4"


def check_version(version: tuple[int, int]) -> tuple[int, int]:
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(version_text(v) for v in SUPPORTED_VERSIONS)
        raise BadRequest(
            "ACTION_TYPE_FAILED_GIVEN_VERSION_NOT_SUPPORTED",
            f"Selected Compatibility Version {version_text(version)} is not supported "
            f"(supported: {supported}).",
        )
    return version


def data_center_status(domains: Sequence[StorageDomain]) -> DataCenterStatus:
    """oVirt's pool status as storconn derives it from the data center's domains (there is no SPM).

    ``up`` with an active data domain (oVirt's master), ``maintenance`` when data
    domains are attached but none is active (oVirt moves the pool to maintenance
    with its last master), ``uninitialized`` without any data domain.
    """
    data = [d for d in domains if d.domain_type == "data"]
    if any(d.status is DomainStatus.ACTIVE for d in data):
        return DataCenterStatus.UP
    return DataCenterStatus.MAINTENANCE if data else DataCenterStatus.UNINITIALIZED


# -- clusters ------------------------------------------------------------------------------------


def _check_cluster_name(name: str, taken: bool) -> None:
    if taken:
        raise Conflict("CLUSTER_CANNOT_DO_ACTION_NAME_IN_USE", f"Cluster name {name} is already in use.")


def _check_local_single_cluster(dc: DataCenter, others: Sequence[Cluster]) -> None:
    if dc.local and others:
        raise Conflict(
            "CLUSTER_CANNOT_ADD_MORE_THEN_ONE_HOST_TO_LOCAL_STORAGE",
            f'Cannot add more than one Cluster to a Data Center with "Local Storage" '
            f"({dc.name} already has {names([(c.name, c.id) for c in others])}).",
        )


def check_cluster_add(
    cluster: Cluster, dc: DataCenter, dc_clusters: Sequence[Cluster], *, name_taken: bool
) -> None:
    """AddCluster's checks, in its order: name, version, version against the data center's, local."""
    _check_cluster_name(cluster.name, name_taken)
    check_version(cluster.version)
    if cluster.version < dc.version:
        raise Conflict(
            "CLUSTER_CANNOT_ADD_COMPATIBILITY_VERSION_WITH_LOWER_STORAGE_POOL",
            f"Cannot add Cluster with Compatibility Version {version_text(cluster.version)}, lower than "
            f"the Data Center Compatibility Version {version_text(dc.version)}.",
        )
    _check_local_single_cluster(dc, dc_clusters)


def check_cluster_update(
    old: Cluster,
    new: Cluster,
    dc: DataCenter | None,
    *,
    hosts: Sequence[Host],
    dc_clusters: Sequence[Cluster],
    name_taken: bool,
) -> None:
    """UpdateCluster's checks that concern storconn: name, data center, version."""
    if new.name != old.name:
        _check_cluster_name(new.name, name_taken)
    if new.data_center_id != old.data_center_id:
        if old.data_center_id is not None:
            raise Conflict(
                "CLUSTER_CANNOT_CHANGE_STORAGE_POOL",
                "Cannot change Data Center association when editing a Cluster.",
            )
        up = [h for h in hosts if h.status is HostStatus.UP]
        if up:
            raise Conflict(
                "CLUSTER_CANNOT_UPDATE_VDS_UP",
                "Trying to connect Cluster to Data Center with Hosts that are up: "
                f"{names([(h.name, h.id) for h in up])}.",
            )
        if dc is not None:
            _check_local_single_cluster(dc, [c for c in dc_clusters if c.id != old.id])
    if new.version != old.version:
        check_version(new.version)
        if new.version < old.version and hosts:
            raise Conflict(
                "ACTION_TYPE_FAILED_CANNOT_DECREASE_CLUSTER_WITH_HOSTS_COMPATIBILITY_VERSION",
                "Cluster compatibility version can't be decreased if there are hosts in the Cluster.",
            )
        if dc is not None and new.version < dc.version:
            raise Conflict(
                "ACTION_TYPE_FAILED_CANNOT_DECREASE_COMPATIBILITY_VERSION_UNDER_DC",
                "Cannot decrease cluster compatibility version beneath data center compatibility "
                f"version {version_text(dc.version)}.",
            )


def check_cluster_remove(cluster: Cluster, hosts: Sequence[Host]) -> None:
    if hosts:
        raise Conflict(
            "VDS_CANNOT_REMOVE_CLUSTER_VDS_DETECTED",
            f"Cluster contains one or more Hosts: {names([(h.name, h.id) for h in hosts])}.",
        )


# -- hosts in clusters ---------------------------------------------------------------------------


def check_host_in_cluster(host: Host, dc: DataCenter | None, dc_hosts: Sequence[Host]) -> None:
    """A local data center has one host at most (AddVds, ChangeVDSCluster)."""
    others = [h for h in dc_hosts if h.id != host.id]
    if dc is not None and dc.local and others:
        raise Conflict(
            "VDS_CANNOT_ADD_MORE_THEN_ONE_HOST_TO_LOCAL_STORAGE",
            f'Cannot add more than one Host to "Local Storage" Data Center {dc.name}.',
        )


def check_host_move(host: Host, dc: DataCenter | None, dc_hosts: Sequence[Host]) -> None:
    """ChangeVDSCluster: only a host in maintenance changes cluster."""
    if host.status is not HostStatus.MAINTENANCE:
        raise Conflict(
            "VDS_STATUS_NOT_VALID_FOR_UPDATE",
            "Host parameters cannot be modified while Host is operational. "
            "Please switch Host to Maintenance mode first.",
        )
    check_host_in_cluster(host, dc, dc_hosts)


def check_host_remove(host: Host) -> None:
    """RemoveVds: a host that is Up is not removed (maintenance first; a non-responsive one may go)."""
    if host.status is HostStatus.UP:
        raise Conflict(
            "VDS_CANNOT_REMOVE_VDS_STATUS_ILLEGAL",
            "Host is operational. Please switch Host to Maintenance mode first.",
        )


# -- data centers --------------------------------------------------------------------------------


def check_data_center_update(
    old: DataCenter,
    new: DataCenter,
    *,
    name_taken: bool,
    clusters: Sequence[Cluster],
    hosts: Sequence[Host],
    domains: Sequence[StorageDomain],
) -> None:
    """UpdateStoragePool's checks, in its order: name, type, version."""
    if new.name != old.name and name_taken:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_POOL_NAME_ALREADY_EXIST", "The Data Center name is already in use."
        )
    if old.local and not new.local and any(d.storage_type is StorageType.LOCALFS for d in domains):
        raise Conflict(
            "ERROR_CANNOT_CHANGE_STORAGE_POOL_TYPE_WITH_LOCAL",
            "Cannot change Data Center type to shared while local Storage Domains are still attached "
            "to it. Please detach all local Storage Domains and retry.",
        )
    if new.local and not old.local:
        if len(clusters) > 1:
            raise Conflict(
                "CLUSTER_CANNOT_ADD_MORE_THEN_ONE_HOST_TO_LOCAL_STORAGE",
                'Cannot add more than one Cluster to a Data Center with "Local Storage".',
            )
        if len(hosts) > 1:
            raise Conflict(
                "VDS_CANNOT_ADD_MORE_THEN_ONE_HOST_TO_LOCAL_STORAGE",
                'Cannot add more than one Host to "Local Storage" Data Center.',
            )
    if new.version != old.version:
        check_version(new.version)
        if new.version < old.version:
            downgraded = [d for d in domains if d.domain_type == "data"]
            if storage_format(new.version) < storage_format(old.version) and downgraded:
                raise Conflict(
                    "ACTION_TYPE_FAILED_DECREASING_COMPATIBILITY_VERSION_CAUSES_STORAGE_FORMAT_DOWNGRADING",
                    "This action will cause storage format downgrading which is not supported. The "
                    "following storage domains cannot be downgraded: "
                    f"{names([(d.name, d.id) for d in downgraded])}.",
                )
        else:
            lower = [c for c in clusters if c.version < new.version]
            if lower:
                raise Conflict(
                    "ERROR_CANNOT_UPDATE_STORAGE_POOL_COMPATIBILITY_VERSION_BIGGER_THAN_CLUSTERS",
                    "Cannot update Data Center compatibility version to a value that is greater than "
                    "its cluster's version. The following clusters should be upgraded: "
                    f"{', '.join(c.name for c in lower)}.",
                )


def check_data_center_remove(
    dc: DataCenter, domains: Sequence[StorageDomain], hosts: Sequence[Host], *, force: bool
) -> None:
    """RemoveStoragePool's checks, in its order.

    oVirt also wants an Up host to destroy a pool in maintenance (its SPM
    does it); storconn has no SPM and no pool on the storage, so it does not.
    """
    if data_center_status(domains) is DataCenterStatus.UP:
        raise Conflict("ERROR_CANNOT_REMOVE_ACTIVE_STORAGE_POOL", "Cannot remove an active Data Center.")
    if any(d.status is not DomainStatus.MAINTENANCE for d in domains):
        raise Conflict(
            "ERROR_CANNOT_REMOVE_POOL_WITH_ACTIVE_DOMAINS",
            "Cannot remove Data Center which contains Storage Domains that are not in Maintenance "
            "status. Please deactivate all domains and wait for tasks to finish before removing "
            "the Data Center.",
        )
    if not force and len(domains) > 1:
        raise Conflict(
            "ERROR_CANNOT_REMOVE_STORAGE_POOL_WITH_NONMASTER_DOMAINS",
            "Cannot remove Data Center when more than one Storage Domain is attached.",
        )
    if force:
        busy = [h for h in hosts if h.status is not HostStatus.MAINTENANCE]
        if busy:
            raise Conflict(
                "ERROR_CANNOT_FORCE_REMOVE_STORAGE_POOL_WITH_VDS_NOT_IN_MAINTENANCE",
                "There are Hosts that are not in Maintenance mode: "
                f"{names([(h.name, h.id) for h in busy])}.",
            )
