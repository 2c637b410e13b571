"""The Hosts page: each host's status and cluster, and on its own page the references its agent holds for the engine.

An admin adds a host (its agent's address, port and token, and its cluster),
moves one in maintenance to another cluster, and removes one that is not Up.
The agent's token is write-only: it goes to the engine and nowhere else —
never back into a page, a notice, an event or a log line.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from storconn.engine.api.routes.hosts import DEFAULT_AGENT_PORT
from storconn.engine.errors import EngineError
from storconn.engine.model import Cluster, Host, HostStatus
from storconn.engine.rules.references import ENGINE_PREFIX

from .inventory_forms import read_host_form, read_move_form
from .kit import Kit, changer, text_fields, viewer
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

    # -- add -----------------------------------------------------------------------

    @viewer
    async def new_form(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(self._new_context)
        return self.kit.page(request, "host_new.html", user, context)

    @changer
    async def add(self, request: Request, user: SessionUser) -> Response:
        form = text_fields(await request.form())
        context = await run_in_threadpool(self._new_context)
        # What was typed comes back, but never the token.
        context["values"].update({k: v for k, v in form.items() if k != "token"})

        def add() -> Host:
            wanted = read_host_form(form, clusters={c.id for c in context["clusters"]})
            return self.kit.engine.add_host(
                wanted.name, address=wanted.address, port=wanted.port, token=wanted.token,
                cluster_id=wanted.cluster_id,
            )

        host = await self.kit.attempt(request, user, "host_new.html", context, add)
        if isinstance(host, Response):
            return host
        late = "" if host.status is HostStatus.UP else " Its agent does not answer yet."
        self.kit.flash(request, "ok", f"Host {host.name} added.{late}")
        return RedirectResponse(f"/hosts/{host.id}", status_code=303)

    def _new_context(self) -> dict[str, Any]:
        engine = self.kit.engine
        dc_names = {dc.id: dc.name for dc in engine.list_data_centers()}
        clusters = sorted(engine.list_clusters(), key=lambda c: c.name.lower())
        return {
            "clusters": clusters,
            "dc_names": dc_names,
            "values": {"port": str(DEFAULT_AGENT_PORT), "cluster": clusters[0].id if clusters else ""},
            "errors": {},
            "problem": None,
        }

    # -- move, remove ----------------------------------------------------------------

    @changer
    async def move(self, request: Request, user: SessionUser) -> Response:
        """Another cluster for a host in maintenance (oVirt's ChangeVDSCluster)."""
        host_id = request.path_params["host_id"]
        context = await run_in_threadpool(self._detail, host_id)
        if context is None:
            return self.kit.refused(request, user, "No such host.", 404)
        host: Host = context["host"]
        form = text_fields(await request.form())
        # Any cluster the engine knows is judged by the engine; the page offers its data center's.
        known = {c.id for c in await run_in_threadpool(self.kit.engine.list_clusters)}
        moved = await self.kit.attempt(
            request, user, "host.html", context,
            lambda: self.kit.engine.update_host(host.id, cluster_id=read_move_form(form, clusters=known)),
            keys=("move_problem", "move_errors"),
        )
        if isinstance(moved, Response):
            return moved
        cluster = await run_in_threadpool(self.kit.engine.get_cluster, moved.cluster_id or "")
        self.kit.flash(request, "ok", f"Host {moved.name} moved to cluster {cluster.name}.")
        return RedirectResponse(f"/hosts/{host.id}", status_code=303)

    @changer
    async def remove(self, request: Request, user: SessionUser) -> Response:
        engine = self.kit.engine
        try:
            host = await run_in_threadpool(engine.get_host, request.path_params["host_id"])
            await run_in_threadpool(engine.remove_host, host.id)
        except EngineError as exc:
            self.kit.flash(request, "error", exc.detail.strip("[]"))
            back = f"/hosts/{request.path_params['host_id']}" if exc.status != 404 else "/hosts"
            return RedirectResponse(back, status_code=303)
        self.kit.flash(request, "ok", f"Host {host.name} removed.")
        return RedirectResponse("/hosts", status_code=303)

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
        return {
            "host": found.host,
            "error": found.error,
            "references": references,
            "actions": actions,
            **self._placement(found.host),
        }

    def _placement(self, host: Host) -> dict[str, Any]:
        """The host's cluster and data center, and the clusters it may move to (its data center's)."""
        engine = self.kit.engine
        clusters = sorted(engine.list_clusters(), key=lambda c: c.name.lower())
        cluster = next((c for c in clusters if c.id == host.cluster_id), None)
        dc = next((d for d in engine.list_data_centers() if d.id == host.data_center_id), None)
        targets: list[Cluster] = [
            c
            for c in clusters
            if c.id != host.cluster_id and (dc is None or c.data_center_id == dc.id)
        ]
        return {
            "cluster": cluster,
            "dc": dc,
            "targets": targets,
            "can_move": host.status is HostStatus.MAINTENANCE,
            "can_remove": host.status is not HostStatus.UP,
            "move_problem": None,
            "move_errors": {},
        }


def host_routes(kit: Kit) -> list[Route]:
    pages = HostPages(kit)
    return [
        Route("/hosts", pages.listing),
        # Before /hosts/{host_id}: a host's id is a UUID, never "new".
        Route("/hosts/new", pages.new_form, methods=["GET"]),
        Route("/hosts/new", pages.add, methods=["POST"]),
        Route("/hosts/{host_id}", pages.detail),
        Route("/hosts/{host_id}/cluster", pages.move, methods=["POST"]),
        Route("/hosts/{host_id}/remove", pages.remove, methods=["POST"]),
        Route("/hosts/{host_id}/{action:str}", pages.action, methods=["POST"]),
    ]
