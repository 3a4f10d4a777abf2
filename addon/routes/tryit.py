"""'Try it' on a trained job: the microphone over a websocket, or one uploaded recording.

The websocket `api/jobs/{id}/try/ws?rate=HZ` takes binary frames of little-endian int16 mono
PCM at the microphone's rate and answers with JSON text: one {"type": "ready", ...}, then
{"type": "slices", "slices": [{t, p, wake}, ...]} as the model scores them. The text "end"
asks for the last scores and a closing {"type": "end"}. Problems arrive as
{"type": "error", "error": "..."} before the socket closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import WSMsgType, web

from addon.errors import UserError, bad_request, conflict, not_found
from addon.keys import LIBRARY, SETTINGS, SOCKETS, STORE
from addon.results import EXPORT_DIR
from addon.routes.common import int_param
from addon.routes.uploads import receive
from addon.store import MODEL_KINDS
from addon.tryit import LOG_NAME, TrySessions, check_rate, last_line, read_message, score_file
from mww_trainer.device.manifest import MANIFEST_NAME

TRY_SESSIONS = web.AppKey("try_sessions", TrySessions)
MAX_FRAME_BYTES = 1 << 20  # one websocket frame of PCM (about 10 s at 48 kHz)
READY_TIMEOUT_S = 60.0
_ENDED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)
routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_sessions)


async def _sessions(app: web.Application) -> AsyncIterator[None]:
    app[TRY_SESSIONS] = sessions = app.get(TRY_SESSIONS) or TrySessions()
    yield
    await sessions.close()


@routes.get("/api/jobs/{id}/try/ws")
async def try_live(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    sessions = request.app[TRY_SESSIONS]
    try:
        rate = check_rate(request.query.get("rate", ""))
        manifest, log_dir = await _model(request)
        async with sessions.process(manifest, ["--rate", str(rate)], log_dir) as process:
            await _relay(ws, process, sessions, log_dir)
    except UserError as exc:
        await ws.send_json({"type": "error", "error": exc.message})
    except ConnectionError:
        pass  # the browser went away
    await ws.close()
    return ws


async def _relay(ws: web.WebSocketResponse, process, sessions: TrySessions, log_dir: Path) -> None:
    try:
        ready = await asyncio.wait_for(read_message(process), READY_TIMEOUT_S)
    except TimeoutError:
        ready = None
    if ready is None:
        reason = last_line(log_dir / LOG_NAME)
        raise UserError(500, f"the model could not be loaded to listen: {reason}")
    await ws.send_json(ready)
    forward = asyncio.create_task(_forward(ws, process))
    try:
        reason = await _feed(ws, process, sessions)
        if reason == "end":
            await forward
            await ws.send_json({"type": "end"})
        elif reason:
            await ws.send_json({"type": "closed", "reason": reason})
    finally:
        forward.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await forward


async def _forward(ws: web.WebSocketResponse, process) -> None:
    """Every line the scoring process writes, as it comes, until it ends."""
    while line := await process.stdout.readline():
        await ws.send_str(line.decode("utf-8").rstrip("\n"))
    if process.returncode not in (None, 0) or not process.stdin.is_closing():
        await ws.send_json({"type": "error", "error": "the scoring process stopped"})
        await ws.close()


async def _feed(ws: web.WebSocketResponse, process, sessions: TrySessions) -> str | None:
    """Audio from the browser to the scoring process; why the session ended (None: closed)."""
    deadline = time.monotonic() + sessions.max_session_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return f"a session lasts at most {sessions.max_session_s / 60:.0f} min; start again"
        try:
            message = await ws.receive(timeout=min(sessions.idle_s, left))
        except TimeoutError:
            if time.monotonic() < deadline:
                return f"no audio for {sessions.idle_s:.0f} s"
            continue
        if message.type == WSMsgType.BINARY:
            try:
                process.stdin.write(message.data)
                await process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                return None  # _forward reports it
        elif message.type == WSMsgType.TEXT and message.data == "end":
            process.stdin.close()
            return "end"
        elif message.type in _ENDED:
            return None


@routes.post("/api/jobs/{id}/try/file")
async def try_file(request: web.Request) -> web.Response:
    manifest, log_dir = await _model(request)
    limit = request.app[SETTINGS].max_upload_bytes
    async with receive(request, request.app[LIBRARY].tmp_dir, limit) as upload:
        if len(upload.files) != 1:
            raise bad_request("send one recording (WAV or FLAC) as the form's 'file' field")
        (file,) = upload.files
        result = await score_file(
            request.app[TRY_SESSIONS], manifest, file.path, log_dir, shown_name=file.filename
        )
    return web.json_response({**result, "name": file.filename})


async def _model(request: web.Request) -> tuple[Path, Path]:
    """The trained job's exported manifest and the job's folder."""
    job = await request.app[STORE].get_job(int_param(request, "id"))
    if job is None:
        raise not_found("job")
    if job.kind not in MODEL_KINDS or job.state != "succeeded":
        raise conflict(f"job {job.id} has no model to try ({job.kind}, {job.state})")
    job_dir = request.app[LIBRARY].layout(job.project_slug).job_dir(job.id)
    manifest = job_dir / EXPORT_DIR / MANIFEST_NAME
    if not manifest.is_file():
        raise UserError(410, f"job {job.id}: its exported model is no longer on disk")
    return manifest, job_dir
