"""``/clusters`` and ``/datacenters/{dc}/clusters``: list, add, get, edit, remove; and the read-only
``/schedulingpolicies`` and ``/macpools`` a cluster links to (``encode_clusters``)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from storconn.engine.errors import NotFound

from .. import decode, encode_clusters, schema
from ..media import empty
from ..routing import Ctx, FaultRoute
from .. import searching
from ..following import follow_tree
from .lookup import data_center_id

router = APIRouter(route_class=FaultRoute)


@router.get("/clusters")
async def list_clusters(request: Request) -> Response:
    ctx = Ctx(request)
    follow_tree(ctx, "clusters")
    found = await searching.search(ctx, searching.CLUSTERS, await ctx.call(ctx.engine.list_clusters))
    return ctx.ok(encode_clusters.clusters(found, ctx.base))


@router.get("/datacenters/{dc_id}/clusters")
async def list_data_center_clusters(request: Request, dc_id: str) -> Response:
    ctx = Ctx(request)
    follow_tree(ctx, "clusters")
    clusters = await ctx.call(ctx.engine.list_clusters, data_center_id=dc_id)
    found = await searching.search(ctx, searching.CLUSTERS, clusters)
    return ctx.ok(encode_clusters.clusters(found, ctx.base))


async def _add(ctx: Ctx, dc_ref: str | None) -> Response:
    body = await ctx.body(schema.CLUSTER)
    if dc_ref is not None and "data_center" not in body:
        body["data_center"] = {"id": dc_ref}  # added under /datacenters/{dc}/clusters
    wanted = decode.cluster(body)
    assert wanted.name is not None and wanted.data_center is not None
    dc_id = await data_center_id(ctx, wanted.data_center)
    added = await ctx.call(ctx.engine.add_cluster, wanted.name, data_center_id=dc_id,
                           description=wanted.description, comment=wanted.comment, version=wanted.version,
                           cpu_type=wanted.cpu_type, cpu_architecture=wanted.cpu_architecture)
    document = encode_clusters.cluster(added, ctx.base)
    return ctx.created(document, document.attrs["href"])


@router.post("/clusters")
async def add_cluster(request: Request) -> Response:
    return await _add(Ctx(request), None)


@router.post("/datacenters/{dc_id}/clusters")
async def add_data_center_cluster(request: Request, dc_id: str) -> Response:
    ctx = Ctx(request)
    await ctx.call(ctx.engine.get_data_center, dc_id)  # 404 for an unknown data center in the path
    return await _add(ctx, dc_id)


@router.get("/clusters/{cluster_id}")
async def get_cluster(request: Request, cluster_id: str) -> Response:
    ctx = Ctx(request)
    return ctx.ok(encode_clusters.cluster(await ctx.call(ctx.engine.get_cluster, cluster_id), ctx.base))


@router.get("/datacenters/{dc_id}/clusters/{cluster_id}")
async def get_data_center_cluster(request: Request, dc_id: str, cluster_id: str) -> Response:
    ctx = Ctx(request)
    for cluster in await ctx.call(ctx.engine.list_clusters, data_center_id=dc_id):
        if cluster.id == cluster_id:
            return ctx.ok(encode_clusters.cluster(cluster, ctx.base))
    raise NotFound("ACTION_TYPE_FAILED_ENTITY_NOT_FOUND", f"Entity not found: Cluster: id={cluster_id}")


@router.put("/clusters/{cluster_id}")
async def update_cluster(request: Request, cluster_id: str) -> Response:
    ctx = Ctx(request)
    # 404 for an unknown id before the body is judged, as oVirt's REST layer answers.
    await ctx.call(ctx.engine.get_cluster, cluster_id)
    wanted = decode.cluster_update(await ctx.body(schema.CLUSTER), cluster_id)
    dc_id = await data_center_id(ctx, wanted.data_center) if wanted.data_center else None
    updated = await ctx.call(ctx.engine.update_cluster, cluster_id, name=wanted.name,
                             description=wanted.description, comment=wanted.comment, data_center_id=dc_id,
                             version=wanted.version, cpu_type=wanted.cpu_type,
                             cpu_architecture=wanted.cpu_architecture)
    return ctx.ok(encode_clusters.cluster(updated, ctx.base))


@router.delete("/clusters/{cluster_id}")
async def remove_cluster(request: Request, cluster_id: str) -> Response:
    ctx = Ctx(request)
    await ctx.call(ctx.engine.remove_cluster, cluster_id)
    return empty()


@router.get("/schedulingpolicies")
async def list_scheduling_policies(request: Request) -> Response:
    ctx = Ctx(request)
    return ctx.ok(encode_clusters.scheduling_policies(ctx.base))


@router.get("/schedulingpolicies/{policy_id}")
async def get_scheduling_policy(request: Request, policy_id: str) -> Response:
    ctx = Ctx(request)
    for known, name in encode_clusters.SCHEDULING_POLICIES:
        if known == policy_id:
            return ctx.ok(encode_clusters.scheduling_policy(known, name, ctx.base))
    raise NotFound("ACTION_TYPE_FAILED_ENTITY_NOT_FOUND", f"Entity not found: SchedulingPolicy: id={policy_id}")


@router.get("/macpools")
async def list_mac_pools(request: Request) -> Response:
    ctx = Ctx(request)
    return ctx.ok(encode_clusters.mac_pools(ctx.base))


@router.get("/macpools/{pool_id}")
async def get_mac_pool(request: Request, pool_id: str) -> Response:
    ctx = Ctx(request)
    if pool_id != encode_clusters.DEFAULT_MAC_POOL[0]:
        raise NotFound("ACTION_TYPE_FAILED_ENTITY_NOT_FOUND", f"Entity not found: MacPool: id={pool_id}")
    return ctx.ok(encode_clusters.mac_pool(ctx.base))
