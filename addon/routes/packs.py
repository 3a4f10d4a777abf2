"""Speech packs: list them (size, licence, installed), fetch one after one confirmation,
follow or cancel the fetch, remove an installed pack.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from addon.errors import UserError, bad_request, not_found
from addon.keys import BROADCASTER, SETTINGS
from addon.packs import PACK_CATALOG, PACKS, PackService
from addon.routes.common import json_body
from mww_trainer.packs import Pack, PackCache, PackError, PackUnavailable, human_size

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_service)


async def _service(app: web.Application) -> AsyncIterator[None]:
    cache = PackCache.for_data_dir(app[SETTINGS].data_dir)
    service = PackService(cache, app[BROADCASTER], catalog_source=app.get(PACK_CATALOG))
    app[PACKS] = service
    yield
    await service.close()


@routes.get("/api/packs")
async def list_packs(request: web.Request) -> web.Response:
    return web.json_response(await request.app[PACKS].listing())


@routes.post("/api/packs/{id}/fetch")
async def start_fetch(request: web.Request) -> web.Response:
    body = await json_body(request)
    pack = await _pack(request)
    if body.get("confirm") is not True:
        raise bad_request(
            f"fetching {pack.id} downloads {human_size(pack.size_bytes)} ({pack.licence}); "
            'look at its size and licence, then send "confirm": true'
        )
    fetch = await request.app[PACKS].start(pack.id)
    return web.json_response(fetch.to_dict(), status=202)


@routes.get("/api/packs/{id}/fetch")
async def fetch_status(request: web.Request) -> web.Response:
    fetch = request.app[PACKS].fetch(request.match_info["id"])
    if fetch is None:
        raise not_found(f"a fetch of {request.match_info['id']}")
    return web.json_response(fetch.to_dict())


@routes.post("/api/packs/{id}/cancel")
async def cancel_fetch(request: web.Request) -> web.Response:
    fetch = await request.app[PACKS].cancel(request.match_info["id"])
    return web.json_response(fetch.to_dict())


@routes.delete("/api/packs/{id}")
async def remove_pack(request: web.Request) -> web.Response:
    pack_id = request.match_info["id"]
    if request.query.get("confirm") != pack_id:
        raise bad_request(f"removing {pack_id} deletes its audio; confirm with ?confirm={pack_id}")
    if not await request.app[PACKS].remove(pack_id):
        raise not_found(f"an installed pack {pack_id}")
    return web.json_response({"removed": pack_id})


async def _pack(request: web.Request) -> Pack:
    service = request.app[PACKS]
    try:
        catalog = await service.catalog()
    except PackUnavailable as exc:
        raise UserError(503, str(exc)) from None
    try:
        return catalog.get(request.match_info["id"])
    except PackError as exc:
        raise UserError(404, str(exc)) from None
