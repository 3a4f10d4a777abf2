"""MQTT notifications and Home Assistant discovery.

One background paho client per process. Nothing here blocks the caller: publishing puts a
message in an outbox, and a worker thread hands it to the broker with QoS 1 once the client is
connected, dropping it from the outbox only when the broker has acknowledged it. While the
broker is down the paho thread reconnects with a growing delay and the outbox waits, so a job's
result reaches the broker when it comes back. Works with paho-mqtt 1.6 and 2.x.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from mww_trainer import __version__

_LOGGER = logging.getLogger(__name__)

AUTH_FAILED = "authentication failed: check mqtt_username/mqtt_password"
PROGRESS_INTERVAL_S = 5.0  # at most one progress message per wake word in this time
ACK_TIMEOUT_S = 5.0  # how long the worker waits for a PUBACK before trying again
MAX_OUTBOX = 500  # messages kept while the broker is down; the oldest go first
_BAD_CREDENTIALS = {4, 134}  # MQTT 3.1.1 CONNACK code, and MQTT 5 / paho 2 reason code
_NOT_AUTHORISED = {5, 135}
_UNSAFE_TOPIC_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_LOG_LEVELS = {"auth": logging.ERROR, "unreachable": logging.WARNING, "refused": logging.WARNING}


@dataclass(frozen=True)
class MqttSettings:
    """Where the broker is and how our topics are named."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line
    ssl: bool = False
    protocol: str = "3.1.1"  # "3.1" or "3.1.1", as the Supervisor reports it
    topic_prefix: str = "mww_trainer"
    discovery_prefix: str = "homeassistant"
    node_id: str = "mww_trainer"  # the Home Assistant device and discovery node
    progress_interval_s: float = PROGRESS_INTERVAL_S

    def status_topic(self, slug: str) -> str:
        return f"{self.topic_prefix}/{topic_safe(slug)}/status"

    def progress_topic(self, slug: str) -> str:
        return f"{self.topic_prefix}/{topic_safe(slug)}/progress"

    @property
    def availability_topic(self) -> str:
        return f"{self.topic_prefix}/availability"

    def discovery_topic(self, slug: str, kind: str) -> str:
        node = topic_safe(self.node_id)
        return f"{self.discovery_prefix}/sensor/{node}/{topic_safe(slug)}_{kind}/config"


@dataclass(frozen=True)
class JobSummary:
    """What the household is told about a job; built by the web process from its job record."""

    job_id: str
    slug: str  # the wake word's slug, e.g. "hey_jarvis"
    wake_word: str  # as the user typed it, e.g. "Hey Jarvis"
    state: str  # e.g. "running", "succeeded", "failed", "cancelled"
    metrics: dict[str, Any] = field(default_factory=dict)
    model_path: str | Path | None = None
    duration_s: float | None = None
    error: str | None = None
    progress_percent: float | None = None  # 0..100 while running
    stage: str | None = None  # e.g. "features", "train"
    finished_at: str | None = None  # ISO 8601 UTC; filled in when the job ends
    verdict: dict[str, Any] | None = (
        None  # mww_trainer.evaluation.verdict's, once a model is trained
    )

    def status_payload(self) -> dict[str, Any]:
        """The job's state and result: the status topic's message."""
        verdict = self.verdict or {}
        return self._identity() | {
            "verdict": verdict.get("label"),
            "verdict_headline": verdict.get("headline"),
            "metrics": self.metrics,
            "model_path": None if self.model_path is None else str(self.model_path),
            "duration_s": self.duration_s,
            "finished_at": self.finished_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "error": self.error,
        }

    def progress_payload(self) -> dict[str, Any]:
        percent = None if self.progress_percent is None else round(self.progress_percent, 1)
        return self._identity() | {"percent": percent, "stage": self.stage}

    def _identity(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ("state", "wake_word", "slug", "job_id")}


def topic_safe(name: str) -> str:
    """A slug usable as one MQTT topic level and as a discovery object id."""
    return _UNSAFE_TOPIC_CHARS.sub("_", name) or "_"


def discovery_configs(settings: MqttSettings, slug: str, wake_word: str) -> dict[str, dict]:
    """Home Assistant discovery configs (topic -> payload) for one wake word's two sensors."""
    device = {
        "identifiers": [settings.node_id],
        "name": "Wake word trainer",
        "manufacturer": "mww-trainer",
        "model": "microWakeWord trainer",
        "sw_version": __version__,
    }
    common = {
        "availability_topic": settings.availability_topic,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
        "origin": {"name": "mww-trainer", "sw_version": __version__},
    }
    state_topic = settings.status_topic(slug)
    progress_topic = settings.progress_topic(slug)
    key = f"{topic_safe(settings.node_id)}_{topic_safe(slug)}"
    return {
        settings.discovery_topic(slug, "state"): {
            **common,
            "name": f"{wake_word} training",
            "unique_id": f"{key}_state",
            "icon": "mdi:microphone-message",
            "state_topic": state_topic,
            "value_template": "{{ value_json.state }}",
            "json_attributes_topic": state_topic,
        },
        settings.discovery_topic(slug, "progress"): {
            **common,
            "name": f"{wake_word} training progress",
            "unique_id": f"{key}_progress",
            "icon": "mdi:progress-clock",
            "state_topic": progress_topic,
            "value_template": "{{ value_json.percent }}",
            "unit_of_measurement": "%",
            "state_class": "measurement",
            "json_attributes_topic": progress_topic,
        },
    }


def _new_client(client_id: str, protocol: str) -> mqtt.Client:
    kwargs: dict[str, Any] = {
        "client_id": client_id,
        "protocol": mqtt.MQTTv31 if protocol == "3.1" else mqtt.MQTTv311,
    }
    api_version = getattr(mqtt, "CallbackAPIVersion", None)  # paho-mqtt 2.x only
    if api_version is not None:
        kwargs["callback_api_version"] = api_version.VERSION2
    return mqtt.Client(**kwargs)


def _code(reason: Any) -> int:
    """An int from a paho 1.x return code or a paho 2.x ReasonCode."""
    try:
        return int(getattr(reason, "value", reason))
    except (TypeError, ValueError):
        return -1


@dataclass(eq=False)
class _Outgoing:
    topic: str
    payload: str
    retain: bool
    coalesce: bool = False  # a newer message on the same topic replaces this one


class MqttNotifier:
    """Publishes job results, progress and discovery; reconnects and redelivers by itself."""

    def __init__(self, settings: MqttSettings, *, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._clock = clock
        self._cond = threading.Condition()
        self._outbox: collections.deque[_Outgoing] = collections.deque()
        self._discovery: dict[str, str] = {}  # slug -> wake word, republished on every connect
        self._last_progress: dict[str, tuple[float, str]] = {}  # slug -> (time, state)
        self._state = "not started"
        self._detail = ""
        self._connected = False
        self._stopping = False
        self._client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        """Connect in the background; returns at once, whether or not the broker is up."""
        if self._client is not None:
            return
        s = self.settings
        client = _new_client(f"mww_trainer-{uuid.uuid4().hex[:8]}", s.protocol)
        if s.username:
            client.username_pw_set(s.username, s.password or None)
        if s.ssl:
            client.tls_set()
        client.will_set(s.availability_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.message_callback_add(f"{s.discovery_prefix}/status", self._on_ha_status)
        self._client = client
        self._set_state("connecting", "")
        client.connect_async(s.host, s.port, keepalive=30)
        client.loop_start()
        self._worker = threading.Thread(target=self._run_outbox, name="mqtt-outbox", daemon=True)
        self._worker.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Flush what can be flushed within timeout_s, say "offline", disconnect."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout_s)
        client, self._client = self._client, None
        if client is not None:
            if self._connected:
                info = client.publish(self.settings.availability_topic, "offline", 1, True)
                self._wait_ack(info, min(timeout_s, 1.0))
            client.disconnect()
            client.loop_stop()
        if self._outbox:
            _LOGGER.warning("MQTT: %d message(s) not delivered before shutdown", len(self._outbox))
        self._connected = False
        self._set_state("stopped", "")

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def pending(self) -> int:
        """Messages waiting for the broker."""
        with self._cond:
            return len(self._outbox)

    @property
    def status(self) -> str:
        """One line for the panel."""
        where = f"{self.settings.host}:{self.settings.port}"
        if self._state == "connected":
            return f"connected to {where}"
        if self._state == "connecting":
            return f"connecting to {where}"
        if self._state == "auth":
            return f"{AUTH_FAILED} (the broker at {where} {self._detail})"
        if self._state in ("unreachable", "refused"):
            what = "broker unreachable at" if self._state == "unreachable" else "refused by"
            return (
                f"{what} {where} ({self._detail}); retrying in the background, "
                f"{self.pending} message(s) waiting"
            )
        return self._state

    def publish_job_finished(self, summary: JobSummary) -> None:
        """Queue the job's final status (retained); makes sure its entities exist."""
        self.publish_discovery(summary.slug, summary.wake_word)
        self._last_progress.pop(summary.slug, None)
        self._enqueue(self.settings.status_topic(summary.slug), summary.status_payload())
        if summary.progress_percent is not None:
            self._enqueue(
                self.settings.progress_topic(summary.slug), summary.progress_payload(), True
            )

    def publish_progress(self, summary: JobSummary) -> bool:
        """Queue a progress update unless one went out less than progress_interval_s ago.

        A change of state (e.g. queued -> running) always goes out, and also updates the status
        topic so the state sensor follows it. Returns whether a message was queued.
        """
        now = self._clock()
        last = self._last_progress.get(summary.slug)
        state_changed = last is None or last[1] != summary.state
        done = summary.progress_percent is not None and summary.progress_percent >= 100
        if not state_changed and not done and now - last[0] < self.settings.progress_interval_s:
            return False
        self._last_progress[summary.slug] = (now, summary.state)
        if state_changed:
            self.publish_discovery(summary.slug, summary.wake_word)
            payload = summary.status_payload() | {"finished_at": None}
            self._enqueue(self.settings.status_topic(summary.slug), payload)
        self._enqueue(self.settings.progress_topic(summary.slug), summary.progress_payload(), True)
        return True

    def publish_discovery(self, slug: str, wake_word: str) -> None:
        """Announce the wake word's sensors to Home Assistant (retained config messages)."""
        if self._discovery.get(slug) == wake_word:
            return
        self._discovery[slug] = wake_word
        client = self._client
        if client is not None and self._connected:
            self._publish_discovery(client, slug, wake_word)

    def _enqueue(self, topic: str, payload: dict[str, Any], coalesce: bool = False) -> None:
        message = _Outgoing(topic, json.dumps(payload, default=str), True, coalesce)
        with self._cond:
            if coalesce:
                for old in [m for m in self._outbox if m.coalesce and m.topic == topic]:
                    self._outbox.remove(old)
            if len(self._outbox) >= MAX_OUTBOX:
                dropped = self._outbox.popleft()
                _LOGGER.warning("MQTT outbox full: dropped the oldest message (%s)", dropped.topic)
            self._outbox.append(message)
            self._cond.notify_all()

    def _publish_discovery(self, client: mqtt.Client, slug: str, wake_word: str) -> None:
        for topic, config in discovery_configs(self.settings, slug, wake_word).items():
            client.publish(topic, json.dumps(config), qos=1, retain=True)

    def _run_outbox(self) -> None:
        """Worker thread: hand queued messages to the broker in order, one ack at a time."""
        while True:
            with self._cond:
                while not self._stopping and not (self._connected and self._outbox):
                    self._cond.wait(1.0)
                if not (self._connected and self._outbox):
                    return  # stopping, with nothing we can still deliver
                message = self._outbox[0]
            client = self._client
            if client is None:
                return
            info = client.publish(message.topic, message.payload, qos=1, retain=message.retain)
            if self._wait_ack(info, ACK_TIMEOUT_S):
                with self._cond:
                    if message in self._outbox:
                        self._outbox.remove(message)
            else:
                with self._cond:
                    self._cond.wait(0.5)  # not connected after all; try again shortly

    @staticmethod
    def _wait_ack(info: Any, timeout_s: float) -> bool:
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        try:
            info.wait_for_publish(timeout_s)
            return info.is_published()
        except (RuntimeError, ValueError):  # paho raises these when the client is not connected
            return False

    def _set_state(self, state: str, detail: str) -> None:
        if (state, detail) != (self._state, self._detail):
            self._state, self._detail = state, detail
            _LOGGER.log(_LOG_LEVELS.get(state, logging.INFO), "MQTT: %s", self.status)

    # paho callbacks: they run on paho's network thread. Signatures cover paho 1.6 (VERSION1)
    # and paho 2.x (VERSION2, which adds properties and passes ReasonCode objects).

    def _on_connect(self, client, _userdata, _flags, reason, _properties=None) -> None:
        code = _code(reason)
        if code != 0:
            self._connected = False
            if code in _BAD_CREDENTIALS:
                self._set_state("auth", "refused the username or password")
            elif code in _NOT_AUTHORISED:
                self._set_state("auth", "said: not authorised")
            else:
                self._set_state("refused", f"{mqtt.connack_string(code)} (code {code})")
            return
        client.publish(self.settings.availability_topic, "online", qos=1, retain=True)
        client.subscribe(f"{self.settings.discovery_prefix}/status", qos=1)
        for slug, wake_word in list(self._discovery.items()):
            self._publish_discovery(client, slug, wake_word)
        with self._cond:
            self._connected = True
            self._cond.notify_all()
        self._set_state("connected", "")

    def _on_disconnect(self, _client, _userdata, *args) -> None:
        with self._cond:
            self._connected = False
        if self._state == "connected" and not self._stopping:
            reason = args[1] if len(args) >= 2 else (args[0] if args else "")
            text = mqtt.error_string(reason) if isinstance(reason, int) else str(reason)
            self._set_state("unreachable", f"connection lost: {text}")

    def _on_connect_fail(self, _client, _userdata) -> None:
        if self._state != "auth":
            self._set_state("unreachable", "cannot connect")

    def _on_ha_status(self, client, _userdata, message) -> None:
        """Home Assistant came back: announce the entities again."""
        if message.payload == b"online":
            for slug, wake_word in list(self._discovery.items()):
                self._publish_discovery(client, slug, wake_word)
