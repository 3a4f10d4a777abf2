"""An ESPHome folder to deploy into: the satellite fixture plus the okay_nabu model that its
kitchen.yaml refers to, taken from pymicro_wakeword's official models.

Test modules use the fixtures by binding them at module level (an import would trip ruff's
F811 on every test argument): `folder = esphome_folder.folder`, and likewise official_models.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SATELLITE = Path(__file__).parents[1] / "data" / "esphome" / "satellite"


def official_models_dir() -> Path:
    import pymicro_wakeword

    return Path(pymicro_wakeword.__file__).parent / "models"


def esphome_folder(target: Path, models: Path | None = None) -> Path:
    """Copy the satellite fixture to `target`, with okay_nabu in its models/ folder."""
    models = official_models_dir() if models is None else models
    shutil.copytree(SATELLITE, target)
    (target / "models").mkdir()
    for suffix in (".json", ".tflite"):
        shutil.copy(models / f"okay_nabu{suffix}", target / "models")
    return target


@pytest.fixture(scope="session")
def official_models() -> Path:
    package = pytest.importorskip("pymicro_wakeword")
    return Path(package.__file__).parent / "models"


@pytest.fixture
def folder(tmp_path: Path, official_models: Path) -> Path:
    return esphome_folder(tmp_path / "esphome", official_models)
