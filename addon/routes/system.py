"""The panel page, health, shared facts for the panel, and the live-updates websocket."""

from __future__ import annotations

import asyncio
import contextlib
import html
import platform
import re
import shutil
from importlib import metadata
from pathlib import Path

from aiohttp import WSMsgType, web

import addon
from addon import jobspec, targets
from addon.keys import BROADCASTER, DEVICE, JOBS, LIBRARY, SETTINGS, SOCKETS, STORE, USER
from addon.store import LABELS
from mww_trainer.config import PRESET_NAMES

STATIC_DIR = Path(addon.__file__).parent / "static"
INGRESS_PATH = re.compile(r"^/[A-Za-z0-9_\-./]*$")
routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    page = await asyncio.to_thread((STATIC_DIR / "index.html").read_text, "utf-8")
    ingress = request.headers.get("X-Ingress-Path", "").rstrip("/")
    if ingress and INGRESS_PATH.match(ingress):
        # Under ingress the page lives at <ingress path>/; a base keeps relative URLs right
        # even when the browser shows the address without its trailing slash.
        base = f'<base href="{html.escape(ingress, quote=True)}/">'
        page = page.replace("<head>", f"<head>\n  {base}", 1)
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    """503 with quick_check's findings when the database is damaged; otherwise 200."""
    problems = await request.app[STORE].check()
    return web.json_response(
        {
            "status": "damaged" if problems else "ok",
            "database": problems or "ok",
            "orphaned_projects": request.app[LIBRARY].orphaned,
            "version": addon.__version__,
            "python": platform.python_version(),
            "tensorflow": _version("tensorflow"),
            "aiohttp": _version("aiohttp"),
            "device": await _device(request.app),
            "jobs_running": request.app[JOBS].running_count,
        },
        status=503 if problems else 200,
    )


@routes.get("/api/info")
async def info(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return web.json_response(
        {
            "version": addon.__version__,
            "presets": list(PRESET_NAMES),
            "default_preset": settings.default_preset,
            "labels": list(LABELS),
            "targets": targets.served(),
            "synth_defaults": jobspec.SYNTH_DEFAULTS,
            "tune_defaults": jobspec.TUNE_DEFAULTS,
            "synth_bounds": {k: high for k, (_, high) in jobspec.SYNTH_FIELDS.items()},
            "max_upload_mb": settings.max_upload_mb,
            "user": request[USER].to_dict(),
        }
    )


@routes.get("/api/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    broadcaster = request.app[BROADCASTER]
    queue = broadcaster.subscribe()

    async def forward() -> None:
        while True:
            await ws.send_json(await queue.get())

    sender = asyncio.create_task(forward())
    try:
        await ws.send_json({"type": "hello", "version": addon.__version__})
        async for message in ws:
            if message.type == WSMsgType.TEXT and message.data == "ping":
                await ws.send_str("pong")
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        broadcaster.unsubscribe(queue)
    return ws


def add_static(app: web.Application) -> None:
    app.router.add_static("/static/", STATIC_DIR, name="static")

    async def no_cache(request: web.Request, response: web.StreamResponse) -> None:
        if request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-cache"

    app.on_response_prepare.append(no_cache)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


async def _device(app: web.Application) -> str:
    """The accelerator the workers will use: a GPU's name from nvidia-smi, else CPU (cached)."""
    cache = app[DEVICE]
    if "name" not in cache:
        cache["name"] = await _probe_gpu() or "CPU"
    return cache["name"]


async def _probe_gpu() -> str | None:
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return None
    try:
        process = await asyncio.create_subprocess_exec(
            binary, "-L", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    names = [
        m.group(1) for m in re.finditer(r"GPU \d+: (.+?) \(UUID", out.decode(errors="replace"))
    ]
    return ", ".join(names) or None
