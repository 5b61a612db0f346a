"""Cluster (only under `core serve --ha`): every node of the changelog stream, its region, mode,
applied sequence and lag, as `core ha status` shows them, read over this node's own NATS
connection (core/ha/cli.py stream_status)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from core.admin.screen import endpoint, fragment, page, render_page
from core.admin.session import Admin
from core.config import ConfigError
from core.errors import ApiError
from core.ha.cli import stream_status
from core.ui import render as ds_render

NOT_HA = "This server does not run with --ha: there is no cluster to show."


async def _status(admin: Admin) -> dict[str, Any]:
    node = admin.app.services.get("ha")
    if node is None:
        raise ApiError(404, NOT_HA)
    try:
        status = await stream_status(node.js, node.settings.stream.name, node.applied())
    except ConfigError as exc:
        raise ApiError(400, str(exc)) from None
    return {"status": status, "this_node": node.settings.node, "problem": node.problem() or ""}


@get("/_/cluster")
async def cluster_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        return render_page(
            admin, "admin/cluster.html", title="Cluster", active="cluster", **await _status(admin)
        )

    return await page(request, build)


@get("/_/api/cluster")
async def cluster_refresh(request: Request[Any, Any, Any]) -> Response[Any]:
    async def refresh(admin: Admin) -> Response[Any]:
        return ds_render.respond(
            fragment(admin, "admin/partials/cluster_status.html", **await _status(admin))
        )

    return await endpoint(request, refresh)


routes = [cluster_page, cluster_refresh]
