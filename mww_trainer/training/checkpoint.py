"""Saving and loading trained weights (Keras `.weights.h5` of the clip model)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mww_trainer.config.types import ModelConfig
from mww_trainer.errors import MwwError
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.model.stream import Mode

SUFFIX = ".weights.h5"


def save_checkpoint(net: MixedNet, path: os.PathLike | str) -> Path:
    """Atomically writes the weights; a crash mid-save leaves the previous file intact."""
    path = Path(path)
    if not path.name.endswith(SUFFIX):
        raise ValueError(f"{path}: checkpoint names end in {SUFFIX}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name[: -len(SUFFIX)]}.", suffix=SUFFIX, dir=path.parent
    )
    os.close(fd)
    try:
        net.model(Mode.TRAINING).save_weights(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(arch: ModelConfig, path: os.PathLike | str) -> MixedNet:
    """A MixedNet with the checkpoint's weights; the architecture must match the one trained."""
    path = Path(path)
    if not path.is_file():
        raise MwwError(f"{path}: checkpoint not found (expected a {SUFFIX} file from mww-train)")
    net = MixedNet(arch)
    try:
        net.model(Mode.TRAINING).load_weights(path)
    except (ValueError, OSError) as exc:
        raise MwwError(
            f"{path}: cannot load these weights into the configured model ({exc}). "
            "Export with the same --config/--override the model was trained with."
        ) from exc
    except (KeyError, RuntimeError, TypeError, IndexError) as exc:  # h5py on a damaged file
        raise MwwError(
            f"{path}: the checkpoint file is damaged ({type(exc).__name__}: {exc}); use another "
            "checkpoint from the same folder, or train again"
        ) from exc
    return net
