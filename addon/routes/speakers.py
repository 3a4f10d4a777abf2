"""Group by speaker: start the grouping job, see where it stands, apply its groups, undo."""

from __future__ import annotations

import asyncio

from aiohttp import web

from addon import speakers
from addon.errors import conflict
from addon.keys import BROADCASTER, JOBS, LIBRARY, STORE, USER
from addon.routes.common import json_body
from addon.store import Project

routes = web.RouteTableDef()


@routes.get("/api/projects/{slug}/speakers")
async def speaker_groups(request: web.Request) -> web.Response:
    """How many takes are unlabelled, the latest grouping job, and what can be undone."""
    store, library = request.app[STORE], request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    takes = await speakers.unlabelled(store, project.id)
    jobs = [j for j in await store.list_jobs(project.id) if j.kind == "cluster"]
    layout = library.layout(project)
    undo = None
    if (layout.root / speakers.UNDO_FILE).is_file():
        record = await asyncio.to_thread(speakers.read_undo, layout)
        undo = {"job": record.get("job"), "moved": len(record.get("moves", []))}
    latest = jobs[0].to_dict() if jobs else None
    return web.json_response({"unlabelled": len(takes), "job": latest, "undo": undo})


@routes.post("/api/projects/{slug}/speakers/group")
async def start_grouping(request: web.Request) -> web.Response:
    """{n_clusters: N | null}: a job that listens to the unlabelled takes and groups them."""
    store, library = request.app[STORE], request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    wanted = speakers.group_request(await json_body(request))
    takes = await speakers.unlabelled(store, project.id)
    speakers.cluster_spec(wanted, takes, library.layout(project))  # a mistake is said now
    job = await request.app[JOBS].submit(project.id, "cluster", wanted, request[USER].label)
    return web.json_response(job.to_dict(), status=201)


@routes.post("/api/projects/{slug}/speakers/apply")
async def apply_groups(request: web.Request) -> web.Response:
    """{job: id, names: ["Anna", "", ...]}: each group's takes get its speaker."""
    store, library = request.app[STORE], request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    body = await json_body(request)
    job_id = body.get("job")
    job = await store.get_job(job_id) if isinstance(job_id, int) else None
    result = speakers.check_cluster_job(job, project)
    _refuse_while_busy(request, project)
    taken = {s.speaker for s in await store.list_samples(project.id)}
    names = speakers.group_names(len(result["groups"]), taken, body.get("names"))
    ids = [i for group in result["groups"] for i in group["sample_ids"]]
    current = {s.id: s for s in await store.matching_samples(project.id, ids=ids)}
    layout = library.layout(project)
    moves = speakers.plan_moves(layout, result["groups"], names, current)
    if not moves:
        raise conflict("none of these takes is still unlabelled; group them again")
    record = {"job": job.id, "moves": moves}
    await asyncio.to_thread(speakers.apply_moves, layout, record)
    await store.move_samples(project.id, [(m["id"], m["speaker"][1], m["path"][1]) for m in moves])
    request.app[BROADCASTER].publish({"type": "samples", "project": project.slug})
    return web.json_response({"moved": len(moves), "speakers": names})


@routes.post("/api/projects/{slug}/speakers/undo")
async def undo_groups(request: web.Request) -> web.Response:
    store, library = request.app[STORE], request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    _refuse_while_busy(request, project)
    layout = library.layout(project)
    record = await asyncio.to_thread(speakers.read_undo, layout)
    ids = [int(m["id"]) for m in record.get("moves", [])]
    current = {s.id: s for s in await store.matching_samples(project.id, ids=ids)}
    back = await asyncio.to_thread(speakers.undo_moves, layout, record, current)
    await store.move_samples(project.id, back)
    request.app[BROADCASTER].publish({"type": "samples", "project": project.slug})
    return web.json_response({"restored": len(back)})


def _refuse_while_busy(request: web.Request, project: Project) -> None:
    """A training reads the folders and the split file these moves change."""
    if request.app[JOBS].is_busy(project.id):
        raise conflict(f"a job of {project.slug!r} is running; change speakers once it ends")
