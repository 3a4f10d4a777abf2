"""What a job is, on both sides of the job folder: the add-on writes a spec as job.json, the
worker reads it back. Typed here, checked when read, so a misspelt key fails loudly instead of
being dropped. Plain data only: the web process imports this without the library's weight.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar

from mww_trainer.errors import MwwError
from mww_trainer.jobfiles import JOB_FILE


class JobKind(StrEnum):
    TRAIN = "train"
    SYNTH = "synth"
    FLASH = "flash"
    CLUSTER = "cluster"
    TUNE = "tune"


@dataclass(frozen=True)
class TrainSpec:
    """Train, export, verify and evaluate one model."""

    kind: ClassVar[JobKind] = JobKind.TRAIN
    config: dict[str, Any]  # the full configuration (config_to_dict), presets already applied
    model_name: str = "wake_word"  # the exported file's name
    seed: int = 0


@dataclass(frozen=True)
class SynthSpec:
    """Synthesise a dataset (mww_trainer.synth.SynthOptions' fields, as JSON)."""

    kind: ClassVar[JobKind] = JobKind.SYNTH
    synth: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlashSpec:
    """`esphome compile` + `esphome upload` of one device."""

    kind: ClassVar[JobKind] = JobKind.FLASH
    esphome_dir: str
    device: str  # its YAML file name
    platformio_core_dir: str | None = None
    data_dir: str | None = None


@dataclass(frozen=True)
class ClusterSpec:
    """Group a project's unlabelled takes by voice (mww_trainer.speakers.groups)."""

    kind: ClassVar[JobKind] = JobKind.CLUSTER
    clips: dict[str, str]  # sample id (as text: JSON keys are) -> its audio file
    n_clusters: int | None = None  # None: the suggested count
    embedding_model: str = "resemblyzer"


@dataclass(frozen=True)
class TuneSpec:
    """Fine-tune a trained checkpoint towards targets (mww_trainer.tuning), then export,
    verify and evaluate it as a training job does."""

    kind: ClassVar[JobKind] = JobKind.TUNE
    config: dict[str, Any]  # the trained job's configuration, with this job's output paths
    checkpoint: str
    target_fah: float
    target_recall: float
    model_name: str = "wake_word"
    max_iterations: int = 10
    patience: int = 3
    steps_per_iteration: int | None = None  # None: training.eval_step_interval
    seed: int = 0


JobSpec = TrainSpec | SynthSpec | FlashSpec | ClusterSpec | TuneSpec
SPECS: dict[JobKind, type[JobSpec]] = {
    s.kind: s for s in (TrainSpec, SynthSpec, FlashSpec, ClusterSpec, TuneSpec)
}


def spec_to_dict(spec: JobSpec) -> dict[str, Any]:
    return {"kind": str(spec.kind), **asdict(spec)}


def spec_from_dict(data: Any) -> JobSpec:
    """job.json's object as a typed spec; every mistake named, with what is allowed."""
    if not isinstance(data, dict):
        raise MwwError(f"{JOB_FILE}: expected a JSON object, got {type(data).__name__}")
    try:
        kind = JobKind(data.get("kind"))
    except ValueError:
        known = ", ".join(str(k) for k in SPECS)
        raise MwwError(
            f"{JOB_FILE}: unknown job kind {data.get('kind')!r}; known: {known}"
        ) from None
    cls = SPECS[kind]
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names - {"kind"})
    if unknown:
        raise MwwError(
            f"{JOB_FILE}: a {kind} job has no {', '.join(unknown)}; "
            f"its keys: {', '.join(sorted(names))}"
        )
    required = [
        f.name
        for f in fields(cls)
        if f.default is MISSING and f.default_factory is MISSING and f.name not in data
    ]
    if required:
        raise MwwError(f"{JOB_FILE}: a {kind} job needs {', '.join(required)}")
    return cls(**{k: v for k, v in data.items() if k != "kind"})


def check_synth_options(options: dict[str, Any], known: set[str]) -> None:
    """A synth spec's options must all be SynthOptions fields: none is silently dropped."""
    unknown = sorted(set(options) - known)
    if unknown:
        raise MwwError(
            f"{JOB_FILE}: synth has no option {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
