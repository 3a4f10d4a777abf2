"""Configuration: presets, YAML files and overrides, validated into frozen dataclasses.

from mww_trainer.config import load_config
config = load_config("standard", "my_override.yaml")
config.training.batch_size
"""

from mww_trainer.config.loader import (
    PRESET_NAMES,
    config_to_dict,
    deep_merge,
    load_config,
    load_config_dict,
    load_preset,
    load_preset_dict,
)
from mww_trainer.config.types import (
    AugmentationConfig,
    Config,
    ExportConfig,
    HardNegativeMiningConfig,
    HardwareConfig,
    ModelConfig,
    PathsConfig,
    PerformanceConfig,
    SpeakerClusteringConfig,
    TrainingConfig,
)

__all__ = [
    "PRESET_NAMES",
    "AugmentationConfig",
    "Config",
    "ExportConfig",
    "HardNegativeMiningConfig",
    "HardwareConfig",
    "ModelConfig",
    "PathsConfig",
    "PerformanceConfig",
    "SpeakerClusteringConfig",
    "TrainingConfig",
    "config_to_dict",
    "deep_merge",
    "load_config",
    "load_config_dict",
    "load_preset",
    "load_preset_dict",
]
