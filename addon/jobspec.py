"""From a user's request to the worker's job.json: presets, overrides and the project's paths.

A request is checked when it is made (so the user sees config errors at once); the job.json
is written when the job first starts, from the same request, and kept for every restart so
a resumed run uses exactly the configuration it began with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from addon.errors import bad_request
from addon.store import MODEL_KINDS, Job, Project, ProjectLayout
from mww_trainer import jobfiles
from mww_trainer.config import (
    PRESET_NAMES,
    config_to_dict,
    deep_merge,
    load_config_dict,
    load_preset_dict,
)
from mww_trainer.config.loader import parse_yaml_text
from mww_trainer.config.schema import allowed_keys
from mww_trainer.evaluation.verdict import READY_FA_PER_HOUR, READY_RECALL
from mww_trainer.job_specs import SynthSpec, TrainSpec, TuneSpec, spec_to_dict
from mww_trainer.packs import NEGATIVE, PackCache

PACK_DIRS_KEY = "negative_pack_dirs"  # paths.negative_pack_dirs: real speech for the negatives

# Keys the add-on sets from the project and the job folder; an override may not change them.
MANAGED_KEYS = {
    "paths": None,  # the whole section
    "augmentation": ("background_paths", "impulse_paths"),
    "performance": ("tensorboard_log_dir", "profile_output_dir"),
    "export": ("wake_word", "author", "website", "trained_languages"),
}
MAX_OVERRIDES_CHARS = 20000
MAX_SEED = 2**32 - 1  # what numpy's and TensorFlow's generators take
# Synthesis requests: the panel's fields and their bounds (the worker checks the rest).
SYNTH_FIELDS = {
    "positives": (0, 5000),
    "hard_negatives": (0, 5000),
    "single_words": (0, 5000),
    "ambient_minutes": (0, 240),
    "recorded_minutes": (0, 600),
    "background": (0, 200),
    "rirs": (0, 200),
    "seed": (0, 2**31 - 1),
}
# What the Generate tab offers (api/info serves it): the recipe bench/quality.py measures, which
# reaches the recommended wake words and sound-alikes of addon/targets.py in one click.
SYNTH_DEFAULTS = {
    "positives": 2000,
    "hard_negatives": 1000,
    "single_words": 0,  # words said alone: not yet shown to help (README)
    "ambient_minutes": 120,
    "recorded_minutes": 240,
    "background": 10,
    "rirs": 5,
}
# The Generate tab's labels, which errors use.
SYNTH_LABELS = {
    "positives": "Wake-word clips",
    "hard_negatives": "Sound-alikes",
    "single_words": "Words said alone",
    "ambient_minutes": "Other speech (minutes)",
    "recorded_minutes": "People talking (minutes)",
    "background": "Noise files",
    "rirs": "Room impulses",
    "seed": "seed",
}


def parse_overrides(text: str | dict | None) -> dict[str, Any]:
    """YAML or JSON text (or an already-parsed mapping) of config overrides."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return {}
    if isinstance(text, dict):
        data: Any = text
    elif not isinstance(text, str) or len(text) > MAX_OVERRIDES_CHARS:
        raise bad_request(
            f"overrides: give YAML or JSON text of at most {MAX_OVERRIDES_CHARS} characters"
        )
    else:
        data = parse_yaml_text(text, "overrides")  # no aliases, bounded depth; ConfigError
    if not isinstance(data, dict):
        raise bad_request(
            "overrides: expected a mapping of sections, e.g. 'training: {batch_size: 64}'"
        )
    for section, keys in MANAGED_KEYS.items():
        given = data.get(section)
        if given is None:
            continue
        taken = (
            list(given)
            if keys is None and isinstance(given, dict)
            else [k for k in (keys or ()) if isinstance(given, dict) and k in given]
        )
        if taken or (keys is None and not isinstance(given, dict)):
            names = ", ".join(f"{section}.{k}" for k in taken) or section
            raise bad_request(
                f"overrides: {names} is set by the add-on (from the wake word and the job "
                "folder); leave it out"
            )
    return data


def train_request(data: dict[str, Any], default_preset: str) -> dict[str, Any]:
    """The stored request of a training job: preset and parsed overrides."""
    preset = data.get("preset") or default_preset
    if preset not in PRESET_NAMES:
        raise bad_request(f"preset: {preset!r} is not one of {', '.join(PRESET_NAMES)}")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise bad_request(
            f"seed: {seed!r:.40} is not allowed (a whole number from 0 to {MAX_SEED})"
        )
    return {"preset": preset, "overrides": parse_overrides(data.get("overrides")), "seed": seed}


def installed_pack_dirs(data_dir: Path) -> list[str]:
    """The audio folders of the speech packs installed in the add-on's data folder."""
    return [str(path) for path in PackCache.for_data_dir(data_dir).audio_dirs(NEGATIVE)]


def installed_voice_dirs(data_dir: Path) -> list[str]:
    """The folders of the voice packs (piper voices) installed in the add-on's data folder."""
    return [str(path) for path in PackCache.for_data_dir(data_dir).voice_dirs()]


def train_job(
    request: dict[str, Any],
    project: Project,
    layout: ProjectLayout,
    job_dir: Path,
    *,
    negative_pack_dirs: Sequence[str] = (),
):
    """job.json for the worker; raises the config loader's ConfigError for bad overrides.

    `negative_pack_dirs`: installed speech packs, trained on as real-speech negatives.
    """
    dataset = layout.dataset
    managed = {
        "paths": {
            **jobfiles.dataset_paths(dataset),
            "processed_dir": str(layout.processed),
            **jobfiles.job_paths(job_dir),
        },
        "augmentation": {
            "background_paths": [str(layout.label_dir("background"))],
            "impulse_paths": [str(layout.label_dir("rir"))],
        },
        "performance": {
            "tensorboard_log_dir": str(job_dir / jobfiles.TENSORBOARD_DIR),
            "profile_output_dir": str(job_dir / jobfiles.PROFILE_DIR),
        },
        "export": {
            "wake_word": project.phrase,
            "author": project.author,
            "website": project.website,
            "trained_languages": [project.language],
        },
    }
    if PACK_DIRS_KEY in (allowed_keys(("paths",)) or ()):  # once the config knows the key
        managed["paths"][PACK_DIRS_KEY] = list(negative_pack_dirs)
    merged = deep_merge(
        deep_merge(load_preset_dict(request["preset"]), request["overrides"]), managed
    )
    config = load_config_dict(merged, source=f"preset {request['preset']} + your overrides")
    spec = TrainSpec(config_to_dict(config), model_name=project.slug, seed=request.get("seed", 0))
    return spec_to_dict(spec)


def synth_request(data: dict[str, Any]) -> dict[str, Any]:
    """Counts to synthesise; a count left out is 0 (never the library's large defaults)."""
    out: dict[str, Any] = {}
    for name, (low, high) in SYNTH_FIELDS.items():
        value = data.get(name)
        if value is None or value == "":
            value = 0
        integral = name not in ("ambient_minutes", "recorded_minutes")
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and integral:
            ok = float(value).is_integer()
        if not ok or not low <= value <= high:
            kind = "a whole number" if integral else "a number"
            raise bad_request(
                f"{SYNTH_LABELS[name]}: {value!r:.40} is not allowed ({kind} from {low} to {high})"
            )
        out[name] = int(value) if integral else float(value)
    if not any(out[name] for name in SYNTH_FIELDS if name != "seed"):
        wanted = ", ".join(SYNTH_LABELS[n].lower() for n in SYNTH_FIELDS if n != "seed")
        raise bad_request(f"nothing to generate: give a number for one of {wanted}")
    return out


def synth_job(
    request: dict[str, Any],
    project: Project,
    job_dir: Path,
    *,
    voice_pack_dirs: Sequence[str] = (),
) -> dict[str, Any]:
    """`voice_pack_dirs`: installed voice packs, whose piper voices speak besides the others."""
    options = {
        **request,
        "phrase": project.phrase,
        "language": project.language.split("-")[0],
        "out_dir": str(job_dir / "synth"),
        "force": True,  # a restarted job writes its own folder again
        "voice_pack_dirs": list(voice_pack_dirs),
    }
    return spec_to_dict(SynthSpec(options))


# "Improve this model": its fields' bounds, and the targets prefilled (the verdict's Ready bars).
TUNE_FIELDS = {
    "target_fah": (0.0, 10.0, False),
    "target_recall": (0.5, 1.0, False),
    "max_iterations": (1, 100, True),
    "patience": (1, 100, True),
    "steps_per_iteration": (1, 100000, True),
}
TUNE_DEFAULTS = {"target_fah": READY_FA_PER_HOUR, "target_recall": READY_RECALL}


def tune_request(data: dict[str, Any], source: Job) -> dict[str, Any]:
    """The stored request of a tune job: the model job it starts from and the targets."""
    if source.kind not in MODEL_KINDS or source.state != "succeeded":
        raise bad_request(
            f"job {source.id} has no model to improve ({source.kind}, {source.state})"
        )
    out: dict[str, Any] = {"from_job": source.id}
    for name, (low, high, integral) in TUNE_FIELDS.items():
        value = data.get(name, TUNE_DEFAULTS.get(name))
        if value is None or value == "":
            continue
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and integral:
            ok = float(value).is_integer()
        if not ok or not low <= value <= high:
            kind = "a whole number" if integral else "a number"
            raise bad_request(f"{name}: {value!r:.40} is not allowed ({kind} from {low} to {high})")
        out[name] = int(value) if integral else float(value)
    return out


def tune_job(request: dict[str, Any], source: Job, source_dir: Path, job_dir: Path) -> dict:
    """job.json of a tune job: the source job's configuration with this job's output folders,
    and the checkpoint its model was exported from."""
    checkpoint = (source.result or {}).get("checkpoint") or str(
        source_dir / jobfiles.CHECKPOINT_DIR / "best_weights.weights.h5"  # older workers'
    )
    if not Path(checkpoint).is_file():
        raise bad_request(f"job {source.id}: its checkpoint is no longer on disk; train again")
    try:
        spec = json.loads((source_dir / jobfiles.JOB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise bad_request(f"job {source.id}: its job.json cannot be read ({exc})") from None
    config = json.loads(json.dumps(spec["config"]))
    config["paths"].update(jobfiles.job_paths(job_dir))
    config.setdefault("performance", {}).update(
        {
            "tensorboard_log_dir": str(job_dir / jobfiles.TENSORBOARD_DIR),
            "profile_output_dir": str(job_dir / jobfiles.PROFILE_DIR),
        }
    )
    load_config_dict(config, source=f"job {source.id}'s configuration")
    fields = {k: v for k, v in request.items() if k != "from_job"}
    model_name = spec.get("model_name", "wake_word")
    tune = TuneSpec(config, checkpoint, model_name=model_name, **fields)
    return spec_to_dict(tune)


def dump(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=1, sort_keys=True) + "\n"
