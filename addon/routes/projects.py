"""Wake-word projects: create, list, show, delete (confirmed), export and import as a zip."""

from __future__ import annotations

from aiohttp import web

from addon.errors import bad_request, conflict
from addon.keys import JOBS, LIBRARY, SETTINGS, STORE, USER
from addon.projects import check_project_fields
from addon.routes.common import json_body, send_file_and_delete
from addon.routes.uploads import receive

routes = web.RouteTableDef()


@routes.get("/api/projects")
async def list_projects(request: web.Request) -> web.Response:
    library = request.app[LIBRARY]
    projects = await request.app[STORE].list_projects()
    return web.json_response({"projects": [await library.summary(p) for p in projects]})


@routes.post("/api/projects")
async def create_project(request: web.Request) -> web.Response:
    user = request[USER]
    fields = check_project_fields(await json_body(request), default_author=user.label)
    project = await request.app[LIBRARY].create_project({**fields, "created_by": user.label})
    return web.json_response(await request.app[LIBRARY].summary(project), status=201)


@routes.get("/api/projects/{slug}")
async def get_project(request: web.Request) -> web.Response:
    library = request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    return web.json_response(await library.summary(project))


@routes.delete("/api/projects/{slug}")
async def delete_project(request: web.Request) -> web.Response:
    library = request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    confirm = request.query.get("confirm")
    if confirm is None and request.can_read_body:
        confirm = (await json_body(request)).get("confirm")
    if confirm != project.slug:
        raise bad_request(
            f"deleting {project.slug!r} removes all its samples and models; type its name, "
            f"{project.slug}, to confirm"
        )
    if request.app[JOBS].is_busy(project.id):
        raise conflict(f"a job of {project.slug!r} is running; cancel it first")
    await library.delete_project(project)
    return web.json_response({"deleted": project.slug})


@routes.get("/api/projects/{slug}/export")
async def export_project(request: web.Request) -> web.StreamResponse:
    library = request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    path = await library.export_zip(project)
    return await send_file_and_delete(request, path, f"{project.slug}_project.zip")


@routes.post("/api/projects/import")
async def import_project(request: web.Request) -> web.Response:
    library, settings = request.app[LIBRARY], request.app[SETTINGS]
    async with receive(request, library.tmp_dir, settings.max_upload_bytes) as upload:
        if len(upload.files) != 1:
            raise bad_request("send exactly one project zip in the 'file' field")
        project = await library.import_zip(
            upload.files[0].path,
            slug=upload.fields.get("slug") or request.query.get("slug"),
            user=request[USER].label,
        )
    return web.json_response(await library.summary(project), status=201)
