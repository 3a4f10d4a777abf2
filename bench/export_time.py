"""Export time and tensor arena for the hey_jarvis shape, beside the official hey_jarvis model.

    .venv/bin/python bench/export_time.py

Exports the standard preset's MixedNet (30 filters k5 s3, kernels 5/9/13/21, pointwise 60;
random weights, calibration on random in-range slices), times each stage, and measures the
arena of our file and of the official one with the same TFLite-Micro bisection.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def main() -> None:
    import pymicro_wakeword

    from mww_trainer.config import load_preset
    from mww_trainer.device import arena
    from mww_trainer.device.export import convert_to_tflite, save_streaming_model
    from mww_trainer.device.tflite_model import TFLiteModel
    from mww_trainer.model.mixednet import MixedNet

    config = load_preset("standard")
    net = MixedNet(config.model)
    rng = np.random.default_rng(0)
    slices = rng.uniform(0, 26, (1500, 3, 40)).astype(np.float32)
    slices[0, 0, :2] = (0.0, 26.0)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        saved = save_streaming_model(net, Path(tmp) / "streaming")
        t1 = time.perf_counter()
        data = convert_to_tflite(saved, slices)
        t2 = time.perf_counter()
        ours = arena.measure_arena(data)
        t3 = time.perf_counter()
    official_path = Path(pymicro_wakeword.__file__).parent / "models" / "hey_jarvis.tflite"
    official = arena.measure_arena(official_path.read_bytes())
    main_ops = len(TFLiteModel.from_bytes(data).main.operators)
    print(
        f"SavedModel {t1 - t0:.1f} s, TFLite conversion (1500 calibration slices) "
        f"{t2 - t1:.1f} s, arena bisection {t3 - t2:.1f} s ({ours.probes} probes)"
    )
    print(
        f"ours:     {len(data):,} bytes, {main_ops} main ops, arena {ours.bytes:,} B "
        f"-> manifest {arena.recommended_arena_size(ours.bytes):,} B"
    )
    print(
        f"official: {official_path.stat().st_size:,} bytes, arena {official.bytes:,} B "
        f"(its manifest says 22,860 B)"
    )


if __name__ == "__main__":
    main()
