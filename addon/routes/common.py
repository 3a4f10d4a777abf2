"""Small helpers the route modules share."""

from __future__ import annotations

import asyncio
import json
import math
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from addon.errors import UserError, bad_request

MAX_JSON_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32  # objects and arrays inside each other
MAX_NUMBER_DIGITS = 18  # any number a request needs fits in a 64-bit integer
MAX_ID = 2**63 - 1  # SQLite's largest integer
CHUNK_BYTES = 1 << 20


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UserError(
            415, f"{request.path}: send a JSON object with Content-Type: application/json"
        )
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise bad_request(f"the JSON body is larger than {MAX_JSON_BYTES // 1024} KiB")
    try:
        data = parse_json(await request.text())
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors too
        raise bad_request(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise bad_request("expected a JSON object")
    return data


def parse_json(text: str) -> Any:
    """json.loads without what a client never needs: NaN, Infinity, huge numbers, deep nesting."""
    depth = max_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nested {depth} levels deep, more than {MAX_JSON_DEPTH}")
    return json.loads(text, parse_constant=_no_constant, parse_int=_int, parse_float=_float)


def max_depth(text: str) -> int:
    """How deep brackets nest, counted without recursion (brackets inside strings count too:
    only a bound is wanted)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number of {len(text)} digits; at most {MAX_NUMBER_DIGITS}")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or len(text) > 64:
        raise ValueError(f"{text[:20]}… is not a number this add-on accepts")
    return value


def int_param(request: web.Request, name: str, default: int | None = None) -> int:
    """A whole-number id or count from the path or the query, 0 to 2**63-1."""
    value = request.match_info.get(name) or request.query.get(name, "")
    if not value and default is not None:
        return default
    if not (value.isascii() and value.isdigit() and int(value) <= MAX_ID):
        raise bad_request(f"{name}: {value[:24]!r} is not allowed (a whole number from 0)")
    return int(value)


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
