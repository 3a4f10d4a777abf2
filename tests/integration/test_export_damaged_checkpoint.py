"""mww-export on a damaged checkpoint: one line saying so and exit status 2, no traceback."""

from __future__ import annotations

import json
import random

import pytest

from mww_trainer.cli.common import EXIT_USAGE
from mww_trainer.config import deep_merge, load_config_dict, load_preset_dict
from mww_trainer.demo import TINY_MODEL

pytestmark = pytest.mark.integration


def test_a_bit_flipped_checkpoint_is_a_usage_error_not_a_gate_failure(tmp_path, capsys):
    from mww_trainer.cli.export import main
    from mww_trainer.model.mixednet import MixedNet
    from mww_trainer.training.checkpoint import save_checkpoint

    override = tmp_path / "tiny.yaml"
    override.write_text(json.dumps({"model": TINY_MODEL}))  # JSON is YAML
    config = load_config_dict(deep_merge(load_preset_dict("fast_test"), {"model": TINY_MODEL}))
    good = save_checkpoint(MixedNet(config.model), tmp_path / "good.weights.h5")
    data = good.read_bytes()
    for seed in range(4):  # 20 flipped bits each: h5py raises KeyError or RuntimeError
        rng, damaged = random.Random(seed), bytearray(data)
        for _ in range(20):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        path = tmp_path / f"flipped{seed}.weights.h5"
        path.write_bytes(damaged)
        args = ["--checkpoint", str(path), "--config", "fast_test", "--override", str(override)]
        assert main([*args, "--output", str(tmp_path / "out")]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert f"error: {path}: " in err and "Traceback" not in err
