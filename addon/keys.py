"""What the handlers share: the application's parts under typed AppKeys, and who asked.

Routes, notifications and plugins import their keys from here, never from `addon.app`, which
builds the application from the routes: one direction, no import cycle.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from addon.jobs import JobManager
from addon.library import Library
from addon.progress import Broadcaster
from addon.settings import Settings
from addon.store import Job, Store


@dataclass(frozen=True)
class User:
    """Who made a request, from the headers Home Assistant's ingress proxy adds."""

    id: str | None = None
    name: str | None = None
    display_name: str | None = None

    @property
    def label(self) -> str | None:
        return self.display_name or self.name or self.id

    def to_dict(self) -> dict[str, str | None]:
        return {"id": self.id, "name": self.name, "display_name": self.display_name}


SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
LIBRARY = web.AppKey("library", Library)
JOBS = web.AppKey("jobs", JobManager)
BROADCASTER = web.AppKey("broadcaster", Broadcaster)
# Called with each job once it has ended (succeeded, failed or cancelled): add-on notifications
# (MQTT, Home Assistant) append their coroutine functions here.
ON_JOB_FINISHED = web.AppKey("on_job_finished", list[Callable[[Job], Awaitable[None]]])
# Called with a running job and its progress summary (addon.progress.Progress.to_dict()) each
# time new progress events of it arrive; a listener limits its own rate (MQTT does).
ON_JOB_PROGRESS = web.AppKey(
    "on_job_progress", list[Callable[[Job, dict[str, Any]], Awaitable[None]]]
)
WORKER = web.AppKey("worker_command", tuple)
SOCKETS = web.AppKey("websockets", weakref.WeakSet)
DEVICE = web.AppKey("device", dict)
USER = web.RequestKey("user", User)
