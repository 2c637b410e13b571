"""Clusters as oVirt's documents, and the two fixed collections a cluster links to.

storconn keeps of a cluster what storage needs (name, description,
comment, data center, compatibility version) and the CPU type and
architecture as given. The rest of oVirt's cluster — scheduling, memory,
migration, fencing — does not exist here; the document shows the values
oVirt gives a new cluster (its ``Default`` cluster's row), because clients
read them: ``ovirt_cluster`` compares ``ksm.merge_across_nodes``,
``fencing_policy.skip_if_sd_active.enabled``, ``memory_policy.over_commit``,
``mac_pool.id`` and ``required_rng_sources`` on every run, and follows
``scheduling_policy``'s link. That link and ``mac_pool``'s lead to
``/schedulingpolicies`` and ``/macpools``, which list oVirt's built-in
entries, read-only.
"""

from __future__ import annotations

from collections.abc import Iterable

from storconn.engine.model import Cluster

from .document import Collection, Many, Obj
from .encode import version

__all__ = [
    "DEFAULT_MAC_POOL",
    "SCHEDULING_POLICIES",
    "cluster",
    "clusters",
    "mac_pool",
    "mac_pools",
    "scheduling_policies",
    "scheduling_policy",
]

# oVirt's built-in scheduling policies (id, name); a new cluster gets "none".
SCHEDULING_POLICIES = (
    ("b4ed2332-a7ac-4d5f-9596-99a439cb2812", "none"),
    ("20d25257-b4bd-4589-92a6-c4c5c5d3fd1a", "evenly_distributed"),
    ("5a2b0939-7d46-4b73-a469-e9c2c7fc6a53", "power_saving"),
    ("8d5d7bec-68de-4a67-b53e-0ac54686d579", "vm_evenly_distributed"),
    ("7677771e-5eab-422e-83fa-dc04080d21b7", "cluster_maintenance"),
)
DEFAULT_SCHEDULING_POLICY = SCHEDULING_POLICIES[0][0]
# oVirt's "Default" MAC pool (its database's fixed id).
DEFAULT_MAC_POOL = ("58ca604b-017d-0374-0220-00000000014e", "Default")


def _ref(tag: str, href: str, entity_id: str) -> Obj:
    return Obj(tag, {"href": href, "id": entity_id})


def _defaults(out: Obj, base: str) -> None:
    """What oVirt shows for a new cluster and storconn does not manage (see the module's docstring)."""
    out.add("ballooning_enabled", True)
    out.add("error_handling", Obj("error_handling").add("on_error", "migrate"))
    fencing = Obj("fencing_policy").add("enabled", True)
    fencing.add("skip_if_connectivity_broken",
                Obj("skip_if_connectivity_broken").add("enabled", False).add("threshold", 50))
    fencing.add("skip_if_gluster_bricks_up", False).add("skip_if_gluster_quorum_not_met", False)
    fencing.add("skip_if_sd_active", Obj("skip_if_sd_active").add("enabled", False))
    out.add("fencing_policy", fencing)
    out.add("firewall_type", "firewalld").add("gluster_service", False).add("ha_reservation", False)
    out.add("ksm", Obj("ksm").add("enabled", True).add("merge_across_nodes", True))
    out.add("maintenance_reason_required", False)
    memory = Obj("memory_policy").add("over_commit", Obj("over_commit").add("percent", 100))
    memory.add("transparent_hugepages", Obj("transparent_hugepages").add("enabled", True))
    out.add("memory_policy", memory)
    migration = Obj("migration").add("auto_converge", "inherit")
    migration.add("bandwidth", Obj("bandwidth").add("assignment_method", "auto"))
    migration.add("compressed", "inherit").add("encrypted", "inherit")
    out.add("migration", migration)
    out.add("optional_reason", False)
    out.add("required_rng_sources", Many("required_rng_source", []))
    out.add("switch_type", "legacy").add("threads_as_cores", False).add("trusted_service", False)
    out.add("tunnel_migration", False).add("virt_service", True)
    out.add("mac_pool", _ref("mac_pool", f"{base}/macpools/{DEFAULT_MAC_POOL[0]}", DEFAULT_MAC_POOL[0]))
    policy = DEFAULT_SCHEDULING_POLICY
    out.add("scheduling_policy", _ref("scheduling_policy", f"{base}/schedulingpolicies/{policy}", policy))


def cluster(c: Cluster, base: str) -> Obj:
    """A cluster; under ``/datacenters/{dc}/clusters`` too its href is ``/clusters/{id}``, as oVirt's."""
    href = f"{base}/clusters/{c.id}"
    out = Obj("cluster", {"href": href, "id": c.id})
    out.add("name", c.name).add("description", c.description).add("comment", c.comment)
    if c.cpu_type or c.cpu_architecture:
        out.add("cpu", Obj("cpu").add("architecture", c.cpu_architecture).add("type", c.cpu_type))
    _defaults(out, base)
    out.add("version", version(c.version))
    if c.data_center_id:
        out.add("data_center", _ref("data_center", f"{base}/datacenters/{c.data_center_id}", c.data_center_id))
    return out


def clusters(items: Iterable[Cluster], base: str) -> Collection:
    return Collection("clusters", "cluster", [cluster(c, base) for c in items])


def scheduling_policy(policy_id: str, name: str, base: str) -> Obj:
    out = Obj("scheduling_policy", {"href": f"{base}/schedulingpolicies/{policy_id}", "id": policy_id})
    return out.add("name", name).add("default_policy", policy_id == DEFAULT_SCHEDULING_POLICY).add("locked", True)


def scheduling_policies(base: str) -> Collection:
    items = [scheduling_policy(pid, name, base) for pid, name in SCHEDULING_POLICIES]
    return Collection("scheduling_policies", "scheduling_policy", items)


def mac_pool(base: str) -> Obj:
    pool_id, name = DEFAULT_MAC_POOL
    out = Obj("mac_pool", {"href": f"{base}/macpools/{pool_id}", "id": pool_id})
    return out.add("name", name).add("description", "Default MAC pool").add("default_pool", True)


def mac_pools(base: str) -> Collection:
    return Collection("mac_pools", "mac_pool", [mac_pool(base)])
