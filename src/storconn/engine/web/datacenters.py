"""The Data centers page: each data center with its clusters, hosts and domains, and the domains' actions."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .kit import Kit, viewer
from .session import SessionUser

__all__ = ["data_center_routes"]


class DataCenterPages:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    @viewer
    async def listing(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(self._listing)
        return self.kit.page(request, "datacenters.html", user, context)

    def _listing(self) -> dict[str, Any]:
        engine = self.kit.engine
        domains = engine.list_domains()
        hosts = engine.list_hosts()
        clusters = engine.list_clusters()
        centers = []
        for dc in sorted(engine.list_data_centers(), key=lambda dc: dc.name.lower()):
            centers.append(
                {
                    "dc": dc,
                    "domains": sorted(
                        (d for d in domains if d.data_center_id == dc.id),
                        key=lambda d: d.name.lower(),
                    ),
                    "hosts": [h for h in hosts if h.data_center_id == dc.id],
                    "clusters": sorted(
                        (c for c in clusters if c.data_center_id == dc.id),
                        key=lambda c: c.name.lower(),
                    ),
                }
            )
        unattached = [d for d in domains if d.data_center_id is None]
        return {"centers": centers, "unattached": unattached}


def data_center_routes(kit: Kit) -> list[Route]:
    pages = DataCenterPages(kit)
    return [Route("/datacenters", pages.listing)]
