"""Where training runs: CPU, one GPU, or several GPUs with tf.distribute; float32 or mixed.

Nothing here is needed on a CPU: the default strategy and float32 are what TensorFlow
does anyway. With GPUs, memory grows on demand, several GPUs share each batch through
MirroredStrategy, and mixed precision (when the config asks for it) runs the convolutions
in float16 while the head and the loss stay float32.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mww_trainer.config.types import PerformanceConfig


def quiet_tensorflow() -> None:
    """Imports TensorFlow with its C++ start-up chatter (oneDNN, CUDA probing) silenced.

    Those lines bypass TF_CPP_MIN_LOG_LEVEL, so file descriptor 2 itself is pointed
    elsewhere for the import; if the import fails, what it printed is shown after all.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@dataclass(frozen=True)
class Compute:
    strategy: Any  # tf.distribute.Strategy
    mixed_precision: bool
    device: str  # e.g. "CPU" or "2 × NVIDIA H100"

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync


def gpu_names() -> list[str]:
    """Names from nvidia-smi, without starting TensorFlow (the web process uses this)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [
        line.split(":", 1)[1].split("(")[0].strip()
        for line in out.splitlines()
        if line.startswith("GPU ")
    ]


def setup_compute(performance: PerformanceConfig) -> Compute:
    import tensorflow as tf

    if performance.inter_op_parallelism:
        tf.config.threading.set_inter_op_parallelism_threads(performance.inter_op_parallelism)
    if performance.intra_op_parallelism:
        tf.config.threading.set_intra_op_parallelism_threads(performance.intra_op_parallelism)
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    many = len(gpus) > 1
    strategy = tf.distribute.MirroredStrategy() if many else tf.distribute.get_strategy()
    names = gpu_names() or [g.name for g in gpus]
    device = f"{len(names)} × {names[0]}" if len(names) > 1 else (names[0] if names else "CPU")
    return Compute(strategy, bool(performance.mixed_precision and gpus), device)


@contextlib.contextmanager
def precision(mixed: bool) -> Iterator[None]:
    """Mixed float16 inside the block only: export and evaluation must stay float32."""
    import keras

    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
