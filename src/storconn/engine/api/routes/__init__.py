"""The API's routes, one module per collection; ``ROUTERS`` are mounted under ``/ovirt-engine/api``."""

from __future__ import annotations

from . import clusters, connections, datacenters, disks, domains, events, host_actions, hosts, root, vms

# Mounted with the API prefix; root's only route carries the full path itself.
ROUTERS = (
    connections.router, domains.router, datacenters.router, clusters.router, hosts.router, host_actions.router,
    disks.router, vms.router, events.router,
)
ROOT_ROUTER = root.router

__all__ = ["ROOT_ROUTER", "ROUTERS"]
