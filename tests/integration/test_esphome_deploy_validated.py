"""deploy with the real verifier and the real `esphome config`, then the real code generator:
the model's bytes and its quantised cutoff end up in the generated main.cpp."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mww_trainer.cli.esphome import main
from mww_trainer.device.sensitivity import write_sidecar
from mww_trainer.device.verify import verify_model
from mww_trainer.esphome import (
    DeployOptions,
    ValidationError,
    deploy,
    find_device,
)
from mww_trainer.esphome.runner import ESPHOME_COMMAND
from tests.fakes import esphome_folder
from tests.fakes.levels import measured_levels

pytestmark = pytest.mark.integration
pytest.importorskip("esphome")

folder = esphome_folder.folder  # the shared fixtures: a satellite ESPHome folder
official_models = esphome_folder.official_models
deploy_module = importlib.import_module("mww_trainer.esphome.deploy")


_VERIFIED: dict[str, object] = {}


def cached_verify(path: Path):
    """The real verifier, run once per manifest + model content (it takes seconds)."""
    path = Path(path)
    manifest = path.read_bytes()
    model = (path.parent / json.loads(manifest)["model"]).read_bytes()
    key = hashlib.sha256(manifest + model).hexdigest()
    if key not in _VERIFIED:
        _VERIFIED[key] = verify_model(path)
    return _VERIFIED[key]


@pytest.fixture
def manifest(tmp_path: Path, official_models: Path) -> Path:
    export = tmp_path / "export"
    export.mkdir()
    for suffix in (".json", ".tflite"):
        shutil.copy(official_models / f"hey_jarvis{suffix}", export)
    return export / "hey_jarvis.json"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock" and ".esphome" not in p.parts
    }


def test_deploy_validates_and_the_firmware_source_holds_the_model(folder, manifest, monkeypatch):
    """With its sensitivity levels beside the manifest: the select sets the cutoff."""
    monkeypatch.setattr(deploy_module, "verify_model", cached_verify)  # real, run once
    write_sidecar(measured_levels("hey_jarvis.tflite", (230, 247, 251)), manifest.parent)
    device = find_device(folder, "kitchen")
    result = deploy(manifest, device, folder)  # default options: verify + esphome config

    assert result.validated and result.model_ids == ("hey_jarvis", "okay_nabu")
    package = (folder / "wake_words/hey_jarvis/hey_jarvis.package.yaml").read_text()
    assert 'name: "Wake word sensitivity (Hey Jarvis)"' in package
    assert any("first of 2 models" in w for w in result.warnings)

    proc = subprocess.run(
        [*ESPHOME_COMMAND, "compile", "--only-generate", str(folder / "kitchen.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    main_cpp = (
        folder / ".esphome" / "build" / "kitchen-satellite" / "src" / "main.cpp"
    ).read_text()
    calls = dict(
        re.findall(r'WakeWordModel\("(\w+)", \w+, (\d+, \d+, "[^"]+", \d+, \w+)', main_cpp)
    )
    # cutoff int(0.97 * 255) = 247, window 5, arena 22860, enabled on first boot
    assert calls["hey_jarvis"] == '247, 5, "Hey Jarvis", 22860, true'
    assert calls["okay_nabu"] == '216, 5, "Okay Nabu", 37000, false'
    # The select: three options, each setting the model's uint8 cutoff; the default first.
    assert '"Slightly sensitive", "Moderately sensitive", "Very sensitive"' in main_cpp
    for cutoff in (251, 247, 230):
        assert f"hey_jarvis->set_probability_cutoff({cutoff});" in main_cpp
    model = (manifest.with_suffix(".tflite")).read_bytes()
    for start in (0, len(model) // 2, len(model) - 64):
        run = ", ".join(f"0x{b:02X}" for b in model[start : start + 64])
        assert run in main_cpp


def test_esphome_rejecting_the_edit_rolls_back_byte_for_byte(folder, manifest):
    """The device's own model uses 20 ms feature steps; ours uses 10: ESPHome says no."""
    legacy = json.loads((folder / "models" / "okay_nabu.json").read_text())
    legacy["micro"]["feature_step_size"] = 20
    (folder / "models" / "okay_nabu.json").write_text(json.dumps(legacy))
    before = snapshot(folder)

    with pytest.raises(ValidationError) as err:
        deploy(
            manifest,
            find_device(folder, "kitchen"),
            folder,
            options=DeployOptions(verifier=cached_verify),
        )

    assert "Cannot load models with different features step sizes" in str(err.value)
    assert snapshot(folder) == before  # YAML byte-for-byte, no wake_words/, no backup
    assert not (folder / "wake_words").exists()
    assert not list((folder / ".mww-backups").glob("kitchen.*"))


def test_a_failing_validator_command_rolls_back(folder, manifest):
    before = snapshot(folder)
    failing = ("sh", "-c", 'echo "Failed config"; echo "  boom: not today"; exit 2', "esphome")
    options = DeployOptions(verifier=cached_verify, esphome_command=failing)
    with pytest.raises(ValidationError, match="boom: not today"):
        deploy(manifest, find_device(folder, "kitchen"), folder, options=options)
    assert snapshot(folder) == before


def test_a_file_esphome_rejected_before_the_change_is_said_so(folder, manifest):
    """Only the edited file fails here; a file that fails without us is the user's to fix."""
    only_ours = 'grep -q mww_ "$2" && { echo "Failed config"; echo "  ours: no"; exit 2; }; exit 0'
    always = 'echo "Failed config"; echo "  yours: no"; exit 2'
    for script, expected in (
        (only_ours, "ESPHome rejected kitchen.yaml with mww_hey_jarvis added"),
        (always, "ESPHome rejects kitchen.yaml as it is, without the model too"),
    ):
        options = DeployOptions(verifier=cached_verify, esphome_command=("sh", "-c", script, "e"))
        with pytest.raises(ValidationError, match=expected):
            deploy(manifest, find_device(folder, "kitchen"), folder, options=options)


def test_a_model_without_an_id_is_named_by_its_manifest(folder, manifest):
    """ESPHome prints `id: None` for it; the order warning names its file instead."""
    printed = (
        "micro_wake_word:\n  models:\n  - model: wake_words/hey_jarvis/hey_jarvis.json\n"
        "    id: hey_jarvis\n  - model: models/okay_nabu.json\n"
    )
    script = f"printf '{printed}'"
    options = DeployOptions(verifier=cached_verify, esphome_command=("sh", "-c", script, "e"))
    result = deploy(manifest, find_device(folder, "kitchen"), folder, options=options)
    assert result.model_ids == ("hey_jarvis", "models/okay_nabu.json")
    assert "None" not in " ".join(result.warnings)


def test_cli_preview_decline_accept_and_undo(folder, manifest, monkeypatch, capsys):
    monkeypatch.setattr(deploy_module, "verify_model", cached_verify)
    original = (folder / "kitchen.yaml").read_bytes()
    args = ["deploy", str(manifest), "--device", "kitchen-satellite", "--esphome-dir", str(folder)]

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(args) == 1
    out = capsys.readouterr()
    assert "+  mww_hey_jarvis: !include wake_words/hey_jarvis/hey_jarvis.package.yaml" in out.out
    assert "[y/N]" in out.out and "not deployed" in out.err
    assert (folder / "kitchen.yaml").read_bytes() == original

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Deployed 'hey_jarvis' to kitchen-satellite" in out
    assert "esphome config: valid" in out and "warning: 'hey_jarvis' is now the first" in out

    assert main([*args, "--yes"]) == 0
    assert "nothing changed" in capsys.readouterr().out

    assert main(["undo", "--device", "kitchen", "--esphome-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "restored byte-for-byte" in out and "no device includes it any more" in out
    assert (folder / "kitchen.yaml").read_bytes() == original


def test_cli_refuses_an_incompatible_model(folder, manifest, capsys):
    broken = manifest.with_suffix(".tflite")
    broken.write_bytes(broken.read_bytes()[:1000])  # truncated flatbuffer
    args = ["deploy", str(manifest), "--device", "kitchen", "--esphome-dir", str(folder), "--yes"]
    assert main(args) == 2
    assert "not deployed, ESPHome could not run it" in capsys.readouterr().err
