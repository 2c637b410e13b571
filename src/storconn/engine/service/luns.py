"""Block domains' LUNs: a domain on LUNs across targets, and extending one with new LUNs.

oVirt's iSCSI domain is a volume group over LUNs that may sit on several
targets; the engine keeps one connection per target (shared with the other
domains and disks on that target, with its stored CHAP password), and the
LUN ids with the connection each is reached through (``domain_luns``).
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Sequence

from storconn.engine import rules
from storconn.engine.db import Repository
from storconn.engine.errors import BadRequest, Conflict
from storconn.engine.model import (
    DomainLun,
    LunFields,
    StorageConnection,
    StorageDomain,
    StorageType,
)
from storconn.engine.rules import locks as keys

BLOCK_TYPES = (StorageType.ISCSI, StorageType.FCP)
_VG_ALPHABET = string.ascii_letters + string.digits


def volume_group_id() -> str:
    """A new volume group uuid in LVM's form (``xxxxxx-xxxx-xxxx-xxxx-xxxx-xxxx-xxxxxx``), as oVirt shows one."""
    parts = ["".join(secrets.choice(_VG_ALPHABET) for _ in range(n)) for n in (6, 4, 4, 4, 4, 4, 6)]
    return "-".join(parts)


class LunPlan:
    """What a domain's ``<logical_units>`` resolve to: the connections (new or shared) and the LUN paths."""

    def __init__(self, wanted: list[StorageConnection], luns: list[tuple[LunFields, int | None]]) -> None:
        self.wanted = wanted  # one per target, checked, with fresh ids
        self.luns = luns  # each unit and the index of its connection in ``wanted`` (None: FCP)
        self.chosen: list[StorageConnection] = list(wanted)  # after ``resolve``: shared ones in place
        self.new: set[str] = {conn.id for conn in wanted}

    @property
    def lock_keys(self) -> list[str]:
        return sorted({key for conn in self.wanted for key in keys.add_connection_keys(conn)})

    def domain_luns(self) -> list[DomainLun]:
        return [
            DomainLun(unit.lun_id, self.chosen[index].id if index is not None else None, unit.lun_mapping)
            for unit, index in self.luns
        ]

    def resolve(self, repo: Repository) -> None:
        """Put the stored connection in place of each wanted one that has a twin (with its CHAP password)."""
        for index, conn in enumerate(self.wanted):
            found = rules.find_duplicate(conn, repo.candidates(conn))
            if found is None:
                continue
            shared = repo.connection(found.connection.id, secrets=True)
            self.chosen[index] = shared or found.connection
            self.new.discard(conn.id)


def plan_luns(storage_type: StorageType, units: Sequence[LunFields], *, entity: str = "StorageDomain") -> LunPlan:
    """Check each unit (an iSCSI one needs its address and target; the port defaults to 3260) and group by target."""
    if storage_type not in BLOCK_TYPES:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_TYPE_ILLEGAL",
            f"Logical units make iscsi and fcp domains, not {storage_type.value} ones.",
        )
    wanted: list[StorageConnection] = []
    by_identity: dict[str, int] = {}
    luns: list[tuple[LunFields, int | None]] = []
    for unit in units:
        if not unit.lun_id.strip():
            raise rules.IncompleteParameters(
                "StorageDomain", ["storage.logical_units.logical_unit.id"], "add"
            )
        if storage_type is StorageType.FCP or unit.connection is None:
            luns.append((unit, None))
            continue
        fields = rules.clean_fields(unit.connection)
        fields.type = StorageType.ISCSI
        conn = rules.checked_connection(
            fields, connection_id=str(uuid.uuid4()), entity=entity, required=("address", "target")
        )
        index = by_identity.setdefault(rules.identity_key(conn), len(wanted))
        if index == len(wanted):
            wanted.append(conn)
        luns.append((unit, index))
    return LunPlan(wanted, luns)


def check_luns_free(repo: Repository, lun_ids: Sequence[str], *, domain_id: str | None = None) -> None:
    """oVirt's checks: a LUN belongs to one domain, and not to a direct LUN disk."""
    wanted = set(lun_ids)
    taken = sorted(
        lun.lun_id
        for domain in repo.domains()
        if domain.id != domain_id
        for lun in domain.luns
        if lun.lun_id in wanted
    )
    if taken:
        raise Conflict(
            "ACTION_TYPE_FAILED_LUNS_ALREADY_PART_OF_STORAGE_DOMAINS",
            f"The following LUNs are already part of existing storage domains: {', '.join(dict.fromkeys(taken))}.",
        )
    used = sorted({disk.lun_id for disk in repo.disks() if disk.lun_id in wanted})
    if used:
        raise Conflict(
            "ACTION_TYPE_FAILED_LUNS_ALREADY_USED_BY_DISKS",
            f"The following LUNs are already used by DirectLUN disks: {', '.join(used)}.",
        )


def store_luns(repo: Repository, domain: StorageDomain, plan: LunPlan) -> None:
    """Save the plan's new connections, map every chosen one to the domain, and add the LUN paths."""
    for conn in plan.chosen:
        if conn.id in plan.new:
            repo.save_connection(conn)
        if conn.id not in domain.connection_ids:
            repo.attach(domain.id, conn.id)
            domain.connection_ids.append(conn.id)
    luns = plan.domain_luns()
    repo.add_luns(domain.id, luns)
    have = {(lun.lun_id, lun.connection_id) for lun in domain.luns}
    domain.luns += [lun for lun in luns if (lun.lun_id, lun.connection_id) not in have]
