"""What a real Home Assistant Core 2025.4.4 makes of the add-on's MQTT messages and notifications.

Home Assistant's own MQTT integration (added through the config-flow REST API) listens to a real
mosquitto on loopback; the add-on's notifier publishes discovery, progress and results there and
the entities are read back from `/api/states` and the registries. The notification goes to Core's
REST API with the owner's long-lived token, as the add-on does standalone; inside Home Assistant
the same call goes through the Supervisor's proxy (`/core/api/...`), which cannot run here.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from addon.mqtt import JobSummary, MqttNotifier, MqttSettings
from addon.notify import CoreNotifications, JobNotifier
from mww_trainer.satellite.client import HomeAssistant
from tests.fakes.home_assistant import HomeAssistantCore
from tests.fakes.mosquitto import MOSQUITTO_MISSING, Mosquitto, mosquitto_available, wait_until
from tests.fakes.progress_worker import write_to

pytestmark = [
    pytest.mark.home_assistant,
    pytest.mark.skipif(not mosquitto_available(), reason=MOSQUITTO_MISSING),
]
DEVICE = ["mqtt", "mww_trainer"]  # the discovery device's identifier, as Home Assistant keeps it
VERDICT = {"label": "Usable", "headline": "Usable — it woke 0.8 times per hour of other speech"}


@pytest.fixture(scope="module")
def mqtt_home(home_assistant: HomeAssistantCore, tmp_path_factory):
    """The session's Home Assistant with its MQTT integration on a mosquitto of this module."""
    broker = Mosquitto(tmp_path_factory.mktemp("ha_mosquitto")).start()
    entry = home_assistant.add_entry("mqtt", {"broker": "127.0.0.1", "port": broker.port})
    yield home_assistant, broker
    home_assistant.request(
        "DELETE", f"/api/config/config_entries/entry/{entry['result']['entry_id']}"
    )
    broker.stop()


@pytest.fixture
def notifiers():
    made: list[MqttNotifier] = []

    def make(settings: MqttSettings, **kwargs) -> MqttNotifier:
        made.append(MqttNotifier(settings, **kwargs))
        return made[-1]

    yield make
    for notifier in made:
        notifier.stop()


def entity_ids(core: HomeAssistantCore, slug: str) -> dict[str, dict]:
    """The registry entries of a wake word's two sensors, by kind, once both exist."""
    entries = asyncio.run(core.ws("config/entity_registry/list"))
    found = {
        kind: e
        for e in entries
        for kind in ("state", "progress")
        if e["platform"] == "mqtt" and e.get("unique_id") == f"mww_trainer_{slug}_{kind}"
    }
    return found if len(found) == 2 else {}


def wait_state(core: HomeAssistantCore, entity_id: str, state: str, **attributes) -> dict:
    def check():
        found = core.state(entity_id)
        wanted = found and found["state"] == state
        if wanted and all(found["attributes"].get(k) == v for k, v in attributes.items()):
            return found
        return None

    return core.wait_for(check, f"{entity_id} to be {state} {attributes or ''}", timeout_s=20)


def summary(**overrides) -> JobSummary:
    values = {"job_id": "job-7", "slug": "hey_jarvis", "wake_word": "Hey Jarvis"}
    return JobSummary(**(values | overrides))


def test_discovery_gives_a_device_whose_sensors_follow_a_job_and_its_notification_lands(
    mqtt_home, notifiers
):
    core, broker = mqtt_home
    now = [0.0]
    settings = MqttSettings(host="127.0.0.1", port=broker.port, topic_prefix="mww_ha_a")
    mqtt = notifiers(settings, clock=lambda: now[0])
    mqtt.start()
    wait_until(lambda: mqtt.connected, what="the notifier to connect")

    mqtt.publish_progress(summary(state="running", progress_percent=10.0, stage="features"))
    sensors = core.wait_for(lambda: entity_ids(core, "hey_jarvis"), "the discovered sensors")
    state_id, progress_id = sensors["state"]["entity_id"], sensors["progress"]["entity_id"]
    assert (state_id, progress_id) == (
        "sensor.wake_word_trainer_hey_jarvis_training",
        "sensor.wake_word_trainer_hey_jarvis_training_progress",
    )
    devices = asyncio.run(core.ws("config/device_registry/list"))
    (device,) = [d for d in devices if DEVICE in d["identifiers"]]
    assert (device["name"], device["manufacturer"], device["model"]) == (
        "Wake word trainer",
        "mww-trainer",
        "microWakeWord trainer",
    )
    assert sensors["state"]["device_id"] == sensors["progress"]["device_id"] == device["id"]
    running = wait_state(core, state_id, "running", job_id="job-7", wake_word="Hey Jarvis")
    assert running["attributes"]["friendly_name"] == "Wake word trainer Hey Jarvis training"
    progress = wait_state(core, progress_id, "10.0", stage="features")
    assert progress["attributes"]["unit_of_measurement"] == "%"

    now[0] += 10  # past the rate limit
    mqtt.publish_progress(summary(state="running", progress_percent=37.5, stage="train"))
    wait_state(core, progress_id, "37.5", stage="train")

    ha = HomeAssistant(core.url, core.token)
    sender = CoreNotifications(ha)
    notifier = JobNotifier(mqtt=mqtt, supervisor=None, home_assistant=sender)
    done = summary(
        state="succeeded",
        progress_percent=100.0,
        stage="done",
        verdict=VERDICT,
        metrics={"recall": 0.97},
        duration_s=754.2,
    )

    async def finish():
        try:
            await notifier.job_finished(done)
        finally:
            await sender.close()

    asyncio.run(finish())
    assert notifier.status["notifications"] == "on"
    result = wait_state(core, state_id, "succeeded", verdict="Usable")
    assert result["attributes"]["metrics"] == {"recall": 0.97}
    assert result["attributes"]["verdict_headline"] == VERDICT["headline"]
    wait_state(core, progress_id, "100.0", stage="done")
    note = notifications(core)["mww_trainer_hey_jarvis"]
    assert note["title"] == "Wake word “Hey Jarvis” is trained: Usable"
    assert "Training finished in 12 min 34 s." in note["message"]
    assert f"**{VERDICT['headline']}**" in note["message"]

    mqtt.stop()  # the add-on stops: its entities become unavailable
    wait_state(core, state_id, "unavailable")
    wait_state(core, progress_id, "unavailable")


def notifications(core: HomeAssistantCore) -> dict[str, dict]:
    """Home Assistant's persistent notifications, by id (they are not states since 2023.6)."""

    async def get():
        import aiohttp

        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"ws://127.0.0.1:{core.port}/api/websocket") as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": core.token})
            await ws.receive_json()
            await ws.send_json({"id": 1, "type": "persistent_notification/subscribe"})
            assert (await ws.receive_json())["success"]
            event = (await ws.receive_json())["event"]
            return event["notifications"]

    return asyncio.run(get())


@pytest.mark.asyncio
async def test_a_training_job_of_the_panel_shows_in_home_assistant_and_its_end_is_notified(
    mqtt_home, tmp_path, aiohttp_client
):
    """The web app with notify.setup, standalone: job manager -> MQTT -> Home Assistant's
    sensors, and the job's end -> a persistent notification through Core's REST API."""
    from addon import notify
    from addon.app import create_app
    from addon.jobspec import train_request
    from addon.keys import JOBS, LIBRARY
    from addon.settings import Settings

    core, broker = mqtt_home
    settings = Settings(
        data_dir=tmp_path / "data",
        mqtt_host="127.0.0.1",
        mqtt_port=broker.port,
        mqtt_topic_prefix="mww_ha_b",
        homeassistant_url=core.url,
        homeassistant_token=core.token,
        cancel_grace_s=1.0,
    )
    worker = write_to(tmp_path / "worker.py")
    app = create_app(settings, plugins=[notify.setup], worker_command=(sys.executable, str(worker)))
    client = await aiohttp_client(app)
    assert (await client.post("/api/projects", json={"phrase": "Hey Kitchen"})).status == 201
    project = await app[LIBRARY].project("hey_kitchen")
    request = train_request({"preset": "fast_test"}, settings.default_preset)
    job = await app[JOBS].submit(project.id, "train", request, None)

    sensors = await asyncio.to_thread(
        core.wait_for, lambda: entity_ids(core, "hey_kitchen"), "the discovered sensors"
    )
    state_id, progress_id = sensors["state"]["entity_id"], sensors["progress"]["entity_id"]
    await asyncio.to_thread(wait_state, core, progress_id, "25.0", stage="train")
    await asyncio.to_thread(wait_state, core, state_id, "running", job_id=str(job.id))

    assert (await client.post(f"/api/jobs/{job.id}/cancel")).status == 200
    await asyncio.to_thread(wait_state, core, state_id, "cancelled", wake_word="Hey Kitchen")
    note = await asyncio.to_thread(
        core.wait_for,
        lambda: notifications(core).get("mww_trainer_hey_kitchen"),
        "the notification",
    )
    assert note["title"] == "Training “Hey Kitchen” cancelled"
    assert f"Job {job.id}; open the Wake word trainer panel" in note["message"]
    assert app[notify.NOTIFIER].status["notifications"] == "on"


@pytest.mark.asyncio
async def test_a_refused_token_shows_in_the_notification_status(home_assistant):
    ha = HomeAssistant(home_assistant.url, "not-a-token")
    sender = CoreNotifications(ha)
    notifier = JobNotifier(mqtt=None, supervisor=None, home_assistant=sender)
    try:
        await notifier.job_finished(summary(state="failed", error="out of memory"))
    finally:
        await sender.close()
    assert notifier.status["notifications"].startswith(
        f"last notification failed: Home Assistant at {home_assistant.url} refused the access "
        "token (homeassistant_token)"
    )
    assert "not-a-token" not in notifier.status["notifications"]
