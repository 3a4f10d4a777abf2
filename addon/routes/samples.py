"""Samples of a project: list (paged, filtered, searched), upload (files or a zip, streamed),
play, delete one or many (confirmed, the latest delete undoable)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from addon.deleted import TOKEN_PATTERN
from addon.errors import UserError, bad_request, conflict, not_found
from addon.keys import LIBRARY, SETTINGS, STORE, USER
from addon.library import Added
from addon.routes.common import int_param, json_body
from addon.routes.uploads import receive
from addon.samples import check_label, check_speaker
from addon.store import SOURCES, SampleFilter

routes = web.RouteTableDef()
DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_DELETE_IDS = 20000
MAX_SEARCH_CHARS = 200
FLAG_PATTERN = re.compile(r"[a-z_]{1,32}")
UPLOAD_SOURCES = tuple(s for s in SOURCES if s not in ("synthetic", "import"))


@routes.get("/api/projects/{slug}/samples")
async def list_samples(request: web.Request) -> web.Response:
    """One page, newest first: ?label= &source= &flag= (a warning, or any) &q= (words) with
    ?offset= and ?limit= (at most MAX_PAGE); says how many match and their total length."""
    project = await request.app[LIBRARY].project(request.match_info["slug"])
    which = sample_filter(request.query)
    limit = int_param(request, "limit", DEFAULT_PAGE)
    if not 1 <= limit <= MAX_PAGE:
        raise bad_request(f"limit: {limit} is not allowed (1 to {MAX_PAGE})")
    offset = int_param(request, "offset", 0)
    page = await request.app[STORE].find_samples(project.id, which, offset=offset, limit=limit)
    return web.json_response({**page.to_dict(), "offset": offset, "limit": limit})


@routes.post("/api/projects/{slug}/samples/delete")
async def delete_samples(request: web.Request) -> web.Response:
    """{"ids": [...]} or {"filter": {label, source, flag, q}}, with "confirm": how many that is.

    A filter is matched again here: when it no longer means `confirm` samples nothing is
    deleted. The answer's "undo" token puts them back (the latest delete only).
    """
    library, store = request.app[LIBRARY], request.app[STORE]
    project = await library.project(request.match_info["slug"])
    body = await json_body(request)
    if ("ids" in body) == ("filter" in body):
        raise bad_request("send either 'ids' (a list of sample ids) or 'filter', not both")
    if "filter" in body:
        if not isinstance(body["filter"], dict):
            raise bad_request("filter: expected an object of label, source, flag and q")
        samples = await store.matching_samples(project.id, sample_filter(body["filter"]))
    else:
        ids = body["ids"]
        if not isinstance(ids, list) or not all(type(i) is int for i in ids):
            raise bad_request("ids: expected a list of sample ids (whole numbers)")
        if len(ids) > MAX_DELETE_IDS:
            raise bad_request(f"ids: {len(ids)} ids; at most {MAX_DELETE_IDS}, or send a filter")
        samples = await store.matching_samples(project.id, ids=set(ids))
    confirm = body.get("confirm")
    if confirm != len(samples):
        raise conflict(
            f"this would delete {len(samples)} sample{'s' * (len(samples) != 1)}, not {confirm}"
            f" (the list changed since it was shown); look at it again, then delete"
            if type(confirm) is int
            else f"confirm: give the number of samples to delete ({len(samples)})"
        )
    if not samples:
        return web.json_response({"deleted": 0, "undo": None})
    token = await library.delete_samples(project, samples)
    return web.json_response({"deleted": len(samples), "undo": token})


@routes.post("/api/projects/{slug}/samples/undo")
async def undo_delete(request: web.Request) -> web.Response:
    """{"undo": token}: the samples of the latest delete come back, with their ids."""
    library = request.app[LIBRARY]
    project = await library.project(request.match_info["slug"])
    token = (await json_body(request)).get("undo")
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise bad_request("undo: expected the token a delete answered with")
    return web.json_response({"restored": await library.undo_delete(project, token)})


def sample_filter(fields: Mapping[str, Any]) -> SampleFilter:
    """label, source, flag and q from a query string or a JSON object; empty ones are unset."""
    given = {}
    for key in ("label", "source", "flag", "q"):
        value = fields.get(key) or None
        if value is not None and not isinstance(value, str):
            raise bad_request(f"{key}: expected text")
        given[key] = value
    if given["label"] is not None:
        check_label(given["label"])
    if given["source"] is not None and given["source"] not in SOURCES:
        raise bad_request(f"source: {given['source']!r} is not one of {', '.join(SOURCES)}")
    if given["flag"] is not None and not FLAG_PATTERN.fullmatch(given["flag"]):
        raise bad_request(f"flag: {given['flag'][:24]!r} is not a warning's name (or any)")
    text = given["q"] or ""
    if len(text) > MAX_SEARCH_CHARS:
        raise bad_request(f"q: {len(text)} characters; at most {MAX_SEARCH_CHARS}")
    return SampleFilter(given["label"], given["source"], given["flag"], text)


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
