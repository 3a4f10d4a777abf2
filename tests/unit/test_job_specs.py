"""job.json is typed on both sides: what the add-on writes, the worker reads back the same, and a
misspelt kind or key fails the job with its name instead of being dropped."""

from __future__ import annotations

import json

import pytest

from mww_trainer.errors import MwwError
from mww_trainer.job_specs import (
    FlashSpec,
    JobKind,
    SynthSpec,
    TrainSpec,
    spec_from_dict,
    spec_to_dict,
)
from mww_trainer.worker import run_job


@pytest.mark.parametrize(
    "spec",
    [
        TrainSpec({"training": {"batch_size": 8}}, model_name="hey_computer", seed=3),
        SynthSpec({"phrase": "hey computer", "positives": 2}),
        FlashSpec(esphome_dir="/config/esphome", device="kitchen.yaml"),
    ],
)
def test_a_spec_survives_job_json(spec):
    data = json.loads(json.dumps(spec_to_dict(spec)))
    assert data["kind"] == spec.kind
    assert spec_from_dict(data) == spec


def test_unknown_kinds_and_keys_are_named():
    with pytest.raises(MwwError, match=r"unknown job kind 'trian'; known: train, synth, flash"):
        spec_from_dict({"kind": "trian"})
    with pytest.raises(MwwError, match=r"a train job has no modelname"):
        spec_from_dict({"kind": "train", "config": {}, "modelname": "x"})
    with pytest.raises(MwwError, match=r"a flash job needs esphome_dir, device"):
        spec_from_dict({"kind": JobKind.FLASH})


def test_the_worker_refuses_an_unknown_synth_option_instead_of_dropping_it(tmp_path):
    spec = SynthSpec({"phrase": "hey", "out_dir": str(tmp_path / "out"), "positivs": 5})
    (tmp_path / "job.json").write_text(json.dumps(spec_to_dict(spec)))
    assert run_job(tmp_path) == 1
    result = json.loads((tmp_path / "result.json").read_text())
    assert "synth has no option positivs" in result["error"]
    assert not (tmp_path / "out").exists()
