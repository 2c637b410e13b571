"""The API's routes, one module per collection; ``ROUTERS`` are mounted under ``/ovirt-engine/api``."""

from __future__ import annotations

from . import connections, datacenters, disks, domains, events, hosts, root, vms

# Mounted with the API prefix; root's only route carries the full path itself.
ROUTERS = (
    connections.router, domains.router, datacenters.router, hosts.router, disks.router, vms.router, events.router,
)
ROOT_ROUTER = root.router

__all__ = ["ROOT_ROUTER", "ROUTERS"]
