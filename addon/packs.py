"""Speech packs in the panel: the catalog with what is installed, and fetches that stream to disk.

Voice packs (role "voices": piper voice models) are listed and fetched the same way; the
synthesis jobs speak with them, the training jobs never read them as audio.

A fetch is I/O only (download, checksum, unpack), so it runs in a thread of this process
rather than as a worker job (jobs belong to a wake word; packs serve them all). Its progress
goes to the panel's websocket as {"type": "pack", "fetch": {...}} messages; a cancel stops it
at the next chunk and keeps the partial download, which the next fetch resumes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from addon.errors import UserError, conflict
from addon.progress import Broadcaster
from mww_trainer.packs import (
    NEGATIVE,
    VOICES,
    WITHOUT_REAL_SPEECH,
    Catalog,
    DownloadOptions,
    InstalledPack,
    PackCache,
    PackCancelled,
    PackError,
    fetch_pack,
    load_catalog,
)
from mww_trainer.progress import ProgressEvent

_LOGGER = logging.getLogger(__name__)
NO_PACK_NOTICE = f"No speech pack is installed: models will be {WITHOUT_REAL_SPEECH}."
NO_VOICE_PACK_NOTICE = (
    "No voice pack is installed: piper speaks with its own voice only. A voice pack (hundreds "
    "of speakers) makes the wake-word clips far more varied, which is what lets a model wake "
    "for people it never heard."
)


@dataclass
class Fetch:
    """One pack's fetch as the panel sees it."""

    pack_id: str
    cancel: threading.Event = field(default_factory=threading.Event)
    state: str = "running"  # running, succeeded, failed, cancelled
    stage: str = "download"
    done: int = 0
    total: int = 0
    rate_bytes_per_s: float = 0.0
    error: str | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack_id,
            "state": self.state,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "fraction": round(self.done / self.total, 4) if self.total else 0.0,
            "rate_bytes_per_s": self.rate_bytes_per_s,
            "error": self.error,
        }


class PackService:
    def __init__(
        self,
        cache: PackCache,
        broadcaster: Broadcaster,
        *,
        catalog_source: str | None = None,
        options: DownloadOptions | None = None,
    ):
        self.cache, self.broadcaster = cache, broadcaster
        self.catalog_source, self.options = catalog_source, options or DownloadOptions()
        self._catalog: Catalog | None = None
        self._fetches: dict[str, Fetch] = {}

    async def catalog(self) -> Catalog:
        """Loaded once; a catalog that could not be reached is tried again next time."""
        if self._catalog is None:
            self._catalog = await asyncio.to_thread(load_catalog, self.catalog_source)
        return self._catalog

    async def listing(self) -> dict[str, Any]:
        try:
            catalog, error = await self.catalog(), None
        except PackError as exc:
            catalog, error = None, str(exc)
        installed = {p.id: p for p in await asyncio.to_thread(self.cache.all_installed)}
        views = [
            await self._view(p.to_dict(), installed) for p in (catalog.packs if catalog else ())
        ]
        listed = {v["id"] for v in views}
        for pack_id, pack in installed.items():  # installed from another catalog
            if pack_id not in listed:
                view = {"id": pack_id, "title": pack.title, "role": pack.role}
                views.append(await self._view(view, installed))
        has_negatives = any(p.role == NEGATIVE for p in installed.values())
        voices = [p for p in installed.values() if p.role == VOICES]
        return {
            "packs": views,
            "catalog_error": error,
            "notice": None if has_negatives else NO_PACK_NOTICE,
            "voice_packs": [p.id for p in voices],
            "voices_notice": _voices_notice(voices),
        }

    async def _view(self, view: dict[str, Any], installed: dict) -> dict[str, Any]:
        pack_id = view["id"]
        view.pop("files", None)
        done = installed.get(pack_id)
        fetch = self._fetches.get(pack_id)
        view["installed"] = None if done is None else done.to_dict()
        view["partial_bytes"] = await asyncio.to_thread(self.cache.partial_bytes, pack_id)
        view["fetch"] = None if fetch is None else fetch.to_dict()
        return view

    async def start(self, pack_id: str) -> Fetch:
        running = self._fetches.get(pack_id)
        if running is not None and running.state == "running":
            raise conflict(f"{pack_id} is already being fetched")
        try:
            pack = (await self.catalog()).get(pack_id)
        except PackError as exc:
            raise UserError(404, str(exc)) from None
        fetch = Fetch(pack_id, total=pack.size_bytes)
        self._fetches[pack_id] = fetch
        loop = asyncio.get_running_loop()

        def on_progress(event: ProgressEvent) -> None:  # in the fetch's thread
            loop.call_soon_threadsafe(self._progress, fetch, event)

        async def run() -> None:
            try:
                await asyncio.to_thread(
                    fetch_pack,
                    pack,
                    self.cache,
                    on_progress=on_progress,
                    cancel=fetch.cancel,
                    options=self.options,
                )
                fetch.state, fetch.stage, fetch.done = "succeeded", "installed", fetch.total
            except PackCancelled as exc:
                fetch.state, fetch.error = "cancelled", str(exc)
            except PackError as exc:
                fetch.state, fetch.error = "failed", str(exc)
            except Exception:
                _LOGGER.exception("fetching speech pack %s failed", pack_id)
                fetch.state, fetch.error = "failed", "internal error; the add-on's log has more"
            self._publish(fetch)

        fetch.task = asyncio.create_task(run(), name=f"pack-{pack_id}")
        self._publish(fetch)
        return fetch

    def _progress(self, fetch: Fetch, event: ProgressEvent) -> None:
        if fetch.state != "running":
            return
        fetch.stage, fetch.done, fetch.total = event.stage, event.done, event.total
        fetch.rate_bytes_per_s = float(event.metrics.get("rate_bytes_per_s", 0.0))
        self._publish(fetch)

    def _publish(self, fetch: Fetch) -> None:
        self.broadcaster.publish({"type": "pack", "fetch": fetch.to_dict()})

    def fetch(self, pack_id: str) -> Fetch | None:
        return self._fetches.get(pack_id)

    async def cancel(self, pack_id: str) -> Fetch:
        fetch = self._fetches.get(pack_id)
        if fetch is None or fetch.state != "running":
            raise conflict(f"{pack_id} is not being fetched; there is nothing to cancel")
        fetch.cancel.set()
        if fetch.task is not None:
            await asyncio.shield(fetch.task)
        return fetch

    async def remove(self, pack_id: str) -> bool:
        fetch = self._fetches.get(pack_id)
        if fetch is not None and fetch.state == "running":
            raise conflict(f"{pack_id} is being fetched; cancel it first")
        self._fetches.pop(pack_id, None)
        try:
            return await asyncio.to_thread(self.cache.remove, pack_id)
        except PackError as exc:
            raise UserError(404, str(exc)) from None

    async def close(self) -> None:
        """Stops running fetches (their partial downloads stay for the next start)."""
        for fetch in self._fetches.values():
            fetch.cancel.set()
        tasks = [f.task for f in self._fetches.values() if f.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


def _voices_notice(voices: list[InstalledPack]) -> str:
    if not voices:
        return NO_VOICE_PACK_NOTICE
    titles = "; ".join(p.title for p in voices)
    return f"piper also speaks with the installed voice pack(s): {titles}."


PACKS = web.AppKey("packs", PackService)
# Another catalog (a file or an http(s) URL) than the built-in one; tests and benches set it.
PACK_CATALOG = web.AppKey("pack_catalog", str)
