"""HTTP routes: handlers parse, call the library or the job manager, and serialise."""

from __future__ import annotations

from aiohttp import web

from addon.routes import (
    esphome,
    jobs,
    packs,
    projects,
    samples,
    satellites,
    speakers,
    system,
    tryit,
)


def setup(app: web.Application) -> None:
    for module in (system, projects, samples, speakers, jobs, esphome, packs, tryit, satellites):
        app.router.add_routes(module.routes)
    packs.setup(app)
    tryit.setup(app)
    satellites.setup(app)
    system.add_static(app)
