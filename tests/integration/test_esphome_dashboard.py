"""flash() through an ESPHome dashboard: the websocket protocol, classification, secrets
masked, basic auth, and cancelling by closing the socket (against a fake dashboard)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from mww_trainer.esphome import EsphomeBridgeError, Failure, find_device, flash
from mww_trainer.esphome.dashboard import DashboardClient
from tests.fakes.fake_esphome_dashboard import FakeDashboard, Script

pytestmark = pytest.mark.integration

SATELLITE = Path(__file__).parents[1] / "data" / "esphome" / "satellite"
COMPILED = Script(
    ["INFO Reading configuration kitchen.yaml...", "INFO Successfully compiled program."]
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(SATELLITE, tmp_path / "esphome")
    return tmp_path / "esphome"


def test_compile_then_upload_through_the_dashboard(folder):
    upload = Script(
        [
            "INFO Connecting to 192.168.1.23 port 3232...",
            "INFO Uploading /data/build/kitchen-satellite/firmware.bin (1000000 bytes)",
            "Uploading: [=====                ] 25%\rUploading: [==========           ] 50%",
            "INFO OTA successful",
            "INFO Successfully uploaded program.",
        ]
    )
    lines, events = [], []
    with FakeDashboard({"compile": COMPILED, "upload": upload}) as dashboard:
        result = flash(
            find_device(folder, "kitchen"),
            folder,
            on_line=lines.append,
            on_progress=events.append,
            dashboard_url=dashboard.url,
        )
    assert result.ok, result.message
    assert dashboard.seen.spawns == [
        ("compile", {"type": "spawn", "configuration": "kitchen.yaml"}),
        ("upload", {"type": "spawn", "configuration": "kitchen.yaml", "port": "OTA"}),
    ]
    assert "Uploading: [==========           ] 50%" in lines  # \r split like the CLI's
    percents = [e.done for e in events if e.stage == "upload" and e.total == 100]
    assert percents == [25, 50]


def test_wrong_password_through_the_dashboard_is_auth_and_secrets_are_masked(folder):
    upload = Script(
        [
            "INFO Connecting to 192.168.1.23 port 3232...",
            "DEBUG Auth: SHA256 password s3cr3t-ota-pass",  # a leak we must not pass on
            "ERROR receiving auth result: Authentication invalid. Is the password correct?",
        ],
        code=1,
    )
    lines: list[str] = []
    with FakeDashboard({"compile": COMPILED, "upload": upload}) as dashboard:
        result = flash(
            find_device(folder, "kitchen"),
            folder,
            on_line=lines.append,
            dashboard_url=dashboard.url,
        )
    assert (result.ok, result.stage, result.failure) == (False, "upload", Failure.AUTH)
    assert all("s3cr3t-ota-pass" not in x for x in [*lines, *result.lines, result.message])
    assert "DEBUG Auth: SHA256 password ******" in lines


def test_cancel_closes_the_socket_and_the_dashboard_stops(folder):
    cancel = threading.Event()
    endless = Script(["Compiling .pioenvs/kitchen/src/main.cpp.o"], endless=True)

    def on_line(line: str) -> None:
        cancel.set()

    with FakeDashboard({"compile": endless}) as dashboard:
        result = flash(
            find_device(folder, "kitchen"),
            folder,
            on_line=on_line,
            cancel_event=cancel,
            dashboard_url=dashboard.url,
        )
        for _ in range(50):
            if dashboard.seen.closed_early:
                break
            threading.Event().wait(0.05)
    assert (result.ok, result.stage, result.failure) == (False, "compile", Failure.CANCELLED)
    assert dashboard.seen.closed_early == ["compile"]


def test_basic_auth_from_the_url(folder):
    with FakeDashboard({"validate": COMPILED}, credentials=("admin", "pa:ss")) as dashboard:
        client = DashboardClient(dashboard.url.replace("http://", "http://admin:pa%3Ass@"))
        result = client.run("validate", "kitchen.yaml")
        assert result.ok and dashboard.seen.unauthorised == 0
        with pytest.raises(EsphomeBridgeError, match="cannot use the ESPHome dashboard"):
            DashboardClient(dashboard.url).run("validate", "kitchen.yaml")
        assert dashboard.seen.unauthorised == 1


def test_unreachable_dashboard_is_a_clear_error(folder):
    with pytest.raises(EsphomeBridgeError, match="check the URL"):
        flash(find_device(folder, "kitchen"), folder, dashboard_url="http://127.0.0.1:9/")
    with pytest.raises(EsphomeBridgeError, match="must look like"):
        DashboardClient("ws://nowhere")
