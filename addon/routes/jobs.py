"""Jobs: start training or synthesis, follow them, cancel, and download a trained model."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from aiohttp import web

from addon import estimates, jobspec, results
from addon.errors import bad_request, conflict, not_found
from addon.jobs import LOG_NAME
from addon.keys import JOBS, LIBRARY, SETTINGS, STORE, USER
from addon.progress import Progress
from addon.routes.common import int_param, json_body, send_file_and_delete
from addon.store import MODEL_KINDS, Job
from mww_trainer import jobfiles

routes = web.RouteTableDef()
LOG_TAIL_BYTES = 64 * 1024
# A training job needs some of each; named as the panel names them.
EMPTY_NAMES = {"positive": "wake-word clips", "negative": "other speech"}


@routes.post("/api/projects/{slug}/train")
async def start_training(request: web.Request) -> web.Response:
    library, settings = request.app[LIBRARY], request.app[SETTINGS]
    project = await library.project(request.match_info["slug"])
    train = jobspec.train_request(await json_body(request), settings.default_preset)
    layout = library.layout(project)
    # Check the configuration now, so the user sees a mistake before anything is queued.
    await asyncio.to_thread(jobspec.train_job, train, project, layout, layout.job_dir(0))
    counts = await request.app[STORE].sample_counts(project.id)
    missing = [name for label, name in EMPTY_NAMES.items() if not counts[label]["count"]]
    if missing:
        raise bad_request(
            f"no {' and no '.join(missing)} yet: record, upload or generate some first"
        )
    job = await request.app[JOBS].submit(project.id, "train", train, request[USER].label)
    # Below a minimum the panel asked first; the job still says what it started without.
    below = (await library.summary(project))["below_minimum"]
    view = await _job_view(request.app, job) | {"below_minimum": below}
    return web.json_response(view, status=201)


@routes.get("/api/train/estimates")
async def train_estimates(request: web.Request) -> web.Response:
    """How long each preset will take here, from the finished training jobs' speed."""
    jobs = await request.app[STORE].list_jobs()
    return web.json_response(estimates.estimates(jobs))


@routes.post("/api/projects/{slug}/synth")
async def start_synthesis(request: web.Request) -> web.Response:
    project = await request.app[LIBRARY].project(request.match_info["slug"])
    synth = jobspec.synth_request(await json_body(request))
    job = await request.app[JOBS].submit(project.id, "synth", synth, request[USER].label)
    return web.json_response(await _job_view(request.app, job), status=201)


@routes.post("/api/jobs/{id}/improve")
async def improve_model(request: web.Request) -> web.Response:
    """{target_fah, target_recall}: a tune job from this model job's best checkpoint."""
    source = await _job(request)
    tune = jobspec.tune_request(await json_body(request), source)
    job = await request.app[JOBS].submit(source.project_id, "tune", tune, request[USER].label)
    return web.json_response(await _job_view(request.app, job), status=201)


@routes.get("/api/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    project_id = None
    if slug := request.query.get("project"):
        project_id = (await request.app[LIBRARY].project(slug)).id
    jobs = await request.app[STORE].list_jobs(project_id)
    manager = request.app[JOBS]
    return web.json_response(
        {
            "jobs": [
                {
                    **job.to_dict(),
                    "result": results.with_verdict(job),
                    "progress": manager.progress(job.id),
                }
                for job in jobs
            ]
        }
    )


@routes.get("/api/jobs/{id}")
async def get_job(request: web.Request) -> web.Response:
    job = await _job(request)
    return web.json_response(await _job_view(request.app, job, with_progress=True))


@routes.get("/api/jobs/{id}/events")
async def job_events(request: web.Request) -> web.Response:
    after = int_param(request, "after", default=0)
    job = await _job(request)
    return web.json_response({"events": await request.app[STORE].job_events(job.id, after)})


@routes.get("/api/jobs/{id}/log")
async def job_log(request: web.Request) -> web.Response:
    job = await _job(request)
    path = _job_dir(request.app, job) / LOG_NAME
    text = await asyncio.to_thread(_tail, path, LOG_TAIL_BYTES)
    return web.Response(text=text, content_type="text/plain")


@routes.get("/api/jobs/{id}/config")
async def job_config(request: web.Request) -> web.StreamResponse:
    job = await _job(request)
    path = _job_dir(request.app, job) / jobfiles.JOB_FILE
    if not path.is_file():
        raise not_found(f"job {job.id} has not started yet; its job.json")
    return web.FileResponse(path, headers={"Content-Type": "application/json"})


@routes.post("/api/jobs/{id}/cancel")
async def cancel_job(request: web.Request) -> web.Response:
    job = await request.app[JOBS].cancel(int_param(request, "id"))
    return web.json_response(await _job_view(request.app, job))


@routes.post("/api/jobs/{id}/retry")
async def retry_job(request: web.Request) -> web.Response:
    job = await request.app[JOBS].retry(int_param(request, "id"))
    return web.json_response(await _job_view(request.app, job))


@routes.get("/api/jobs/{id}/download")
async def download(request: web.Request) -> web.StreamResponse:
    job = await _job(request)
    if job.kind not in MODEL_KINDS or job.state != "succeeded":
        raise conflict(f"job {job.id} has no model to download ({job.kind}, {job.state})")
    library = request.app[LIBRARY]
    path = await asyncio.to_thread(
        results.model_zip, job, _job_dir(request.app, job), library.tmp_dir
    )
    return await send_file_and_delete(request, path, f"{job.project_slug}_job{job.id}.zip")


@routes.get("/api/jobs/{id}/det.png")
async def det_curve(request: web.Request) -> web.StreamResponse:
    job = await _job(request)
    path = _job_dir(request.app, job) / results.DET_NAME
    if not path.is_file():
        raise not_found(f"a DET curve for job {job.id}")
    return web.FileResponse(path, headers={"Content-Type": "image/png"})


@routes.delete("/api/jobs/{id}")
async def delete_job(request: web.Request) -> web.Response:
    job = await _job(request)
    if request.query.get("confirm") != str(job.id):
        raise bad_request(
            f"deleting job {job.id} removes its model and logs; confirm with ?confirm={job.id}"
        )
    if not job.finished:
        raise conflict(f"job {job.id} is {job.state}; cancel it first")
    await request.app[STORE].delete_job(job.id)
    await asyncio.to_thread(shutil.rmtree, _job_dir(request.app, job), True)
    return web.json_response({"deleted": job.id})


async def _job(request: web.Request) -> Job:
    job = await request.app[STORE].get_job(int_param(request, "id"))
    if job is None:
        raise not_found("job")
    return job


def _job_dir(app: web.Application, job: Job) -> Path:
    return app[LIBRARY].layout(job.project_slug).job_dir(job.id)


async def _job_view(app: web.Application, job: Job, *, with_progress: bool = False) -> dict:
    view = job.to_dict() | {"result": results.with_verdict(job)}
    progress = app[JOBS].progress(job.id)
    if progress is None and with_progress:
        progress = Progress.from_events(await app[STORE].job_events(job.id)).to_dict()
    view["progress"] = progress
    view["has_det"] = (_job_dir(app, job) / results.DET_NAME).is_file()
    return view


def _tail(path: Path, size: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
