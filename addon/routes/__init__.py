"""HTTP routes: handlers parse, call the library or the job manager, and serialise."""

from __future__ import annotations

from aiohttp import web

from addon.routes import esphome, jobs, projects, samples, system


def setup(app: web.Application) -> None:
    for module in (system, projects, samples, jobs, esphome):
        app.router.add_routes(module.routes)
    system.add_static(app)
