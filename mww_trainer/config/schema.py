"""The configuration's rules: one voluptuous schema that checks and converts every key.

Validators raise ``voluptuous.Invalid`` with a description of what is allowed (for example
"a positive integer"); the loader adds the key path, the offending value and the file.
Validators also convert: YAML lists become tuples and the model's per-block strings
("60,60,60,60", "[5],[9],[13],[21]") become tuples of ints.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol

from mww_trainer import constants
from mww_trainer.config import types as t

Validator = Callable[[Any], Any]
KeyPath = tuple[str | int, ...]

MINIMIZATION_METRICS = ("ambient_false_positives_per_hour", "false_positives")
MAXIMIZATION_METRICS = ("average_viable_recall", "recall", "accuracy", "auc_roc", "f1")
SPEAKER_CLUSTERING_METHODS = ("agglomerative", "threshold")
ARCHITECTURES = ("mixednet",)
# Named by microWakeWord and the user guide, but not built by this trainer.
UNIMPLEMENTED_ARCHITECTURES = ("dnn", "cnn", "crnn")
BLOCK_FIELDS = (
    "pointwise_filters",
    "mixconv_kernel_sizes",
    "repeat_in_block",
    "residual_connection",
)
PHASE_FIELDS = (
    "learning_rates",
    "positive_class_weight",
    "negative_class_weight",
    "hard_negative_class_weight",
    "time_mask_max_size",
    "time_mask_count",
    "freq_mask_max_size",
    "freq_mask_count",
)

SECTION_TYPES: dict[str, type] = {
    "hardware": t.HardwareConfig,
    "paths": t.PathsConfig,
    "training": t.TrainingConfig,
    "model": t.ModelConfig,
    "augmentation": t.AugmentationConfig,
    "performance": t.PerformanceConfig,
    "speaker_clustering": t.SpeakerClusteringConfig,
    "hard_negative_mining": t.HardNegativeMiningConfig,
    "export": t.ExportConfig,
}

FRONTEND_REASON = (
    "the device's frontend is fixed: ESPHome computes the features in firmware, and a model "
    "trained with other values silently fails on the device"
)
_VERSION = re.compile(r"\d{4}\.\d{1,2}\.\d+")


def show(value: Any) -> str:
    """A value as the user would write it in YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {show(item)}" for key, item in value.items()) + "}"
    return str(value)


def allowed_keys(path: KeyPath) -> tuple[str, ...] | None:
    """The keys a mapping at ``path`` may hold (None where the path is not a mapping)."""
    if not path:
        return tuple(SECTION_TYPES)
    if len(path) == 1 and path[0] in SECTION_TYPES:
        return tuple(field.name for field in fields(SECTION_TYPES[path[0]]))
    return None


# --- scalar validators -------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def number(
    what: str,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    open_high: bool = False,
    whole: bool = False,
) -> Validator:
    """A finite number (an int when ``whole``, else returned as float) within the bounds."""

    def validate(value: Any) -> Any:
        if not (_is_int(value) if whole else _is_number(value)):
            raise vol.Invalid(what)
        too_low = low is not None and (value <= low if open_low else value < low)
        too_high = high is not None and (value >= high if open_high else value > high)
        if too_low or too_high:
            raise vol.Invalid(what)
        return value if whole else float(value)

    return validate


def integer(what: str, *, low: int | None = None, high: int | None = None) -> Validator:
    return number(what, low=low, high=high, whole=True)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise vol.Invalid("true or false")
    return value


def string(*, non_empty: bool = False) -> Validator:
    what = "a non-empty string" if non_empty else "a string"

    def validate(value: Any) -> str:
        if not isinstance(value, str) or (non_empty and not value.strip()):
            raise vol.Invalid(what)
        return value

    return validate


def one_of(choices: Sequence[str]) -> Validator:
    return vol.In(choices, msg="one of " + ", ".join(repr(choice) for choice in choices))


def fixed(expected: Any, reason: str) -> Validator:
    """A value the device dictates: anything else is an error that says why."""

    def validate(value: Any) -> Any:
        if type(value) is not type(expected) or value != expected:
            raise vol.Invalid(f"only {show(expected)}: {reason}")
        return value

    return validate


def optional(validator: Validator, what: str) -> Validator:
    """None, or whatever ``validator`` accepts."""
    return vol.Any(None, validator, msg=what)


def architecture(value: Any) -> str:
    if value in ARCHITECTURES:
        return value
    if value in UNIMPLEMENTED_ARCHITECTURES:
        raise vol.Invalid(
            "only 'mixednet' is implemented; dnn, cnn and crnn are not built by this trainer"
        )
    raise vol.Invalid("only 'mixednet' is implemented")


def website(value: Any) -> str | None:
    what = "null or an http(s) URL such as 'https://github.com/you'"
    if value is None:
        return None
    if not isinstance(value, str) or any(char.isspace() for char in value):
        raise vol.Invalid(what)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise vol.Invalid(what)
    return value


def esphome_version(value: Any) -> str:
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        raise vol.Invalid("an ESPHome version such as '2024.7.0', quoted")
    return value


# --- list validators ---------------------------------------------------------------------


def sequence(item: Validator, what: str, *, non_empty: bool = True) -> Validator:
    """A YAML list (returned as a tuple); an element's error names its index."""

    def validate(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple) or (non_empty and not value):
            raise vol.Invalid(what)
        result = []
        for index, element in enumerate(value):
            try:
                result.append(item(element))
            except vol.Invalid as err:
                raise vol.Invalid(err.msg, path=[index]) from None
        return tuple(result)

    return validate


def per_block(item: Validator, what: str) -> Validator:
    """A comma-separated string ("60,60,60,60") or a list; one entry per model block."""
    as_list = sequence(item, what)

    def validate(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, str):
            return as_list(value)
        parts = [part.strip() for part in value.split(",")]
        if not all(re.fullmatch(r"-?\d+", part) for part in parts):
            raise vol.Invalid(what)
        try:
            return tuple(item(int(part)) for part in parts)
        except vol.Invalid:
            raise vol.Invalid(what) from None

    return validate


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if _is_int(value) and value in (0, 1):
        return bool(value)
    raise vol.Invalid("0, 1, true or false")


_KERNELS_WHAT = (
    "one bracketed list of kernel sizes (positive integers) per block, "
    "e.g. '[5],[9],[13],[21]' or [[5], [9], [13], [21]]"
)
_kernel_blocks = sequence(sequence(integer(_KERNELS_WHAT, low=1), _KERNELS_WHAT), _KERNELS_WHAT)


def mixconv_kernels(value: Any) -> tuple[tuple[int, ...], ...]:
    """'[3],[5,9],[7,13]' or [[3], [5, 9], [7, 13]] -> ((3,), (5, 9), (7, 13))."""
    if isinstance(value, str):
        if not re.fullmatch(r"[\s\d,\[\]]+", value):
            raise vol.Invalid(_KERNELS_WHAT)
        try:
            value = json.loads("[" + value + "]")
        except ValueError:
            raise vol.Invalid(_KERNELS_WHAT) from None
    try:
        return _kernel_blocks(value)
    except vol.Invalid:
        raise vol.Invalid(_KERNELS_WHAT) from None


# --- the schema --------------------------------------------------------------------------

POSITIVE_INT = integer("a positive integer", low=1)


def up_to(high: int) -> Validator:
    """A positive integer no larger than ``high``: a bound far above any sensible value that
    stops a typo (or a hostile job) from asking for terabytes or a century of steps."""
    return integer(f"a positive integer up to {high:,}", low=1, high=high)


def weight_up_to(high: float) -> Validator:
    return number(f"a positive number up to {high:g}", low=0, open_low=True, high=high)


NON_NEGATIVE_INT = integer("an integer, 0 or more", low=0)
MASK_INT = integer("an integer from 0 to 1000", low=0, high=1000)
POSITIVE_NUMBER = number("a positive number", low=0, open_low=True)
NON_NEGATIVE_NUMBER = number("a number, 0 or more", low=0)
PROBABILITY = number("a number from 0 to 1", low=0, high=1)
OPEN_PROBABILITY = number(
    "a number strictly between 0 and 1", low=0, high=1, open_low=True, open_high=True
)
PATH = string(non_empty=True)


def _phases(item: Validator, what: str) -> Validator:
    return sequence(item, f"a list of {what}, one per training phase")


HARDWARE = {
    "sample_rate_hz": fixed(constants.SAMPLE_RATE_HZ, FRONTEND_REASON),
    "mel_bins": fixed(constants.MEL_BINS, FRONTEND_REASON),
    "window_size_ms": fixed(constants.WINDOW_SIZE_MS, FRONTEND_REASON),
    "window_step_ms": fixed(constants.WINDOW_STEP_MS, FRONTEND_REASON),
    "clip_duration_ms": up_to(60_000),
}
PATHS: dict[Any, Validator] = {
    field.name: PATH for field in fields(t.PathsConfig) if field.name != "negative_pack_dirs"
}
# Optional, so that complete configuration files written before it still load.
PATHS[vol.Optional("negative_pack_dirs", default=())] = sequence(
    PATH, "a list of folder paths", non_empty=False
)
TRAINING = {
    "training_steps": _phases(up_to(10_000_000), "positive integers up to 10,000,000"),
    "learning_rates": _phases(weight_up_to(10.0), "positive numbers up to 10"),
    "batch_size": up_to(8192),
    "eval_step_interval": up_to(10_000_000),
    "positive_class_weight": _phases(weight_up_to(1e6), "positive numbers up to 1e6"),
    "negative_class_weight": _phases(weight_up_to(1e6), "positive numbers up to 1e6"),
    "hard_negative_class_weight": _phases(weight_up_to(1e6), "positive numbers up to 1e6"),
    "time_mask_max_size": _phases(MASK_INT, "integers from 0 to 1000"),
    "time_mask_count": _phases(MASK_INT, "integers from 0 to 1000"),
    "freq_mask_max_size": _phases(
        integer(f"an integer from 0 to {constants.MEL_BINS}", low=0, high=constants.MEL_BINS),
        f"integers from 0 to {constants.MEL_BINS}",
    ),
    "freq_mask_count": _phases(MASK_INT, "integers from 0 to 1000"),
    "minimization_metric": one_of(MINIMIZATION_METRICS),
    "target_minimization": NON_NEGATIVE_NUMBER,
    "maximization_metric": one_of(MAXIMIZATION_METRICS),
    # Optional, so that complete configuration files written before it still load.
    vol.Optional("ema_decay", default=0.0): number(
        "a number from 0 (off) to below 1, e.g. 0.999", low=0.0, high=1.0, open_high=True
    ),
    vol.Optional("real_voice_weight", default=3.0): number(
        "a number from 1 to 100, e.g. 3", low=1.0, high=100.0
    ),
    vol.Optional("early_stop_steps", default=0): integer(
        "an integer from 0 (off) to 10,000,000, e.g. 10000", low=0, high=10_000_000
    ),
    vol.Optional("max_hard_negative_rate", default=1.0): number(
        "a number from 0 to 1 (1: off), e.g. 0.15", low=0.0, high=1.0
    ),
}
MODEL = {
    "architecture": architecture,
    "first_conv_filters": up_to(1024),
    "first_conv_kernel_size": up_to(256),
    "stride": fixed(
        constants.STREAM_STRIDE_FRAMES,
        f"ESPHome feeds the model {constants.STREAM_STRIDE_FRAMES} feature frames per inference",
    ),
    "spectrogram_length": optional(
        up_to(10_000), "null (derived from the model) or a positive integer up to 10,000"
    ),
    "pointwise_filters": per_block(
        up_to(1024), "positive integers up to 1024, one per block, e.g. '60,60,60,60'"
    ),
    "mixconv_kernel_sizes": mixconv_kernels,
    "repeat_in_block": per_block(up_to(16), "integers from 1 to 16, one per block, e.g. '1,1,1,1'"),
    "residual_connection": per_block(_flag, "0 or 1 per block, e.g. '0,0,0,0'"),
    "dropout_rate": number(
        "a number from 0 up to (not including) 1", low=0, high=1, open_high=True
    ),
    "l2_regularization": NON_NEGATIVE_NUMBER,
    vol.Optional("start_from", default=None): optional(
        string(non_empty=True),
        "null (random weights), the name of a published model of the same shape (e.g. "
        "'hey_jarvis'), or the path of a .tflite streaming model of the same shape",
    ),
}
AUGMENTATION = {
    **{name: PROBABILITY for name in t.AUGMENTATION_PROBABILITIES},
    "background_min_snr_db": number("a number"),
    "background_max_snr_db": number("a number"),
    "min_jitter_s": NON_NEGATIVE_NUMBER,
    "max_jitter_s": NON_NEGATIVE_NUMBER,
    "impulse_paths": sequence(PATH, "a list of folder paths", non_empty=False),
    "background_paths": sequence(PATH, "a list of folder paths", non_empty=False),
    "augmentation_duration_s": weight_up_to(60.0),
}
PERFORMANCE = {
    "mixed_precision": boolean,
    "num_workers": integer("an integer from 0 (automatic) to 256", low=0, high=256),
    "inter_op_parallelism": integer("an integer, 0 (let TensorFlow choose) or more", low=0),
    "intra_op_parallelism": integer("an integer, 0 (let TensorFlow choose) or more", low=0),
    "enable_profiling": boolean,
    "profile_every_n_steps": up_to(10_000_000),
    "profile_output_dir": PATH,
    "tensorboard_enabled": boolean,
    "tensorboard_log_dir": PATH,
}
# Keys older configurations (and the user guide's examples) carry that nothing reads any more:
# dropped with a warning that says why, never an error, so an old file still loads.
_FIXED_BY_DEVICE = "ESPHome runs only int8 models: int8 features in, a uint8 probability out"
RETIRED_KEYS: dict[tuple[str, str], str] = {
    ("performance", "gpu_only"): "training uses a GPU when there is one, else the CPU",
    ("performance", "num_threads_per_worker"): "feature workers are processes of one thread",
    ("performance", "prefetch_factor"): "batches are prepared one ahead",
    ("performance", "pin_memory"): "TensorFlow manages GPU memory itself",
    ("performance", "max_memory_gb"): "training keeps features memory-mapped on disk",
    ("export", "quantize"): _FIXED_BY_DEVICE,
    ("export", "inference_input_type"): _FIXED_BY_DEVICE,
    ("export", "inference_output_type"): _FIXED_BY_DEVICE,
}
SPEAKER_CLUSTERING = {
    "enabled": boolean,
    "method": one_of(SPEAKER_CLUSTERING_METHODS),
    "embedding_model": string(non_empty=True),
    "similarity_threshold": PROBABILITY,
    "n_clusters": optional(POSITIVE_INT, "null (use similarity_threshold) or a positive integer"),
    "leakage_audit_enabled": boolean,
}
HARD_NEGATIVE_MINING = {
    "enabled": boolean,
    "fp_threshold": OPEN_PROBABILITY,
    "max_samples": up_to(10_000_000),
    "mining_interval_epochs": up_to(100_000),
}
EXPORT = {
    "wake_word": string(non_empty=True),
    "author": string(),
    "website": website,
    "trained_languages": sequence(string(non_empty=True), "a non-empty list of language codes"),
    "probability_cutoff": vol.Any(
        vol.All("auto", lambda _: None),
        None,
        OPEN_PROBABILITY,
        msg="'auto' (chosen by evaluation) or a number strictly between 0 and 1",
    ),
    "sliding_window_size": integer(
        "an integer, 1 or more (0 divides by zero on the device)", low=1
    ),
    "tensor_arena_size": integer("an integer, 0 (measure it) or more bytes", low=0),
    "minimum_esphome_version": esphome_version,
}

SCHEMA = vol.Schema(
    {
        "hardware": HARDWARE,
        "paths": PATHS,
        "training": TRAINING,
        "model": MODEL,
        "augmentation": AUGMENTATION,
        "performance": PERFORMANCE,
        "speaker_clustering": SPEAKER_CLUSTERING,
        "hard_negative_mining": HARD_NEGATIVE_MINING,
        "export": EXPORT,
    },
    required=True,
    extra=vol.PREVENT_EXTRA,
)
