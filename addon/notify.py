"""Tell the household about jobs: MQTT (message + entities) and a Home Assistant notification.

``JobNotifier`` fans a ``JobSummary`` out to MQTT and Home Assistant; ``setup(app)`` is the
plugin hook ``python -m addon`` calls, which builds one at start-up and registers it for the
progress and the end of training jobs. MQTT publishing never blocks (see addon.mqtt); the
notification is one HTTP call to Core's REST API: through the Supervisor's proxy inside Home
Assistant, or standalone straight to ``homeassistant_url`` with its long-lived token (the one
the satellites use). A failure here is logged and shown in ``status``; it never changes the
job's result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from addon.keys import ON_JOB_FINISHED, ON_JOB_PROGRESS, SETTINGS, STORE
from addon.mqtt import JobSummary, MqttNotifier, MqttSettings
from addon.supervisor import SupervisorClient, SupervisorError
from mww_trainer.satellite.client import HomeAssistant

__all__ = [
    "NOTIFIER",
    "CoreNotifications",
    "JobNotifier",
    "JobSummary",
    "NotificationFailed",
    "format_notification",
    "progress_percent",
    "resolve_mqtt_settings",
    "setup",
    "summary_from_job",
]

_LOGGER = logging.getLogger(__name__)

SUCCESS_STATES = {"succeeded", "success", "done", "finished", "completed"}
PANEL_MARKER = ".panel_shown"  # in the data folder: the sidebar entry was turned on once


async def resolve_mqtt_settings(
    *,
    host: str | None,
    port: int | None = None,
    username: str | None = None,
    password: str | None = None,
    topic_prefix: str = "mww_trainer",
    supervisor: SupervisorClient | None = None,
) -> tuple[MqttSettings | None, str]:
    """The broker to use and why: the options' mqtt_host if set, else the Supervisor's broker.

    Returns (None, reason) when there is no broker; the reason is for the log and the panel.
    """
    if host:
        settings = MqttSettings(
            host=host,
            port=port or 1883,
            username=username or None,
            password=password or None,
            topic_prefix=topic_prefix,
        )
        return settings, f"MQTT broker from the options: {host}:{settings.port}"
    if supervisor is None:
        return None, "MQTT is off: no mqtt_host is set and there is no Supervisor to ask"
    try:
        offered = await supervisor.mqtt_service()
    except SupervisorError as err:
        return None, f"MQTT is off: {err}"
    if offered is None:
        return None, (
            "MQTT is off: the Supervisor offers no broker (install the Mosquitto broker add-on, "
            "or set mqtt_host)"
        )
    settings = dataclasses.replace(offered, topic_prefix=topic_prefix)
    return settings, f"MQTT broker from the Supervisor: {settings.host}:{settings.port}"


def format_notification(summary: JobSummary) -> tuple[str, str]:
    """Title and Markdown message for Home Assistant's persistent notification."""
    word = summary.wake_word
    if summary.state in SUCCESS_STATES:
        verdict = summary.verdict or {}
        label = f": {verdict['label']}" if verdict.get("label") else ""
        title = f"Wake word “{word}” is trained{label}"
        lines = [f"Training finished{_took(summary.duration_s)}."]
        if verdict:
            lines += _verdict_lines(verdict)
        else:
            lines += [
                f"- {name}: {_number(value)}" for name, value in list(summary.metrics.items())[:8]
            ]
        if summary.model_path:
            lines.append(f"\nModel: `{summary.model_path}`")
    else:
        title = f"Training “{word}” {summary.state}"
        lines = [f"The job ended{_took(summary.duration_s)} without a model."]
        if summary.error:
            lines.append(f"\n{summary.error}")
    lines.append(f"\nJob {summary.job_id}; open the Wake word trainer panel for details.")
    return title, "\n".join(lines)


def _verdict_lines(verdict: dict[str, Any]) -> list[str]:
    """The verdict (mww_trainer.evaluation.verdict), its figures and what to do, as Markdown."""
    lines = [f"\n**{verdict.get('headline', '')}**", ""]
    lines += [f"- {f['text']} ({f['measured_on']})" for f in verdict.get("figures") or []]
    actions = verdict.get("actions") or []
    if actions:
        lines += ["", "What to do:", *(f"- {action}" for action in actions)]
    return lines


class NotificationFailed(Exception):
    """Home Assistant could not be reached or refused the notification; the message says why."""


class Notifies(Protocol):
    async def notify(self, title: str, message: str, notification_id: str | None = None): ...


class CoreNotifications:
    """`persistent_notification.create` through Core's REST API at a URL, with a long-lived token.

    Standalone only: inside Home Assistant the Supervisor's client sends the same call through
    its proxy (`/core/api/...`).
    """

    def __init__(self, ha: HomeAssistant, *, timeout_s: float = 10.0):
        self.ha = ha
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def notify(self, title: str, message: str, notification_id: str | None = None) -> None:
        body = {"title": title, "message": message}
        if notification_id:
            body["notification_id"] = notification_id
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = f"{self.ha.url}/api/services/persistent_notification/create"
        headers = {"Authorization": f"Bearer {self.ha.token}"}
        try:
            async with self._session.post(url, json=body, headers=headers) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise NotificationFailed(
                f"cannot reach Home Assistant at {self.ha.url} ({err or type(err).__name__})"
            ) from None
        if response.status == 401:
            raise NotificationFailed(
                f"Home Assistant at {self.ha.url} refused the access token "
                "(homeassistant_token): make a new long-lived token and give it again"
            )
        if response.status >= 400:
            raise NotificationFailed(
                f"Home Assistant at {self.ha.url} answered {response.status}: {text[:200]}"
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class JobNotifier:
    """Fans a job's news out to MQTT and Home Assistant; either part may be absent.

    The notification goes through the Supervisor (`supervisor`) or, standalone, straight to
    Home Assistant (`home_assistant`).
    """

    def __init__(
        self,
        *,
        mqtt: MqttNotifier | None,
        supervisor: SupervisorClient | None,
        notifications: bool = True,
        mqtt_reason: str = "",
        home_assistant: CoreNotifications | None = None,
    ):
        self.mqtt = mqtt
        self.supervisor = supervisor
        self._sender: Notifies | None = supervisor or home_assistant
        self.notifications = notifications and self._sender is not None
        self._mqtt_reason = mqtt_reason or ("MQTT is off" if mqtt is None else "")
        self._notify_status = "on" if self.notifications else "off"

    @property
    def status(self) -> dict[str, str]:
        """For the panel: one line about MQTT and one about notifications."""
        return {
            "mqtt": self.mqtt.status if self.mqtt is not None else self._mqtt_reason,
            "notifications": self._notify_status,
        }

    def job_progress(self, summary: JobSummary) -> None:
        if self.mqtt is not None:
            self.mqtt.publish_progress(summary)

    async def job_finished(self, summary: JobSummary) -> None:
        if self.mqtt is not None:
            self.mqtt.publish_job_finished(summary)
        if self.notifications and self._sender is not None:
            title, message = format_notification(summary)
            try:
                await self._sender.notify(title, message, f"mww_trainer_{summary.slug}")
            except (SupervisorError, NotificationFailed) as err:
                _LOGGER.warning("Home Assistant notification not sent: %s", err)
                self._notify_status = f"last notification failed: {err}"
            else:
                self._notify_status = "on"


NOTIFIER = web.AppKey("notifier", JobNotifier)


def setup(app: web.Application) -> None:
    """Plugin hook: notifications for the web app (``python -m addon`` calls it at start-up)."""
    app.cleanup_ctx.append(_notifications)


async def _notifications(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    token = getattr(settings, "supervisor_token", None)
    supervisor = SupervisorClient(token=token) if token else None
    mqtt_settings, reason = await resolve_mqtt_settings(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        username=settings.mqtt_username,
        password=settings.mqtt_password,
        topic_prefix=settings.mqtt_topic_prefix,
        supervisor=supervisor,
    )
    _LOGGER.info(reason)
    mqtt = MqttNotifier(mqtt_settings) if mqtt_settings is not None else None
    if mqtt is not None:
        mqtt.start()
    if supervisor is not None:
        try:
            await supervisor.show_panel_once(settings.data_dir / PANEL_MARKER)
        except SupervisorError as err:
            _LOGGER.warning("could not put the panel in the sidebar: %s", err)
    wanted = getattr(settings, "homeassistant_notifications", None)
    if wanted is None:
        wanted = getattr(settings, "homeassistant_api", True)
    core = None
    ha_url = getattr(settings, "homeassistant_url", None)
    ha_token = getattr(settings, "homeassistant_token", None)
    if supervisor is None and ha_url and ha_token:  # standalone, with the satellites' token
        core = CoreNotifications(HomeAssistant(ha_url, ha_token))
        _LOGGER.info("notifications: Home Assistant at %s", ha_url)
    notifier = JobNotifier(
        mqtt=mqtt,
        supervisor=supervisor,
        notifications=bool(wanted),
        mqtt_reason=reason,
        home_assistant=core,
    )
    app[NOTIFIER] = notifier
    _listen(app, notifier)
    yield
    if mqtt is not None:
        await asyncio.to_thread(mqtt.stop)
    if supervisor is not None:
        await supervisor.close()
    if core is not None:
        await core.close()


def _listen(app: web.Application, notifier: JobNotifier) -> None:
    """Training jobs' progress and ends reach the notifier (synthesis and flashing do not)."""
    phrases: dict[tuple[str, Any], str] = {}  # the wake word as the user typed it

    async def phrase_of(job: Any) -> str | None:
        key = (job.project_slug, getattr(job, "project_id", None))  # a slug may be reused
        if key not in phrases:
            project = await app[STORE].get_project(job.project_slug)
            if project is None:
                return None
            phrases[key] = project.phrase
        return phrases[key]

    async def on_finished(job: Any) -> None:
        if getattr(job, "kind", "train") == "train":
            summary = summary_from_job(job, phrase=await phrase_of(job))
            if summary.state in SUCCESS_STATES:  # the progress sensor ends at 100 %
                summary = dataclasses.replace(summary, progress_percent=100.0, stage="done")
            await notifier.job_finished(summary)

    async def on_progress(job: Any, progress: dict[str, Any]) -> None:
        if getattr(job, "kind", "train") == "train":
            summary = dataclasses.replace(
                summary_from_job(job, phrase=await phrase_of(job)),
                progress_percent=progress_percent(progress),
                stage=progress.get("stage") or None,
            )
            notifier.job_progress(summary)  # MqttNotifier limits the rate

    app[ON_JOB_FINISHED].append(on_finished)
    app[ON_JOB_PROGRESS].append(on_progress)


def summary_from_job(job: Any, *, phrase: str | None = None) -> JobSummary:
    """A JobSummary from the web app's job record (addon.store.Job) and its worker result.

    `phrase`: the wake word as the user typed it (the project's); without it, the one the
    worker reports, and only then the slug.
    """
    result = getattr(job, "result", None) or {}
    slug = job.project_slug
    started, finished = getattr(job, "started_at", None), getattr(job, "finished_at", None)
    return JobSummary(
        job_id=str(job.id),
        slug=slug,
        wake_word=phrase or result.get("wake_word") or slug.replace("_", " "),
        state=job.state,
        verdict=result.get("verdict"),
        metrics=dict(result.get("metrics") or {}),
        model_path=result.get("tflite"),
        duration_s=round(finished - started, 1) if started and finished else None,
        error=getattr(job, "error", None),
        finished_at=(
            datetime.fromtimestamp(finished, UTC).isoformat(timespec="seconds")
            if finished
            else None
        ),
    )


def progress_percent(progress: dict[str, Any]) -> float:
    """A running training's share of its steps done, 0-99: 100 is said when it has ended."""
    total = progress.get("total_steps") or 0
    if not total:
        return 0.0
    return round(min(99.0, 100.0 * (progress.get("step") or 0) / total), 1)


def _took(duration_s: float | None) -> str:
    if duration_s is None:
        return ""
    minutes, seconds = divmod(round(duration_s), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f" in {hours} h {minutes} min"
    return f" in {minutes} min {seconds} s" if minutes else f" in {seconds} s"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
