"""The Supervisor client and the notification glue against a fake Supervisor (and a real broker)."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from types import SimpleNamespace

import pytest

from addon.mqtt import JobSummary, MqttNotifier
from addon.notify import JobNotifier, format_notification, resolve_mqtt_settings
from addon.supervisor import SupervisorClient, SupervisorError
from mww_trainer.evaluation.verdict import judge
from tests.fakes.fake_supervisor import FakeSupervisor
from tests.fakes.mosquitto import (
    MOSQUITTO_MISSING,
    Mosquitto,
    Subscriber,
    free_port,
    mosquitto_available,
    wait_until,
)

NOTIFY_PATH = "/core/api/services/persistent_notification/create"


def summary(**overrides) -> JobSummary:
    values = {
        "job_id": "job-7",
        "slug": "okay_nabu",
        "wake_word": "Okay Nabu",
        "state": "succeeded",
        "metrics": {"recall": 0.95, "false_accepts_per_hour": 0.5},
        "model_path": "/share/mww_trainer/okay_nabu/okay_nabu.tflite",
        "duration_s": 3725.0,
    }
    return JobSummary(**(values | overrides))


@contextlib.asynccontextmanager
async def supervisor(*, token: str | None = None, **fake_options):
    """A running fake Supervisor and a client for it (with the right token unless given)."""
    async with (
        FakeSupervisor(**fake_options) as fake,
        SupervisorClient(token=token or fake.token, base_url=fake.url) as client,
    ):
        yield fake, client


@pytest.mark.asyncio
async def test_mqtt_service_returns_the_broker_and_sends_the_token():
    async with supervisor() as (fake, client):
        settings = await client.mqtt_service()
    assert settings is not None
    assert (settings.host, settings.port) == ("core-mosquitto", 1883)
    assert (settings.username, settings.password) == ("addons", "generated-secret")
    assert settings.ssl is False and settings.protocol == "3.1.1"
    (call,) = fake.calls("/services/mqtt")
    assert call.method == "GET" and call.authorization == "Bearer test-supervisor-token"


@pytest.mark.asyncio
async def test_mqtt_service_not_enabled_is_none_with_a_reason(caplog):
    caplog.set_level(logging.INFO, logger="addon.supervisor")
    async with supervisor(mqtt_mode="not_enabled") as (_fake, client):
        assert await client.mqtt_service() is None
    assert "Service not enabled" in caplog.text
    assert "Mosquitto broker" in caplog.text


@pytest.mark.asyncio
async def test_mqtt_service_forbidden_is_a_clear_error():
    async with supervisor(mqtt_mode="forbidden") as (_fake, client):
        with pytest.raises(SupervisorError) as caught:
            await client.mqtt_service()
    assert caught.value.status == 403
    assert "No access to mqtt service!" in str(caught.value)
    assert "services: [mqtt:want]" in str(caught.value)


@pytest.mark.asyncio
async def test_a_wrong_token_is_refused_with_a_hint():
    async with supervisor(token="not-the-token") as (_fake, client):
        with pytest.raises(SupervisorError) as caught:
            await client.info()
    assert caught.value.status == 401
    assert "SUPERVISOR_TOKEN" in str(caught.value)


@pytest.mark.asyncio
async def test_an_unreachable_supervisor_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}"
    async with SupervisorClient(token="t", base_url=url, timeout_s=2) as client:
        with pytest.raises(SupervisorError, match="cannot reach the Supervisor"):
            await client.mqtt_service()


@pytest.mark.asyncio
async def test_notify_info_and_discovery():
    async with supervisor() as (fake, client):
        await client.notify("Title", "Body", "mww_trainer_okay_nabu")
        info = await client.info()
        entry = await client.discovery("mww_trainer", {"host": "local-mww-trainer", "port": 8099})
    (call,) = fake.calls(NOTIFY_PATH)
    assert call.method == "POST" and call.authorization == f"Bearer {fake.token}"
    assert call.body == {
        "title": "Title",
        "message": "Body",
        "notification_id": "mww_trainer_okay_nabu",
    }
    assert info["arch"] == "amd64"
    assert isinstance(entry, str) and len(entry) == 32
    assert fake.calls("/discovery")[0].body["service"] == "mww_trainer"


@pytest.mark.asyncio
async def test_the_panel_goes_in_the_sidebar_once(tmp_path):
    marker = tmp_path / "data" / ".panel_shown"
    async with supervisor() as (fake, client):
        assert await client.show_panel_once(marker) is True
        assert fake.ingress_panel is True
        (call,) = fake.calls("/addons/self/options")
        assert call.body == {"ingress_panel": True}
        fake.ingress_panel = False  # the user hides the panel again...
        assert await client.show_panel_once(marker) is False  # ...and it stays hidden
        assert fake.ingress_panel is False
    assert marker.exists()


def test_from_env_needs_the_token():
    assert SupervisorClient.from_env({}) is None
    assert SupervisorClient.from_env({"SUPERVISOR_TOKEN": "abc"}) is not None


@pytest.mark.asyncio
async def test_options_host_wins_without_asking_the_supervisor():
    async with supervisor() as (fake, client):
        settings, reason = await resolve_mqtt_settings(
            host="10.0.0.5",
            port=1884,
            username="me",
            password="pw",
            topic_prefix="ww",
            supervisor=client,
        )
    assert (settings.host, settings.port, settings.username, settings.topic_prefix) == (
        "10.0.0.5",
        1884,
        "me",
        "ww",
    )
    assert "from the options" in reason
    assert fake.requests == []


@pytest.mark.asyncio
async def test_no_broker_anywhere_gives_a_reason():
    async with supervisor(mqtt_mode="not_enabled") as (_fake, client):
        settings, reason = await resolve_mqtt_settings(host=None, supervisor=client)
    assert settings is None
    assert "Mosquitto broker" in reason
    settings, reason = await resolve_mqtt_settings(host="", supervisor=None)
    assert settings is None and "no Supervisor" in reason


def test_notification_text():
    title, message = format_notification(summary())
    assert title == "Wake word “Okay Nabu” is trained"
    assert "in 1 h 2 min" in message and "recall: 0.95" in message
    assert "/share/mww_trainer/okay_nabu/okay_nabu.tflite" in message
    title, message = format_notification(
        summary(state="failed", error="verify: the streaming model disagrees", duration_s=42.0)
    )
    assert title == "Training “Okay Nabu” failed"
    assert "in 42 s" in message and "the streaming model disagrees" in message


def test_the_notification_gives_the_verdict_with_its_figures_and_what_to_do():
    evaluation = {
        "positives": 200,
        "hard_negatives": 100,
        "ambient_hours": 54 / 3600,
        "at_cutoff": {"recall": 0.94, "fa_per_hour": 0.0, "hard_negative_rate": 0.12},
    }
    verdict = judge(evaluation).to_dict()
    title, message = format_notification(summary(verdict=verdict))
    assert title == "Wake word “Okay Nabu” is trained: Not ready"
    assert "**Not ready — false wakes were measured on only 54 s**" in message
    assert "- woke on 188 of 200 held-out wake words (94 %) (200 wake words spoken by" in message
    assert "What to do:\n- generate more other speech" in message
    assert "recall: 0.95" not in message  # the verdict's figures replace the raw metrics


@pytest.mark.asyncio
async def test_a_failed_notification_is_reported_not_raised():
    async with supervisor(token="wrong") as (_fake, client):
        notifier = JobNotifier(mqtt=None, supervisor=client, notifications=True)
        await notifier.job_finished(summary())
    assert notifier.status["notifications"].startswith("last notification failed")
    assert notifier.status["mqtt"] == "MQTT is off"


@pytest.mark.asyncio
@pytest.mark.skipif(not mosquitto_available(), reason=MOSQUITTO_MISSING)
async def test_the_addon_finds_the_broker_and_tells_the_household(tmp_path):
    """Supervisor hands out the broker's address; the result goes to MQTT and to Home Assistant."""
    broker = Mosquitto(tmp_path / "mosquitto", users={"addons": "generated-secret"}).start()
    mqtt_notifier = None
    try:
        async with supervisor() as (fake, client):
            fake.mqtt |= {"host": "127.0.0.1", "port": broker.port}
            settings, reason = await resolve_mqtt_settings(
                host=None, topic_prefix="mww_e2e", supervisor=client
            )
            assert settings is not None, reason
            assert "from the Supervisor" in reason
            mqtt_notifier = MqttNotifier(settings)
            mqtt_notifier.start()
            notifier = JobNotifier(mqtt=mqtt_notifier, supervisor=client, notifications=True)
            await notifier.job_finished(summary())
            wait_until(lambda: mqtt_notifier.pending == 0, what="the broker to acknowledge")
            (call,) = fake.calls(NOTIFY_PATH)
        assert call.body["notification_id"] == "mww_trainer_okay_nabu"
        assert "Okay Nabu" in call.body["title"]
        assert notifier.status == {
            "mqtt": f"connected to 127.0.0.1:{broker.port}",
            "notifications": "on",
        }
        with Subscriber(
            broker.port, ["mww_e2e/#"], username="addons", password="generated-secret"
        ) as sub:
            (status,) = sub.wait_for("mww_e2e/okay_nabu/status")
        assert json.loads(status.payload)["state"] == "succeeded"
    finally:
        if mqtt_notifier is not None:
            mqtt_notifier.stop()
        broker.stop()


@pytest.mark.asyncio
@pytest.mark.skipif(not mosquitto_available(), reason=MOSQUITTO_MISSING)
async def test_the_web_app_plugin_wires_it_all(tmp_path, monkeypatch):
    """notify.setup in the real web app: broker from the Supervisor, panel, job -> MQTT + note."""
    from aiohttp.test_utils import TestServer

    from addon import notify
    from addon.app import create_app
    from addon.jobspec import train_request
    from addon.keys import ON_JOB_FINISHED, STORE
    from addon.settings import Settings

    broker = Mosquitto(tmp_path / "mosquitto", users={"addons": "generated-secret"}).start()
    try:
        async with FakeSupervisor() as fake:
            fake.mqtt |= {"host": "127.0.0.1", "port": broker.port}
            monkeypatch.setattr(
                notify, "SupervisorClient", functools.partial(SupervisorClient, base_url=fake.url)
            )
            settings = Settings(
                data_dir=tmp_path / "data", supervisor_token=fake.token, homeassistant_api=True
            )
            app = create_app(settings, plugins=[notify.setup])
            async with TestServer(app):
                notifier = app[notify.NOTIFIER]
                wait_until(lambda: notifier.mqtt.connected, what="MQTT to connect")
                # As the store keeps it: the spec is the request, the phrase is the project's.
                await app[STORE].create_project(
                    {
                        "slug": "hey_casa",
                        "phrase": "Hey Casa",
                        "language": "en",
                        "author": "t",
                        "website": None,
                    }
                )
                job = SimpleNamespace(
                    id=12, project_slug="hey_casa", kind="train", state="succeeded",
                    spec=train_request({}, "fast_test"),
                    result={"tflite": "/data/x/hey_casa.tflite", "metrics": {"recall": 0.9},
                            "verdict": judge(None).to_dict()},
                    started_at=1000.0, finished_at=1600.0, error=None,
                )  # fmt: skip
                for callback in app[ON_JOB_FINISHED]:
                    await callback(job)
                wait_until(lambda: notifier.mqtt.pending == 0, what="the broker to acknowledge")
            assert fake.ingress_panel is True
            (call,) = fake.calls(NOTIFY_PATH)
        assert call.body["title"] == "Wake word “Hey Casa” is trained: Not ready"
        with Subscriber(
            broker.port, ["mww_trainer/hey_casa/#"], username="addons", password="generated-secret"
        ) as sub:
            (status,) = sub.wait_for("mww_trainer/hey_casa/status")
        body = json.loads(status.payload)
        assert (body["job_id"], body["duration_s"], body["model_path"]) == (
            "12", 600.0, "/data/x/hey_casa.tflite",
        )  # fmt: skip
        assert (body["wake_word"], body["verdict"]) == ("Hey Casa", "Not ready")
    finally:
        broker.stop()
