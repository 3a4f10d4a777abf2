"""The training job in one line: the dataset is ingested once, the model verified once."""

from __future__ import annotations

import pytest

from mww_trainer import pipeline
from mww_trainer.config import deep_merge, load_config_dict, load_preset_dict
from mww_trainer.data import ingest as ingest_package
from mww_trainer.demo import QUICK_CLASS_WEIGHTS, TINY_MODEL
from mww_trainer.device import verify as verify_module
from mww_trainer.device.tflite_model import TFLiteModel
from mww_trainer.evaluation.cutoff import CutoffSource
from tests.fakes.chirps import write_chirps
from tests.fakes.dataset_paths import paths_for

pytestmark = pytest.mark.integration


def test_one_training_job_ingests_once_and_verifies_once(tmp_path, monkeypatch):
    data = tmp_path / "dataset"
    write_chirps(data, takes=24, people=2, pitches=6, rooms=4, room_s=20)
    paths = {k: v for k, v in vars(paths_for(data)).items() if isinstance(v, str)}
    override = {
        "paths": paths,
        "training": {
            "training_steps": [40, 10],
            "batch_size": 16,
            "eval_step_interval": 25,
            **QUICK_CLASS_WEIGHTS,
        },
        "model": TINY_MODEL,
        "augmentation": {"background_paths": [], "impulse_paths": []},
        "performance": {"tensorboard_log_dir": str(tmp_path / "logs")},
        "export": {"wake_word": "Chirp", "author": "tests"},
    }
    config = load_config_dict(deep_merge(load_preset_dict("fast_test"), override), source="test")
    calls = {"ingest": 0, "verify": 0}
    real_ingest, real_verify = ingest_package.ingest, verify_module.verify_model

    def counted_ingest(*args, **kwargs):
        calls["ingest"] += 1
        return real_ingest(*args, **kwargs)

    def counted_verify(*args, **kwargs):
        calls["verify"] += 1
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(ingest_package, "ingest", counted_ingest)
    monkeypatch.setattr(verify_module, "verify_model", counted_verify)

    result = pipeline.run_training(config, model_name="chirp", report_dir=tmp_path / "report")

    assert calls == {"ingest": 1, "verify": 1}
    assert result.exported.verify.compatible, result.exported.verify.format()
    assert result.exported.verify.model_path == result.exported.tflite_path  # not the scratch copy
    TFLiteModel.from_file(result.exported.tflite_path)
    assert result.evaluation["positives"] > 0 and result.evaluation["ambient_hours"] > 0
    # The chirps are people's takes: the held-out ones are counted apart, as the verdict shows.
    people = result.evaluation["people_wake_words"]
    assert people["takes"] == result.evaluation["positives"]
    assert people["people"] >= 1 and 0 <= people["woke"] <= people["takes"]
    assert (tmp_path / "report" / "det.png").is_file()
    assert result.outcome.cutoff_source in (CutoffSource.MEASURED, CutoffSource.FALLBACK)
    fallback = result.outcome.cutoff_source is CutoffSource.FALLBACK
    assert fallback == any("fallback cutoff" in w for w in result.outcome.warnings)
