"""Samples of a project: list, upload (files or a zip, streamed), play, delete (confirmed)."""

from __future__ import annotations

import zipfile

from aiohttp import web

from addon.app import LIBRARY, SETTINGS, STORE, USER
from addon.errors import UserError, bad_request, not_found
from addon.library import Added
from addon.routes.common import int_param
from addon.routes.uploads import receive
from addon.samples import check_label, check_speaker
from addon.store import SOURCES

routes = web.RouteTableDef()
UPLOAD_SOURCES = tuple(s for s in SOURCES if s not in ("synthetic", "import"))


@routes.get("/api/projects/{slug}/samples")
async def list_samples(request: web.Request) -> web.Response:
    project = await request.app[LIBRARY].project(request.match_info["slug"])
    label = request.query.get("label")
    if label is not None:
        check_label(label)
    samples = await request.app[STORE].list_samples(project.id, label)
    return web.json_response({"samples": [s.to_dict() for s in samples]})


@routes.post("/api/projects/{slug}/samples")
async def upload_samples(request: web.Request) -> web.Response:
    """multipart/form-data: label, speaker, source (browser/upload/satellite/room), trim, file(s).

    A zip adds every audio file in it; unreadable files are listed as skipped.
    """
    library, settings = request.app[LIBRARY], request.app[SETTINGS]
    project = await library.project(request.match_info["slug"])
    user = request[USER].label
    async with receive(request, library.tmp_dir, settings.max_upload_bytes) as upload:
        fields = upload.fields
        label = check_label(fields.get("label", ""))
        source = fields.get("source") or "upload"
        if source not in UPLOAD_SOURCES:
            raise bad_request(f"source: {source!r} is not one of {', '.join(UPLOAD_SOURCES)}")
        speaker = fields.get("speaker", "").strip()
        speaker = check_speaker(speaker) if speaker else None
        trim = fields.get("trim", "true" if source == "browser" else "false") == "true"
        if not upload.files:
            raise bad_request("no file in the upload; add it as the 'file' field")
        added = Added([], [])
        for item in upload.files:
            if zipfile.is_zipfile(item.path):
                result = await library.add_zip(
                    project,
                    item.path,
                    label=label,
                    speaker=speaker,
                    source=source,
                    trim=trim,
                    user=user,
                )
            else:
                try:
                    result = await library.add_file(
                        project,
                        item.path,
                        filename=item.filename,
                        label=label,
                        speaker=speaker or user or "upload",
                        source=source,
                        trim=trim,
                        user=user,
                    )
                except UserError as exc:
                    if len(upload.files) == 1:
                        raise
                    result = Added([], [exc.message])
            added.samples.extend(result.samples)
            added.skipped.extend(result.skipped)
    if not added.samples and added.skipped:
        raise UserError(415, "no usable audio: " + "; ".join(added.skipped[:5]))
    return web.json_response(added.to_dict(), status=201)


@routes.get("/api/projects/{slug}/samples/{id}/audio")
async def sample_audio(request: web.Request) -> web.StreamResponse:
    library = request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    sample = await request.app[STORE].get_sample(project.id, int_param(request, "id"))
    if sample is None:
        raise not_found("sample")
    path = library.layout(project).root / sample.path
    if not path.is_file():
        raise not_found(f"the audio file of sample {sample.id}")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


@routes.delete("/api/projects/{slug}/samples/{id}")
async def delete_sample(request: web.Request) -> web.Response:
    library = request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    sample_id = int_param(request, "id")
    sample = await request.app[STORE].get_sample(project.id, sample_id)
    if sample is None:
        raise not_found("sample")
    if request.query.get("confirm") != str(sample_id):
        raise bad_request(
            f"deleting sample {sample_id} removes its audio; confirm with ?confirm={sample_id}"
        )
    await library.delete_sample(project, sample)
    return web.json_response({"deleted": sample_id})
