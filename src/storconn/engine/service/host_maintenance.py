"""Host maintenance: ``deactivate`` lets go of everything the host holds for the engine, ``activate`` gives it back.

oVirt's ``MaintenanceNumberOfVdssCommand`` and ``ActivateVdsCommand``, with
the validations that concern storage and hosts as storconn has them:

- maintenance of a host already in maintenance is refused
  (``VDS_CANNOT_MAINTENANCE_VDS_IS_IN_MAINTENANCE``), as oVirt does; a
  non-responsive host may go to maintenance (oVirt allows it: that is how an
  administrator takes a dead host out of use);
- a host running VMs is refused (``CANNOT_MAINTENANCE_VDS_RUN_VMS_NO_OTHER_RUNNING_VDS``):
  storconn cannot migrate them, so there is never another host to move them
  to. storconn's VMs have no host yet; the check reads ``Vm.host_id`` when
  the model carries it;
- SPM, gluster, hosted engine, affinity and async-task checks do not apply
  (storconn has no SPM, no tasks, no gluster service on hosts);
- activating an Up host is refused (``VDS_ALREADY_UP``) and so is a
  non-responsive one (``VDS_NON_RESPONSIVE``), as oVirt's
  ``HostValidator.validateStatusForActivation`` does.

Maintenance means: the host's status is ``maintenance`` (so no command picks
it: they act on Up hosts only, and ``sync_hosts`` skips it), and its agent
is told to release every ``engine:`` reference and every flow; its mounts
go after the agent's grace period. If the agent cannot be reached, the host
is in maintenance all the same (as in oVirt) and its leftovers are released
by the sync that activation runs. Activation marks the host as not yet
answering, then syncs it: it is Up once its agent answers, with the
references its data center's active domains need.
"""

from __future__ import annotations

import logging

from storconn.connection import StorconnError
from storconn.engine.errors import Conflict
from storconn.engine.model import HostStatus, VmStatus
from storconn.engine.rules import events as event_rules
from storconn.engine.rules.events import EventKind
from storconn.engine.rules import locks as keys
from storconn.engine.service.base import EngineBase, command, found

__all__ = ["ACTIVATE_HOST", "HostMaintenanceCommands", "MAINTENANCE_HOST"]

log = logging.getLogger(__name__)

MAINTENANCE_HOST = "Cannot switch Host to Maintenance mode."
ACTIVATE_HOST = "Cannot activate Host."


class HostMaintenanceCommands(EngineBase):
    @command(MAINTENANCE_HOST)
    def deactivate_host(self, host_id: str) -> list[str]:
        """Put the host in maintenance and release its references; returns what could not be released."""
        host = self._host(host_id)
        with self.locks.hold([keys.host_key(host.id)], action=MAINTENANCE_HOST):
            with self._tx() as repo:
                current = found(repo.host(host.id), "host", host_id)  # removed meanwhile: 404
                if current.status is HostStatus.MAINTENANCE:
                    raise Conflict("VDS_CANNOT_MAINTENANCE_VDS_IS_IN_MAINTENANCE",
                                   "Host is already in Maintenance mode.")
                running = [
                    vm.name for vm in repo.vms()
                    if getattr(vm, "host_id", None) == host.id and vm.status is VmStatus.UP
                ]
                if running:
                    raise Conflict(
                        "CANNOT_MAINTENANCE_VDS_RUN_VMS_NO_OTHER_RUNNING_VDS",
                        f"The following Hosts have running VMs and cannot be switched to maintenance "
                        f"mode: {host.name} (VMs {', '.join(sorted(running))}).",
                    )
                repo.set_host_status(host.id, HostStatus.MAINTENANCE)
                self._record(event_rules.build(EventKind.HOST_MAINTENANCE, host=current), repo)
            try:
                self._hosts.release_all(host)
            except StorconnError as exc:
                log.warning("host %s is in maintenance; its references could not be released now "
                            "(activation releases them): %s", host.name, exc.message)
                return [host.name]
        log.info("host %s is in maintenance; it holds nothing for the engine", host.name)
        return []

    @command(ACTIVATE_HOST)
    def activate_host(self, host_id: str) -> list[str]:
        """Take the host out of maintenance and sync its references; returns what failed (empty when Up)."""
        host = self._host(host_id)
        with self.locks.hold([keys.host_key(host.id)], action=ACTIVATE_HOST):
            if host.status is HostStatus.UP:
                raise Conflict("VDS_ALREADY_UP", "Host in Up status.")
            if host.status is HostStatus.NON_RESPONSIVE:
                raise Conflict("VDS_NON_RESPONSIVE", "Host is in non responsive state.")
            with self._tx() as repo:
                # Out of maintenance, not yet Up: the sync decides (Up when the agent answers).
                repo.set_host_status(host.id, HostStatus.NON_RESPONSIVE)
            host.status = HostStatus.NON_RESPONSIVE
            result = self._sync([host])
        return list(result.failed.values())
