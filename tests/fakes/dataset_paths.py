"""A configuration's paths for a dataset folder laid out as the user guide says."""

from __future__ import annotations

from pathlib import Path

from mww_trainer import jobfiles
from mww_trainer.config.types import PathsConfig


def paths_for(root: Path) -> PathsConfig:
    """Role folders under ``root``; processed, checkpoints and export beside it."""
    return PathsConfig(
        **jobfiles.dataset_paths(root),
        processed_dir=str(root.parent / "processed"),
        **jobfiles.job_paths(root.parent),
    )
