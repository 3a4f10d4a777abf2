"""Voice satellites: list them, and run one guided recording session at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from addon.errors import bad_request
from addon.keys import BROADCASTER, LIBRARY, SETTINGS, USER
from addon.routes.common import json_body
from addon.samples import check_speaker
from addon.satellites import SatelliteSessions
from mww_trainer.satellite.session import SessionSpec, Target

routes = web.RouteTableDef()
SESSIONS = web.AppKey("satellite_sessions", SatelliteSessions)


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_service)


async def _service(app: web.Application) -> AsyncIterator[None]:
    app[SESSIONS] = SatelliteSessions(app[SETTINGS], app[LIBRARY], app[BROADCASTER])
    yield
    await app[SESSIONS].close()


@routes.get("/api/satellites")
async def list_satellites(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SESSIONS].listing())


@routes.get("/api/satellites/session")
async def session_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[SESSIONS].status())


@routes.post("/api/projects/{slug}/satellite-session")
async def start_session(request: web.Request) -> web.Response:
    """JSON: satellites (as api/satellites lists them, or their entity ids), label, count,
    speaker (optional), phrases (sound-alikes; the wake word by default), timeout_s."""
    sessions = request.app[SESSIONS]
    project = await request.app[LIBRARY].project(request.match_info["slug"])
    body = await json_body(request)
    listed = {s["entity_id"]: s for s in (await sessions.listing())["satellites"]}
    chosen = body.get("satellites") or []
    if not isinstance(chosen, list) or not all(isinstance(e, str) for e in chosen):
        raise bad_request("satellites: a list of entity ids (assist_satellite.…)")
    unknown = [e for e in chosen if e not in listed]
    if unknown:
        raise bad_request(f"satellites: {', '.join(unknown)} not found in Home Assistant")
    targets = tuple(Target.from_dict(listed[e]) for e in chosen)
    if any(t.device_id is None for t in targets):
        raise bad_request("satellites: a satellite without a device cannot be captured")
    label = body.get("label", "positive")
    phrases = body.get("phrases") or [project.phrase]
    speaker = (body.get("speaker") or "").strip()
    try:
        spec = SessionSpec(
            targets=targets,
            label=label,
            phrases=tuple(str(p) for p in phrases) if label != "positive" else (project.phrase,),
            count=body.get("count", 10),
            speaker=check_speaker(speaker) if speaker else None,
            timeout_s=float(body.get("timeout_s", 15)),
        )
    except (TypeError, ValueError) as err:
        raise bad_request(str(err)) from None
    status = await sessions.start(project, spec, request[USER].label)
    return web.json_response(status, status=202)


@routes.post("/api/satellites/session/resume")
async def resume_session(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SESSIONS].resume(), status=202)


@routes.post("/api/satellites/session/{action}")
async def control_session(request: web.Request) -> web.Response:
    return web.json_response(request.app[SESSIONS].control(request.match_info["action"]))
