"""A configuration's paths for a dataset folder laid out as the user guide says."""

from __future__ import annotations

from pathlib import Path

from mww_trainer.config.types import PathsConfig


def paths_for(root: Path) -> PathsConfig:
    """Role folders under ``root``; processed, checkpoints and export beside it."""
    return PathsConfig(
        positive_dir=str(root / "positive"),
        negative_dir=str(root / "negative"),
        hard_negative_dir=str(root / "hard_negative"),
        background_dir=str(root / "background"),
        rir_dir=str(root / "rirs"),
        processed_dir=str(root.parent / "processed"),
        checkpoint_dir=str(root.parent / "checkpoints"),
        export_dir=str(root.parent / "export"),
    )
