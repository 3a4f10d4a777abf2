"""Receiving uploads without trusting their size: refuse early, count every byte, clean up.

A declared Content-Length over the limit is refused before a byte of the body is read; a
body without one (chunked) is written to a temporary file while a running count is kept, and
refused the moment the count passes the limit. Either way nothing stays on disk.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from addon.errors import UserError, bad_request

MULTIPART_SLACK = 64 * 1024  # part headers and form fields around the files
MAX_FIELD_BYTES = 4096
MAX_FILES = 200
MAX_NAME_CHARS = 120  # of a file name as messages show it
CHUNK = 256 * 1024


@dataclass
class UploadedFile:
    path: Path
    filename: str
    size: int


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)


def too_large(limit: int) -> UserError:
    return UserError(
        413,
        f"upload refused: larger than the {limit // 2**20} MiB limit (the add-on's max_upload_mb "
        "option); split it into smaller parts",
    )


def check_declared_size(request: web.Request, limit: int) -> None:
    declared = request.content_length
    if declared is not None and declared > limit + MULTIPART_SLACK:
        raise too_large(limit)


@asynccontextmanager
async def receive(request: web.Request, tmp_dir: Path, limit: int) -> AsyncIterator[Upload]:
    """The form fields and files of a multipart upload; the files are gone after the block."""
    check_declared_size(request, limit)
    if not request.content_type.startswith("multipart/"):
        raise bad_request("send the file as multipart/form-data (a form with a 'file' field)")
    folder = tmp_dir / f"upload_{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    try:
        try:
            upload = await _read_parts(request, folder, limit)
        except (ValueError, HttpProcessingError) as exc:
            # aiohttp's reader: a missing or wrong boundary, a body cut short, a part header
            # that is too long or holds a NUL.
            reason = getattr(exc, "message", None) or str(exc)
            raise bad_request(
                f"the upload is not a well-formed multipart/form-data body ({reason[:120]}); "
                "send each file as a 'file' field with a short name"
            ) from None
        yield upload
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def shown_name(filename: str) -> str:
    """A client's file name fit for messages: its last part, no control characters, cut short."""
    name = "".join(c for c in Path(filename.replace("\\", "/")).name if c.isprintable())
    if len(name) > MAX_NAME_CHARS:
        name = f"{name[: MAX_NAME_CHARS - 10]}…{name[-9:]}"
    return name or "upload"


async def _read_parts(request: web.Request, folder: Path, limit: int) -> Upload:
    upload, received = Upload(), 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise bad_request("nested multipart bodies are not accepted")
        if part.filename is None:
            value = await part.read(decode=True)
            if len(value) > MAX_FIELD_BYTES:
                raise bad_request(f"form field {part.name!r} is too long")
            upload.fields[part.name or ""] = value.decode("utf-8", "replace")
            continue
        if len(upload.files) >= MAX_FILES:
            raise bad_request(f"at most {MAX_FILES} files per upload; use a zip for more")
        path = folder / f"file_{len(upload.files)}"
        size = 0
        with path.open("wb") as out:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                received += len(chunk)
                if received > limit:
                    raise too_large(limit)
                out.write(chunk)
        upload.files.append(UploadedFile(path, shown_name(part.filename), size))
    return upload
