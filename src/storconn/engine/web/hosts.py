"""The Hosts page: each host's status, and on its own page the references its agent holds for the engine."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from storconn.engine.errors import EngineError
from storconn.engine.model import HostStatus

from storconn.engine.rules.references import ENGINE_PREFIX

from .kit import changer, Kit, viewer
from .session import SessionUser

__all__ = ["host_routes"]


class HostPages:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    @viewer
    async def listing(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(self._listing)
        return self.kit.page(request, "hosts.html", user, context)

    def _listing(self) -> dict[str, Any]:
        dc_names = {dc.id: dc.name for dc in self.kit.engine.list_data_centers()}
        cluster_names = {cluster.id: cluster.name for cluster in self.kit.engine.list_clusters()}
        hosts = sorted(self.kit.engine.list_hosts(), key=lambda host: host.name.lower())
        return {"hosts": hosts, "dc_names": dc_names, "cluster_names": cluster_names}

    @changer
    async def action(self, request: Request, user: SessionUser) -> Response:
        """Maintenance (the host lets go of everything it holds for the engine) or Activate (it syncs back)."""
        host_id, action = request.path_params["host_id"], request.path_params["action"]
        if action not in ("maintenance", "activate"):
            return self.kit.refused(request, user, f"There is no action '{action}' on a host.", 404)
        engine = self.kit.engine
        try:
            host = await run_in_threadpool(engine.get_host, host_id)
            run = engine.deactivate_host if action == "maintenance" else engine.activate_host
            problems = await run_in_threadpool(run, host.id)
        except EngineError as exc:
            self.kit.flash(request, "error", exc.detail.strip("[]"))
        else:
            done = "moved to maintenance" if action == "maintenance" else "activated"
            late = f" Not done: {'; '.join(problems)}." if problems else ""
            self.kit.flash(request, "ok", f"Host {host.name} {done}.{late}")
        return RedirectResponse(f"/hosts/{host_id}", status_code=303)

    @viewer
    async def detail(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(self._detail, request.path_params["host_id"])
        if context is None:
            return self.kit.refused(request, user, "No such host.", 404)
        return self.kit.page(request, "host.html", user, context)

    def _detail(self, host_id: str) -> dict[str, Any] | None:
        answers = self.kit.engine.host_references([host_id])
        if not answers:
            return None
        found = answers[0]
        domains = {d.id: d for d in self.kit.engine.list_domains()}
        references = []
        for ref_id, status in sorted(found.statuses.items()):
            domain_id = (
                ref_id[len(ENGINE_PREFIX) :].split(":", 1)[0]
                if ref_id.startswith(ENGINE_PREFIX)
                else ""
            )
            code, message = (status.get("lastError") or [0, ""])[:2]
            references.append(
                {
                    "id": ref_id,
                    "domain": domains.get(domain_id),
                    "connected": bool(status.get("connected")),
                    "error": f"[{code}] {message}" if code else "",
                    "path": status.get("path") or "",
                }
            )
        actions = ["activate"] if found.host.status is HostStatus.MAINTENANCE else ["maintenance"]
        if found.host.status is HostStatus.NON_RESPONSIVE:
            actions = ["maintenance"]
        return {"host": found.host, "error": found.error, "references": references, "actions": actions}


def host_routes(kit: Kit) -> list[Route]:
    pages = HostPages(kit)
    return [
        Route("/hosts", pages.listing),
        Route("/hosts/{host_id}", pages.detail),
        Route("/hosts/{host_id}/{action:str}", pages.action, methods=["POST"]),
    ]
