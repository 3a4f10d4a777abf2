"""MQTT against a real mosquitto on loopback: results, discovery, outages, bad credentials."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from addon.mqtt import AUTH_FAILED, JobSummary, MqttNotifier, MqttSettings
from tests.fakes.mosquitto import (
    MOSQUITTO_MISSING,
    Mosquitto,
    Subscriber,
    free_port,
    mosquitto_available,
    wait_until,
)
from tests.fakes.progress_worker import write_to

pytestmark = pytest.mark.skipif(not mosquitto_available(), reason=MOSQUITTO_MISSING)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    mosquitto = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def notifiers():
    """Makes notifiers and always stops them, so no paho thread outlives its test."""
    made: list[MqttNotifier] = []

    def make(settings: MqttSettings, **kwargs) -> MqttNotifier:
        notifier = MqttNotifier(settings, **kwargs)
        made.append(notifier)
        return notifier

    yield make
    for notifier in made:
        notifier.stop()


def finished(**overrides) -> JobSummary:
    values = {
        "job_id": "job-42",
        "slug": "hey_jarvis",
        "wake_word": "Hey Jarvis",
        "state": "succeeded",
        "metrics": {"recall": 0.97, "false_accepts_per_hour": 0.4, "cutoff": 0.82},
        "model_path": "/share/mww_trainer/hey_jarvis/hey_jarvis.tflite",
        "duration_s": 754.2,
    }
    return JobSummary(**(values | overrides))


def test_job_result_and_discovery_reach_the_broker_retained(broker, notifiers):
    settings = MqttSettings(host="127.0.0.1", port=broker.port, topic_prefix="mww_test_a")
    notifier = notifiers(settings)
    notifier.start()
    wait_until(lambda: notifier.connected, what="the notifier to connect")
    assert notifier.status == f"connected to 127.0.0.1:{broker.port}"

    notifier.publish_job_finished(finished())
    wait_until(lambda: notifier.pending == 0, what="the broker to acknowledge")

    # A subscriber that arrives afterwards still gets everything: the messages were retained.
    topics = ["mww_test_a/#", "homeassistant/sensor/mww_trainer/#"]
    with Subscriber(broker.port, topics) as sub:
        (status,) = sub.wait_for("mww_test_a/hey_jarvis/status")
        state_config = sub.wait_for("homeassistant/sensor/mww_trainer/hey_jarvis_state/config")[0]
        progress_config = sub.wait_for(
            "homeassistant/sensor/mww_trainer/hey_jarvis_progress/config"
        )[0]
        (availability,) = sub.wait_for("mww_test_a/availability")

    assert status.retain and state_config.retain and progress_config.retain
    body = json.loads(status.payload)
    assert body["state"] == "succeeded"
    assert body["wake_word"] == "Hey Jarvis"
    assert body["job_id"] == "job-42"
    assert body["metrics"] == {"recall": 0.97, "false_accepts_per_hour": 0.4, "cutoff": 0.82}
    assert body["model_path"] == "/share/mww_trainer/hey_jarvis/hey_jarvis.tflite"
    assert body["duration_s"] == 754.2
    assert body["finished_at"].endswith("+00:00")
    assert availability.payload == b"online" and availability.retain

    state = json.loads(state_config.payload)
    assert state["unique_id"] == "mww_trainer_hey_jarvis_state"
    assert state["state_topic"] == "mww_test_a/hey_jarvis/status"
    assert state["json_attributes_topic"] == "mww_test_a/hey_jarvis/status"
    assert state["value_template"] == "{{ value_json.state }}"
    assert state["availability_topic"] == "mww_test_a/availability"
    assert state["device"]["identifiers"] == ["mww_trainer"]
    progress = json.loads(progress_config.payload)
    assert progress["unique_id"] == "mww_trainer_hey_jarvis_progress"
    assert progress["unit_of_measurement"] == "%"
    assert progress["state_topic"] == "mww_test_a/hey_jarvis/progress"
    assert progress["device"] == state["device"]


def test_progress_is_rate_limited(broker, notifiers):
    now = [1000.0]
    settings = MqttSettings(host="127.0.0.1", port=broker.port, topic_prefix="mww_test_b")
    notifier = notifiers(settings, clock=lambda: now[0])
    notifier.start()
    wait_until(lambda: notifier.connected, what="the notifier to connect")
    running = finished(state="running", progress_percent=10.0, stage="train", model_path=None)

    with Subscriber(broker.port, ["mww_test_b/#"]) as sub:
        assert notifier.publish_progress(running) is True  # first: goes out
        now[0] += 1.0
        assert notifier.publish_progress(running) is False  # 1 s later: dropped
        now[0] += 3.0
        assert notifier.publish_progress(running) is False  # 4 s after the first: dropped
        now[0] += 1.5
        wait_until(lambda: notifier.pending == 0, what="the first update to be delivered")
        later = finished(state="running", progress_percent=37.5, stage="train")
        assert notifier.publish_progress(later) is True  # 5.5 s: goes out
        wait_until(lambda: notifier.pending == 0, what="the second update to be delivered")
        assert notifier.publish_progress(later) is False
        done = finished(state="running", progress_percent=100.0, stage="verify")
        assert notifier.publish_progress(done) is True  # 100 % always goes out

        percents = [
            json.loads(m.payload)["percent"]
            for m in sub.wait_for("mww_test_b/hey_jarvis/progress", count=3)
        ]
        (status,) = sub.wait_for("mww_test_b/hey_jarvis/status")
    assert percents == [10.0, 37.5, 100.0]
    assert json.loads(status.payload)["state"] == "running"  # the state sensor follows


@pytest.mark.parametrize("down_from_start", [False, True], ids=["goes-down", "down-at-start"])
def test_result_is_delivered_when_the_broker_comes_back(tmp_path, notifiers, down_from_start):
    broker = Mosquitto(tmp_path / "flaky", port=free_port())
    settings = MqttSettings(host="127.0.0.1", port=broker.port, topic_prefix="mww_test_c")
    notifier = notifiers(settings)
    if not down_from_start:
        broker.start()
    notifier.start()
    if not down_from_start:
        wait_until(lambda: notifier.connected, what="the notifier to connect")
        broker.stop()
    wait_until(lambda: "unreachable" in notifier.status, what="the outage to show in the status")

    started = time.monotonic()
    notifier.publish_job_finished(finished(job_id="job-while-down"))
    assert time.monotonic() - started < 0.1  # queued, not waited for
    assert notifier.pending == 1
    assert "1 message(s) waiting" in notifier.status

    broker.start()
    try:
        wait_until(lambda: notifier.pending == 0, timeout_s=40, what="delivery after the restart")
        with Subscriber(broker.port, ["mww_test_c/#"]) as sub:
            (status,) = sub.wait_for("mww_test_c/hey_jarvis/status")
        assert json.loads(status.payload)["job_id"] == "job-while-down"
        assert status.retain
        assert notifier.status.startswith("connected")
    finally:
        notifier.stop()
        broker.stop()


def test_wrong_credentials_give_a_clear_status_not_a_crash(tmp_path, notifiers):
    broker = Mosquitto(tmp_path / "secured", users={"trainer": "right-password"}).start()
    try:
        wrong = MqttSettings(
            host="127.0.0.1", port=broker.port, username="trainer", password="wrong-password"
        )
        notifier = notifiers(wrong)
        notifier.start()
        wait_until(lambda: notifier.status.startswith(AUTH_FAILED), what="the refusal")
        assert "check mqtt_username/mqtt_password" in notifier.status
        assert not notifier.connected
        notifier.publish_job_finished(finished())  # no exception; kept for a later fix
        assert notifier.pending == 1

        right = MqttSettings(
            host="127.0.0.1",
            port=broker.port,
            username="trainer",
            password="right-password",
            topic_prefix="mww_test_d",
        )
        good = notifiers(right)
        good.start()
        good.publish_job_finished(finished())
        wait_until(lambda: good.pending == 0, what="delivery with the right password")
        assert good.status.startswith("connected")
    finally:
        broker.stop()


def test_stop_marks_the_entities_unavailable(broker, notifiers):
    settings = MqttSettings(host="127.0.0.1", port=broker.port, topic_prefix="mww_test_e")
    notifier = notifiers(settings)
    notifier.start()
    wait_until(lambda: notifier.connected, what="the notifier to connect")
    notifier.stop()
    assert notifier.status == "stopped"
    with Subscriber(broker.port, ["mww_test_e/availability"]) as sub:
        (availability,) = sub.wait_for("mww_test_e/availability")
    assert availability.payload == b"offline" and availability.retain


@pytest.mark.asyncio
async def test_a_running_trainings_progress_reaches_its_sensor(broker, tmp_path, aiohttp_client):
    """The web app's job manager -> ON_JOB_PROGRESS -> notify -> mosquitto, with a real job."""
    import sys

    from addon import notify
    from addon.app import create_app
    from addon.jobspec import train_request
    from addon.keys import JOBS, LIBRARY
    from addon.settings import Settings

    worker = write_to(tmp_path / "worker.py")
    settings = Settings(
        data_dir=tmp_path / "data",
        mqtt_host="127.0.0.1",
        mqtt_port=broker.port,
        mqtt_topic_prefix="mww_test_p",
        cancel_grace_s=1.0,
    )
    app = create_app(settings, plugins=[notify.setup], worker_command=(sys.executable, str(worker)))
    client = await aiohttp_client(app)
    assert (await client.post("/api/projects", json={"phrase": "Hey Progress"})).status == 201
    project = await app[LIBRARY].project("hey_progress")
    with Subscriber(broker.port, ["mww_test_p/hey_progress/#"]) as sub:
        request = train_request({"preset": "fast_test"}, settings.default_preset)
        job = await app[JOBS].submit(project.id, "train", request, None)
        progress = await asyncio.to_thread(sub.wait_for, "mww_test_p/hey_progress/progress")
        status = await asyncio.to_thread(sub.wait_for, "mww_test_p/hey_progress/status")
        assert (await client.post(f"/api/jobs/{job.id}/cancel")).status == 200
        finished = await asyncio.to_thread(sub.wait_for, "mww_test_p/hey_progress/status", count=2)
    body = json.loads(progress[0].payload)
    assert (body["state"], body["stage"], body["percent"]) == ("running", "train", 25.0)
    assert body["job_id"] == str(job.id) and body["wake_word"] == "Hey Progress"
    assert json.loads(status[0].payload)["state"] == "running"
    assert json.loads(finished[-1].payload)["state"] == "cancelled"
