"""The Clusters page: each cluster with its data center and hosts; add, edit, remove.

The engine's cluster commands judge every change with oVirt's rules (a name
in use, a cluster that still has hosts, a local data center's one cluster);
the pages show their refusals in their words. A cluster's data center is
chosen once, when it is added: oVirt does not move a cluster between data
centers, so the edit form has no such field.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from storconn.engine.errors import EngineError
from storconn.engine.model import Cluster
from storconn.engine.rules.clusters import version_text

from .inventory_forms import read_cluster_form
from .kit import Kit, changer, text_fields, viewer
from .session import SessionUser

__all__ = ["cluster_routes"]


class ClusterPages:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    @viewer
    async def listing(self, request: Request, user: SessionUser) -> Response:
        rows = await run_in_threadpool(self._rows)
        return self.kit.page(request, "clusters.html", user, {"rows": rows})

    def _rows(self) -> list[dict[str, Any]]:
        engine = self.kit.engine
        centers = {dc.id: dc for dc in engine.list_data_centers()}
        hosts = sorted(engine.list_hosts(), key=lambda host: host.name.lower())
        rows = []
        for cluster in sorted(engine.list_clusters(), key=lambda c: c.name.lower()):
            rows.append(
                {
                    "cluster": cluster,
                    "dc": centers.get(cluster.data_center_id or ""),
                    "hosts": [h for h in hosts if h.cluster_id == cluster.id],
                    "version": version_text(cluster.version),
                }
            )
        return rows

    # -- add -----------------------------------------------------------------------

    @viewer
    async def new_form(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(self._form_context, None)
        return self.kit.page(request, "cluster.html", user, context)

    @changer
    async def add(self, request: Request, user: SessionUser) -> Response:
        form = text_fields(await request.form())
        context = await run_in_threadpool(self._form_context, None)
        context["values"].update(form)

        def add() -> Cluster:
            wanted = read_cluster_form(form, data_centers={dc.id for dc in context["data_centers"]})
            return self.kit.engine.add_cluster(
                wanted.name, data_center_id=wanted.data_center_id, description=wanted.description or None
            )

        cluster = await self.kit.attempt(request, user, "cluster.html", context, add)
        if isinstance(cluster, Response):
            return cluster
        self.kit.flash(request, "ok", f"Cluster {cluster.name} added.")
        return RedirectResponse("/clusters", status_code=303)

    # -- edit, remove ----------------------------------------------------------------

    @viewer
    async def edit_form(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(self._existing_context, request.path_params["cluster_id"])
        if context is None:
            return self.kit.refused(request, user, "No such cluster.", 404)
        return self.kit.page(request, "cluster.html", user, context)

    @changer
    async def edit(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(self._existing_context, request.path_params["cluster_id"])
        if context is None:
            return self.kit.refused(request, user, "No such cluster.", 404)
        form = text_fields(await request.form())
        context["values"].update(form)
        cluster: Cluster = context["cluster"]

        def edit() -> Cluster:
            wanted = read_cluster_form(form, data_centers=None)
            return self.kit.engine.update_cluster(cluster.id, name=wanted.name, description=wanted.description)

        saved = await self.kit.attempt(request, user, "cluster.html", context, edit)
        if isinstance(saved, Response):
            return saved
        self.kit.flash(request, "ok", f"Cluster {saved.name} saved.")
        return RedirectResponse("/clusters", status_code=303)

    @changer
    async def remove(self, request: Request, user: SessionUser) -> Response:
        engine = self.kit.engine
        try:
            cluster = await run_in_threadpool(engine.get_cluster, request.path_params["cluster_id"])
            await run_in_threadpool(engine.remove_cluster, cluster.id)
        except EngineError as exc:
            self.kit.flash(request, "error", exc.detail.strip("[]"))
        else:
            self.kit.flash(request, "ok", f"Cluster {cluster.name} removed.")
        return RedirectResponse("/clusters", status_code=303)

    # -- helpers -----------------------------------------------------------------------

    def _existing_context(self, cluster_id: str) -> dict[str, Any] | None:
        try:
            cluster = self.kit.engine.get_cluster(cluster_id)
        except EngineError:
            return None
        return self._form_context(cluster)

    def _form_context(self, cluster: Cluster | None) -> dict[str, Any]:
        engine = self.kit.engine
        centers = sorted(engine.list_data_centers(), key=lambda dc: dc.name.lower())
        values = {"name": "", "description": "", "data_center": centers[0].id if centers else ""}
        if cluster is not None:
            values = {
                "name": cluster.name,
                "description": cluster.description or "",
                "data_center": cluster.data_center_id or "",
            }
        return {
            "cluster": cluster,
            "data_centers": centers,
            "dc": next((dc for dc in centers if cluster and dc.id == cluster.data_center_id), None),
            "hosts": [h for h in engine.list_hosts() if cluster and h.cluster_id == cluster.id],
            "version": version_text(cluster.version) if cluster else "",
            "values": values,
            "errors": {},
            "problem": None,
        }


def cluster_routes(kit: Kit) -> list[Route]:
    pages = ClusterPages(kit)
    return [
        Route("/clusters", pages.listing),
        Route("/clusters/new", pages.new_form, methods=["GET"]),
        Route("/clusters/new", pages.add, methods=["POST"]),
        Route("/clusters/{cluster_id}/edit", pages.edit_form, methods=["GET"]),
        Route("/clusters/{cluster_id}/edit", pages.edit, methods=["POST"]),
        Route("/clusters/{cluster_id}/remove", pages.remove, methods=["POST"]),
    ]
