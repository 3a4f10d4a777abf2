"""TensorBoard scalars from progress events (loss and lr while training, metrics per evaluation)."""

from __future__ import annotations

from pathlib import Path

from mww_trainer.progress import ProgressEvent


class TensorBoardWriter:
    def __init__(self, log_dir: Path):
        import tensorflow as tf

        self._tf = tf
        self.writer = tf.summary.create_file_writer(str(log_dir))

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage not in ("train", "validate"):
            return
        prefix = "epoch_" if event.stage == "train" else "val_"
        with self.writer.as_default(step=event.done):
            for key, value in event.metrics.items():
                if isinstance(value, int | float) and key not in ("step", "phase"):
                    name = "learning_rate" if key == "lr" else prefix + key
                    self._tf.summary.scalar(name, float(value))
        if event.stage == "validate":
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()
