"""The subprocess runner (streaming, masking, cancelling a whole process group) and the
classification of ESPHome's output (lines recorded from real esphome 2026.6 runs)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from mww_trainer.esphome import Failure, upload_firmware
from mww_trainer.esphome.devices import Device
from mww_trainer.esphome.flash import failure_kind, upload_address
from mww_trainer.esphome.runner import run_streaming
from mww_trainer.esphome.secrets import Redactor

RECORDED = {  # one decisive line per outcome, as ESPHome printed them
    ("compile", Failure.TOOLCHAIN_DOWNLOAD): [
        "INFO Compiling app... Build path: /tmp/exp/.esphome/build/kitchen-satellite",
        "Platform Manager: Installing https://github.com/pioarduino/platform-espressif32/"
        "releases/download/55.03.39/platform-espressif32.zip",
        "Package download failed: HTTPSConnectionPool(host='github.com', port=443): Max retries"
        " exceeded with url: /pioarduino/platform-espressif32.zip (Caused by NameResolutionError"
        "(\"HTTPSConnection(host='github.com', port=443): Failed to resolve 'github.com'\"))."
        " Retrying in 2 seconds... (attempt 1/5)",
    ],
    ("compile", Failure.CONFIG): [
        "INFO Reading configuration sat3.yaml...",
        "Failed config",
        "micro_wake_word: [source wake_words/alexa/rel.package.yaml:1]",
    ],
    ("compile", Failure.COMPILE): [
        "src/main.cpp:42:3: error: 'foo' was not declared in this scope",
        "*** [.pioenvs/kitchen/src/main.cpp.o] Error 1",
    ],
    ("upload", Failure.AUTH): [
        "INFO Connected to 127.0.0.1",
        "ERROR receiving auth result: Authentication invalid. Is the password correct?",
    ],
    ("upload", Failure.OFFLINE): [
        "ERROR Connecting to 127.0.0.1 port 35037 failed: [Errno 111] Connection refused",
        "ERROR Connection failed.",
    ],
    ("upload", Failure.FLASH): [
        "INFO Uploading /tmp/ota/fw.bin (300000 bytes)",
        "ERROR receiving chunk result: Writing OTA data to flash memory failed.",
        "WARNING Failed to upload to ['127.0.0.1']",
    ],
}


@pytest.mark.parametrize(("stage", "kind"), list(RECORDED))
def test_failure_kind_from_recorded_output(stage, kind):
    assert failure_kind(RECORDED[(stage, kind)], stage) is kind


def test_unrecognised_output():
    assert failure_kind(["something odd"], "upload") is Failure.UNKNOWN
    assert failure_kind(["something odd"], "compile") is Failure.COMPILE


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_streams_lines_split_on_carriage_returns_cleaned_and_masked(tmp_path):
    seen: list[str] = []
    code = (
        "import sys\n"
        "sys.stdout.write('\\x1b[36mINFO colour\\x1b[0m\\n')\n"
        "sys.stdout.write('Uploading: 10%\\rUploading: 20%\\r\\n')\n"
        "sys.stderr.write('ERROR pw hunter2-secret\\n')\n"
    )
    result = run_streaming(
        python(code), cwd=tmp_path, on_line=seen.append, redact=Redactor(["hunter2-secret"])
    )
    assert result.ok and result.returncode == 0
    assert seen == list(result.lines)
    assert seen == ["INFO colour", "Uploading: 10%", "Uploading: 20%", "ERROR pw ******"]


def test_cancel_stops_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    cancel = threading.Event()
    started = time.monotonic()
    result = run_streaming(
        python(code), cwd=tmp_path, on_line=lambda _: cancel.set(), cancel_event=cancel
    )

    assert result.cancelled and result.returncode is None and not result.ok
    assert time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # reaped by init shortly after the kill
        if not _alive(grandchild):
            break
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_timeout(tmp_path):
    result = run_streaming(python("import time; time.sleep(30)"), cwd=tmp_path, timeout_s=0.5)
    assert result.timed_out and not result.ok


def test_upload_address_prefers_a_fixed_address():
    base = {"name": "kitchen", "yaml_path": Path("/x/kitchen.yaml")}
    fixed = Device(**base, address="192.168.1.5", address_source="static_ip")
    mdns = Device(**base, address="kitchen.local", address_source="mdns")
    secret = Device(**base, address=None, address_source="secret")
    assert upload_address(fixed) == "192.168.1.5"
    assert upload_address(mdns) == upload_address(secret) == "OTA"  # ESPHome resolves it


def test_missing_firmware_file(tmp_path):
    device = Device(name="kitchen", yaml_path=tmp_path / "kitchen.yaml")
    result = upload_firmware(device, tmp_path, tmp_path / "nope.bin")
    assert not result.ok and "no firmware image" in result.message


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
