"""create_app(settings): the aiohttp application, its routes and middleware (keys: addon.keys).

Nothing here is global: everything the handlers need hangs off the application under an
AppKey, is made in a cleanup context at start-up and closed at shutdown. This process never
imports TensorFlow; the worker processes do the training.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import shutil
import weakref
from collections.abc import AsyncIterator, Callable, Iterable

from aiohttp import web

from addon import esphome_jobs, jobspec, routes, speakers
from addon.datadir import data_dir_lock
from addon.errors import UserError, error_middleware, error_response
from addon.jobs import WORKER_COMMAND, JobHooks, JobManager
from addon.keys import (
    BROADCASTER,
    DEVICE,
    JOBS,
    LIBRARY,
    ON_JOB_FINISHED,
    ON_JOB_PROGRESS,
    SETTINGS,
    SOCKETS,
    STORE,
    USER,
    WORKER,
    User,
)
from addon.library import Library
from addon.origin import same_origin
from addon.progress import Broadcaster
from addon.settings import INGRESS_REMOTE, Settings
from addon.store import Job, Store
from mww_trainer.packs import PackCache

_LOGGER = logging.getLogger(__name__)
TOKEN_COOKIE = "mww_token"
OPEN_PATHS = ("/api/health",)  # answered without a token (a liveness probe)


Plugin = Callable[[web.Application], None]


def create_app(
    settings: Settings,
    *,
    plugins: Iterable[Plugin] = (),
    worker_command: tuple[str, ...] = WORKER_COMMAND,
) -> web.Application:
    app = web.Application(
        middlewares=[
            error_middleware,
            _ingress_only(settings),
            same_origin(settings),
            _token(settings),
            _user,
        ]
    )
    app[SETTINGS] = settings
    app[BROADCASTER] = Broadcaster()
    app[ON_JOB_FINISHED] = []
    app[ON_JOB_PROGRESS] = []
    app[WORKER] = worker_command
    app[SOCKETS] = weakref.WeakSet()
    app[DEVICE] = {}
    app.cleanup_ctx.append(data_dir_lock(settings.data_dir))  # before anything touches it
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_job_manager)
    app.on_shutdown.append(_close_sockets)
    routes.setup(app)
    for plugin in plugins:
        plugin(app)
    return app


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    tmp = settings.data_dir / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # what a crash left half-done
    tmp.mkdir(parents=True)
    settings.projects_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(settings.db_path)
    app[STORE] = store
    app[LIBRARY] = Library(
        store,
        settings.projects_dir,
        tmp,
        app[BROADCASTER],
        settings.max_upload_bytes,
        packs=PackCache.for_data_dir(settings.data_dir),
    )
    await app[LIBRARY].set_aside_orphans(settings.data_dir / "orphaned")
    yield
    await store.close()


async def _job_manager(app: web.Application) -> AsyncIterator[None]:
    library, settings = app[LIBRARY], app[SETTINGS]

    async def build_spec(job: Job, job_dir) -> dict:
        project = await library.project(job.project_slug)
        if job.kind == "train":
            packs = await asyncio.to_thread(jobspec.installed_pack_dirs, settings.data_dir)
            return await asyncio.to_thread(
                jobspec.train_job,
                job.spec,
                project,
                library.layout(project),
                job_dir,
                negative_pack_dirs=packs,
            )
        if job.kind == "flash":
            return esphome_jobs.flash_spec(job.spec, settings)
        if job.kind == "cluster":
            takes = await speakers.unlabelled(app[STORE], project.id)
            return speakers.cluster_spec(job.spec, takes, library.layout(project))
        if job.kind == "tune":
            source = await app[STORE].get_job(job.spec["from_job"])
            if source is None:
                raise UserError(410, f"job {job.spec['from_job']} was deleted; nothing to improve")
            source_dir = library.layout(project).job_dir(source.id)
            return await asyncio.to_thread(jobspec.tune_job, job.spec, source, source_dir, job_dir)
        voices = await asyncio.to_thread(jobspec.installed_voice_dirs, settings.data_dir)
        return jobspec.synth_job(job.spec, project, job_dir, voice_pack_dirs=voices)

    hooks = JobHooks(
        build_spec=build_spec,
        job_dir=lambda job: library.layout(job.project_slug).job_dir(job.id),
        finishers={"synth": library.file_synthesised},
        on_finished=app[ON_JOB_FINISHED],
        on_progress=app[ON_JOB_PROGRESS],
        scratch_dirs=lambda job: [library.layout(job.project_slug).processed],
    )
    manager = JobManager(
        app[STORE],
        hooks,
        app[BROADCASTER],
        cancel_grace_s=settings.cancel_grace_s,
        max_restarts=settings.max_restarts,
        worker_command=app[WORKER],
    )
    app[JOBS] = manager
    await manager.start()
    yield
    await manager.stop()


async def _close_sockets(app: web.Application) -> None:
    for ws in list(app[SOCKETS]):
        await ws.close(code=1001, message=b"server shutdown")


def _ingress_only(settings: Settings):
    @web.middleware
    async def middleware(request: web.Request, handler):
        if settings.supervisor and request.remote != INGRESS_REMOTE:
            _LOGGER.warning("refused a request from %s: not the ingress proxy", request.remote)
            return error_response(
                403, "only Home Assistant's ingress may reach this add-on; open it from the sidebar"
            )
        return await handler(request)

    return middleware


def _token(settings: Settings):
    @web.middleware
    async def middleware(request: web.Request, handler):
        if not settings.token or request.path in OPEN_PATHS:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else None
        from_query = request.query.get("token")
        given = given or from_query or request.cookies.get(TOKEN_COOKIE)
        if not given or not hmac.compare_digest(given.encode(), settings.token.encode()):
            return error_response(
                401, "this panel needs its access token: open it as ...?token=YOUR_TOKEN"
            )
        response = await handler(request)
        if from_query and isinstance(response, web.Response):
            # The panel's later requests (and its websocket) carry the cookie instead.
            response.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="Strict")
        return response

    return middleware


@web.middleware
async def _user(request: web.Request, handler):
    headers = request.headers
    request[USER] = User(
        id=headers.get("X-Remote-User-Id") or None,
        name=headers.get("X-Remote-User-Name") or None,
        display_name=headers.get("X-Remote-User-Display-Name") or None,
    )
    return await handler(request)
