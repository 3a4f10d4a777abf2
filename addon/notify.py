"""Tell the household about jobs: MQTT (message + entities) and a Home Assistant notification.

The web app builds one ``JobNotifier`` at start-up and calls ``job_progress`` / ``job_finished``
from its job callbacks. MQTT publishing never blocks (see addon.mqtt); the notification is one
HTTP call to the Supervisor. A failure here is logged and shown in ``status``; it never changes
the job's result.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from addon.mqtt import JobSummary, MqttNotifier, MqttSettings
from addon.supervisor import SupervisorClient, SupervisorError

__all__ = ["JobNotifier", "JobSummary", "format_notification", "resolve_mqtt_settings"]

_LOGGER = logging.getLogger(__name__)

SUCCESS_STATES = {"succeeded", "success", "done", "finished", "completed"}


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
        title = f"Wake word “{word}” is trained"
        lines = [f"Training finished{_took(summary.duration_s)}."]
        lines += [f"- {name}: {_number(value)}" for name, value in list(summary.metrics.items())[:8]]
        if summary.model_path:
            lines.append(f"\nModel: `{summary.model_path}`")
    else:
        title = f"Training “{word}” {summary.state}"
        lines = [f"The job ended{_took(summary.duration_s)} without a model."]
        if summary.error:
            lines.append(f"\n{summary.error}")
    lines.append(f"\nJob {summary.job_id}; open the Wake word trainer panel for details.")
    return title, "\n".join(lines)


class JobNotifier:
    """Fans a job's news out to MQTT and Home Assistant; either part may be absent."""

    def __init__(
        self,
        *,
        mqtt: MqttNotifier | None,
        supervisor: SupervisorClient | None,
        notifications: bool = True,
        mqtt_reason: str = "",
    ):
        self.mqtt = mqtt
        self.supervisor = supervisor
        self.notifications = notifications and supervisor is not None
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
        if self.notifications and self.supervisor is not None:
            title, message = format_notification(summary)
            try:
                await self.supervisor.notify(title, message, f"mww_trainer_{summary.slug}")
            except SupervisorError as err:
                _LOGGER.warning("Home Assistant notification not sent: %s", err)
                self._notify_status = f"last notification failed: {err}"
            else:
                self._notify_status = "on"


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
