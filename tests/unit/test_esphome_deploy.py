"""deploy / undo without ESPHome's validator: files, backups, idempotence, refusals, full
disk, read-only folder, and two deploys at once. (tests/integration runs `esphome config`.)"""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from mww_trainer.device.verify import VerifyReport
from mww_trainer.esphome import (
    DeployDeclined,
    DeployError,
    DeployOptions,
    deploy,
    find_device,
    undo,
    yamlio,
)
from mww_trainer.esphome import backup as bk
from tests.fakes import esphome_folder

folder = esphome_folder.folder  # the shared fixtures: a satellite ESPHome folder
official_models = esphome_folder.official_models
deploy_module = importlib.import_module("mww_trainer.esphome.deploy")  # `deploy` is the function
ENTRY = "  mww_hey_jarvis: !include wake_words/hey_jarvis/hey_jarvis.package.yaml\n"


def passing(path: Path) -> VerifyReport:
    report = VerifyReport(path=Path(path))
    report.add("Ops", True, "20 allowed ops")
    return report


def failing(path: Path) -> VerifyReport:
    report = VerifyReport(path=Path(path))
    report.add("Ops", False, "SHAPE is not registered on the device")
    return report


FAST = DeployOptions(validate=False, verifier=passing)


@pytest.fixture
def manifest(tmp_path: Path, official_models: Path) -> Path:
    export = tmp_path / "export"
    export.mkdir()
    for name in ("hey_jarvis", "alexa"):
        for suffix in (".json", ".tflite"):
            shutil.copy(official_models / f"{name}{suffix}", export)
    return export / "hey_jarvis.json"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != bk.LOCK_FILE
    }


def strays(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if ".tmp" in p.name or ".old-" in p.name]


def test_deploy_adds_one_line_and_copies_the_model(folder, manifest):
    original = (folder / "kitchen.yaml").read_bytes()
    device = find_device(folder, "kitchen")

    result = deploy(manifest, device, folder, options=FAST)

    text = (folder / "kitchen.yaml").read_text()
    assert text == original.decode().replace("\n\nesp32:", f"\n\npackages:\n{ENTRY}\nesp32:", 1)
    model_dir = folder / "wake_words" / "hey_jarvis"
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "hey_jarvis.json",
        "hey_jarvis.package.yaml",
        "hey_jarvis.tflite",
    ]
    for suffix in (".json", ".tflite"):
        assert (model_dir / f"hey_jarvis{suffix}").read_bytes() == manifest.with_suffix(
            suffix
        ).read_bytes()
    assert result.model_id == "hey_jarvis" and result.yaml_changed and result.files_changed
    assert result.backup is not None and result.backup.read_bytes() == original
    assert result.backup.parent == folder / ".mww-backups"
    record = json.loads(result.backup.with_name(result.backup.name + ".json").read_text())
    assert record["written_sha256"] == bk.sha256_hex(text.encode())
    assert "+packages:" in result.diff and "+    - model: wake_words/hey_jarvis" in result.diff
    assert strays(folder) == []


def test_generated_files_are_not_top_level_yaml_nor_config(folder, manifest):
    deploy(manifest, find_device(folder, "kitchen"), folder, options=FAST)
    assert sorted(p.name for p in folder.glob("*.yaml")) == [
        "kitchen.yaml",
        "plug.yaml",
        "secrets.yaml",
        "voice-pe.yaml",
    ]
    assert not list(folder.rglob("config.*"))
    device = find_device(folder, "kitchen")
    assert [w.id for w in device.wake_words] == ["hey_jarvis", "okay_nabu"]


def test_deploying_again_changes_nothing(folder, manifest):
    device = find_device(folder, "kitchen")
    deploy(manifest, device, folder, options=FAST)
    before = snapshot(folder)

    again = deploy(manifest, device, folder, options=FAST)

    assert not again.changed and again.backup is None
    assert snapshot(folder) == before


def test_redeploying_a_retrained_model_updates_the_files_only(folder, manifest):
    device = find_device(folder, "kitchen")
    deploy(manifest, device, folder, options=FAST)
    yaml_before = (folder / "kitchen.yaml").read_bytes()
    data = json.loads(manifest.read_text())
    data["micro"]["probability_cutoff"] = 0.9
    manifest.write_text(json.dumps(data))

    result = deploy(manifest, device, folder, options=FAST)

    assert result.files_changed and not result.yaml_changed and result.backup is None
    assert (folder / "kitchen.yaml").read_bytes() == yaml_before
    assert (folder / "wake_words/hey_jarvis/hey_jarvis.json").read_bytes() == manifest.read_bytes()


def test_undo_restores_byte_for_byte(folder, manifest):
    original = (folder / "kitchen.yaml").read_bytes()
    device = find_device(folder, "kitchen")
    deploy(manifest, device, folder, options=FAST)

    result = undo(device, folder, options=FAST)

    assert result.method == "restored"
    assert (folder / "kitchen.yaml").read_bytes() == original
    assert "-packages:" in result.diff
    # No device includes the model any more: its folder goes too (wake_words/ stays).
    assert result.removed_folder == folder.resolve() / "wake_words" / "hey_jarvis"
    assert not result.removed_folder.exists()
    assert result.backup.name.endswith(".undone.yaml") and result.backup.read_bytes() == original
    with pytest.raises(DeployError, match="nothing to undo"):
        undo(device, folder, options=FAST)


def test_undo_after_the_user_edited_the_file_removes_only_our_entry(folder, manifest):
    original = (folder / "kitchen.yaml").read_text()
    device = find_device(folder, "kitchen")
    deploy(manifest, device, folder, options=FAST)
    edited = (folder / "kitchen.yaml").read_text() + "\n# my own note\n"
    (folder / "kitchen.yaml").write_text(edited)

    result = undo(device, folder, options=FAST)

    assert result.method == "removed_entry"
    assert (folder / "kitchen.yaml").read_text() == original + "\n# my own note\n"


def test_undo_of_two_deploys_goes_back_one_at_a_time(folder, manifest):
    original = (folder / "kitchen.yaml").read_bytes()
    device = find_device(folder, "kitchen")
    deploy(manifest, device, folder, options=FAST)
    after_first = (folder / "kitchen.yaml").read_bytes()
    time.sleep(0.001)
    deploy(manifest.with_name("alexa.json"), device, folder, options=FAST)

    assert undo(device, folder, options=FAST).removed_folder.name == "alexa"
    assert (folder / "kitchen.yaml").read_bytes() == after_first
    assert (folder / "wake_words" / "hey_jarvis").is_dir()  # still included
    undo(device, folder, options=FAST)
    assert (folder / "kitchen.yaml").read_bytes() == original


def test_declining_the_preview_changes_nothing(folder, manifest):
    before = snapshot(folder)
    seen = []

    def confirm(plan):
        seen.append(plan.diff)
        return False

    with pytest.raises(DeployDeclined):
        deploy(manifest, find_device(folder, "kitchen"), folder, confirm=confirm, options=FAST)

    assert "+  mww_hey_jarvis: !include" in seen[0]
    assert snapshot(folder) == before


def test_an_incompatible_model_is_refused_with_its_failed_checks(folder, manifest):
    before = snapshot(folder)
    options = DeployOptions(validate=False, verifier=failing)
    with pytest.raises(DeployError, match="SHAPE is not registered"):
        deploy(manifest, find_device(folder, "kitchen"), folder, options=options)
    assert snapshot(folder) == before


def test_a_non_esp32_device_is_refused(folder, manifest):
    with pytest.raises(DeployError, match="esp8266"):
        deploy(manifest, find_device(folder, "hall-plug"), folder, options=FAST)


def test_a_folder_we_did_not_make_is_never_replaced(folder, manifest):
    mine = folder / "wake_words" / "hey_jarvis"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("the user's own file")
    before = snapshot(folder)
    with pytest.raises(DeployError, match="not made by mww-trainer"):
        deploy(manifest, find_device(folder, "kitchen"), folder, options=FAST)
    assert snapshot(folder) == before


def test_an_id_already_used_is_refused(folder, manifest):
    kitchen = folder / "kitchen.yaml"
    kitchen.write_text(kitchen.read_text().replace("id: va", "id: hey_jarvis"))
    with pytest.raises(DeployError, match="already declares id 'hey_jarvis'"):
        deploy(manifest, find_device(folder, "kitchen"), folder, options=FAST)


@pytest.mark.parametrize("fail_on", [".kitchen.yaml.", ".hey_jarvis.tflite.", ".kitchen."])
def test_a_full_disk_leaves_everything_as_it_was(folder, manifest, monkeypatch, fail_on):
    """The write fails half-way with ENOSPC: while writing the YAML, the model, the backup."""
    before = snapshot(folder)
    real_write = bk._write_all

    def write_all(handle, data, tmp_path):
        if tmp_path.name.startswith(fail_on):
            real_write(handle, data[: len(data) // 2], tmp_path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(handle, data, tmp_path)

    monkeypatch.setattr(bk, "_write_all", write_all)
    with pytest.raises(DeployError, match=r"disk .* is full"):
        deploy(manifest, find_device(folder, "kitchen"), folder, options=FAST)

    assert snapshot(folder) == before
    assert strays(folder) == []
    assert not (folder / "wake_words").exists()


@pytest.fixture
def open_tmp(tmp_path: Path):
    """A folder other users can traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mww-esphome-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("backups_writable", [False, True])
def test_a_read_only_folder_is_a_clear_error(folder, manifest, open_tmp, backups_writable):
    """Read-only from the start, or only the folder itself (backups made, then the YAML
    write fails): either way nothing changes."""
    shutil.copytree(folder, open_tmp / "esphome")
    shutil.copytree(manifest.parent, open_tmp / "export")
    folder, manifest = open_tmp / "esphome", open_tmp / "export" / manifest.name
    if backups_writable:
        (folder / ".mww-backups").mkdir(mode=0o777)
        (folder / ".mww-backups").chmod(0o777)
    before = snapshot(folder)
    folder.chmod(0o555)
    try:
        outcome = _unprivileged(
            lambda: deploy(manifest, find_device(folder, "kitchen"), folder, options=FAST)
        )
    finally:
        folder.chmod(0o755)
    assert outcome[0] == "DeployError", outcome
    assert "not writable" in outcome[1] and "Permission denied" in outcome[1]
    assert snapshot(folder) == before
    assert strays(folder) == []


def test_two_deploys_at_once_are_serialised(folder, manifest, monkeypatch):
    device = find_device(folder, "kitchen")
    spans: list[tuple[float, float]] = []
    real_plan = deploy_module.plan_deploy

    def slow_plan(*args, **kwargs):
        start = time.monotonic()
        time.sleep(0.2)  # widen the window two unlocked deploys would collide in
        plan = real_plan(*args, **kwargs)
        spans.append((start, time.monotonic()))
        return plan

    monkeypatch.setattr(deploy_module, "plan_deploy", slow_plan)
    errors: list[BaseException] = []

    def run(path: Path) -> None:
        try:
            deploy(path, device, folder, options=FAST)
        except BaseException as err:  # collected and re-raised by the test
            errors.append(err)

    threads = [
        threading.Thread(target=run, args=(manifest.with_name(f"{n}.json"),))
        for n in ("hey_jarvis", "alexa")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    (_, first_end), (second_start, _) = sorted(spans)
    assert first_end <= second_start  # the second planned only after the first had finished
    tree = yamlio.to_plain(yamlio.load_file(folder / "kitchen.yaml"))
    assert set(tree["packages"]) == {"mww_hey_jarvis", "mww_alexa"}
    assert len(list((folder / ".mww-backups").glob("kitchen.*.yaml"))) == 2


def _unprivileged(action):
    """Run `action` as a user the folder's permissions apply to (root ignores them).

    Returns (exception class name, message) or ("ok", ""). As root, a forked child drops
    to uid/gid 65534 first; the modules are already imported, so nothing is read as nobody
    but the files under test.
    """
    if os.geteuid() != 0:
        try:
            action()
        except Exception as err:
            return type(err).__name__, str(err)
        return "ok", ""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, run, report, exit without cleanup
        os.close(read_fd)
        outcome = ("ok", "")
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            action()
        except BaseException as err:
            outcome = (type(err).__name__, str(err))
        os.write(write_fd, json.dumps(outcome).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    return tuple(json.loads(data))
