"""Small helpers the route modules share."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from addon.errors import UserError, bad_request

MAX_JSON_BYTES = 256 * 1024
CHUNK_BYTES = 1 << 20


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UserError(
            415, f"{request.path}: send a JSON object with Content-Type: application/json"
        )
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise bad_request(f"the JSON body is larger than {MAX_JSON_BYTES // 1024} KiB")
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("expected a JSON object")
    return data


def int_param(request: web.Request, name: str) -> int:
    value = request.match_info.get(name) or request.query.get(name, "")
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name}: {value!r} is not a number") from None


async def send_file_and_delete(
    request: web.Request, path: Path, filename: str
) -> web.StreamResponse:
    """Streams a temporary file as a download; the file is gone once it is open."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        path.unlink()
        size = os.fstat(handle.fileno()).st_size
        response = web.StreamResponse(
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Content-Type": "application/zip",
            }
        )
        response.content_length = size
        await response.prepare(request)
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        handle.close()
