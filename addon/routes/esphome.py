"""Install on device: ESPHome devices, preview, deploy and undo, and flash jobs."""

from __future__ import annotations

from aiohttp import web

from addon import esphome_jobs
from addon.errors import bad_request, not_found
from addon.keys import JOBS, LIBRARY, SETTINGS, STORE, USER
from addon.routes.common import int_param, json_body
from addon.store import Job

routes = web.RouteTableDef()


@routes.get("/api/esphome/devices")
async def devices(request: web.Request) -> web.Response:
    return web.json_response(await esphome_jobs.devices(request.app[SETTINGS]))


@routes.post("/api/jobs/{id}/esphome/plan")
async def plan(request: web.Request) -> web.Response:
    job, body = await _model_job(request), await json_body(request)
    manifest = esphome_jobs.model_manifest(job, _job_dir(request, job))
    preview = await esphome_jobs.preview(request.app[SETTINGS], manifest, _device_name(body))
    return web.json_response(preview)


@routes.post("/api/jobs/{id}/esphome/deploy")
async def deploy(request: web.Request) -> web.Response:
    job, body = await _model_job(request), await json_body(request)
    device = _device_name(body)
    if body.get("confirm") is not True:
        raise bad_request(
            f"installing changes {device}'s YAML: look at the preview first, then send"
            ' "confirm": true'
        )
    manifest = esphome_jobs.model_manifest(job, _job_dir(request, job))
    installed = await esphome_jobs.install(request.app[SETTINGS], manifest, device, job)
    return web.json_response(installed)


@routes.post("/api/esphome/devices/{name}/undo")
async def undo(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return web.json_response(await esphome_jobs.undo_last(request.app[SETTINGS], name))


@routes.post("/api/jobs/{id}/esphome/flash")
async def flash(request: web.Request) -> web.Response:
    job, body = await _model_job(request), await json_body(request)
    esphome_jobs.model_manifest(job, _job_dir(request, job))
    flash_request = await esphome_jobs.flash_request(request.app[SETTINGS], job, _device_name(body))
    started = await request.app[JOBS].submit(
        job.project_id, "flash", flash_request, request[USER].label
    )
    return web.json_response({**started.to_dict(), "progress": None}, status=201)


async def _model_job(request: web.Request) -> Job:
    job = await request.app[STORE].get_job(int_param(request, "id"))
    if job is None:
        raise not_found("job")
    return job


def _job_dir(request: web.Request, job: Job):
    return request.app[LIBRARY].layout(job.project_slug).job_dir(job.id)


def _device_name(body: dict) -> str:
    device = body.get("device")
    if not isinstance(device, str) or not device.strip():
        raise bad_request("device: give the device's name or its YAML file name")
    return device
