"""Typed, read-only configuration. Built once by the loader, then passed down explicitly.

Every default lives in the preset YAML files; these classes carry no defaults of their own
so that there is one home for each value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from mww_trainer import constants


@dataclass(frozen=True)
class HardwareConfig:
    sample_rate_hz: int
    mel_bins: int
    window_size_ms: int
    window_step_ms: int
    clip_duration_ms: int

    @property
    def clip_samples(self) -> int:
        return self.clip_duration_ms * self.sample_rate_hz // 1000

    @property
    def clip_frames(self) -> int:
        """Feature frames the frontend yields for one clip (0 when shorter than a window)."""
        return frames_for_samples(self.clip_samples)


def frames_for_samples(n_samples: int) -> int:
    if n_samples < constants.WINDOW_SIZE_SAMPLES:
        return 0
    return 1 + (n_samples - constants.WINDOW_SIZE_SAMPLES) // constants.WINDOW_STEP_SAMPLES


def samples_for_frames(n_frames: int) -> int:
    return constants.WINDOW_SIZE_SAMPLES + (n_frames - 1) * constants.WINDOW_STEP_SAMPLES


@dataclass(frozen=True)
class PathsConfig:
    positive_dir: str
    negative_dir: str
    hard_negative_dir: str
    background_dir: str
    rir_dir: str
    processed_dir: str
    checkpoint_dir: str
    export_dir: str
    # Folders of real people talking (downloaded speech packs, household recordings kept
    # elsewhere): ingested as negatives of human origin, next to negative_dir.
    negative_pack_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainingConfig:
    training_steps: tuple[int, ...]
    learning_rates: tuple[float, ...]
    batch_size: int
    eval_step_interval: int
    positive_class_weight: tuple[float, ...]
    negative_class_weight: tuple[float, ...]
    hard_negative_class_weight: tuple[float, ...]
    time_mask_max_size: tuple[int, ...]
    time_mask_count: tuple[int, ...]
    freq_mask_max_size: tuple[int, ...]
    freq_mask_count: tuple[int, ...]
    minimization_metric: str
    target_minimization: float
    maximization_metric: str
    # Validate and save an exponential moving average of the weights (this decay per step)
    # instead of the last weights; 0 turns it off.
    ema_decay: float = 0.0
    # How much more often a clip recorded by a person is drawn than a synthetic one: real
    # voices are scarce and are what the model must wake (or stay quiet) for.
    real_voice_weight: float = 3.0
    # Training ends once this many steps pass without a better checkpoint (0: every step of
    # every phase): the checkpoint export takes is then already saved.
    early_stop_steps: int = 0
    # The measured cutoff also keeps the model from waking on more than this share of the
    # validation sound-alikes (1: no guard); see sweep.recommend.
    max_hard_negative_rate: float = 1.0

    @property
    def total_steps(self) -> int:
        return sum(self.training_steps)


# Time steps (after the first conv's stride) flattened by the head when the config does
# not set spectrogram_length: the shape of the official hey_jarvis and alexa models.
DEFAULT_HEAD_STEPS = 5


@dataclass(frozen=True)
class ModelConfig:
    architecture: str
    first_conv_filters: int
    first_conv_kernel_size: int
    stride: int
    # None: derived from the architecture (see input_frames).
    spectrogram_length: int | None
    pointwise_filters: tuple[int, ...]
    mixconv_kernel_sizes: tuple[tuple[int, ...], ...]
    repeat_in_block: tuple[int, ...]
    residual_connection: tuple[bool, ...]
    dropout_rate: float
    l2_regularization: float
    # None: random weights; else a published microWakeWord model of the same shape to start
    # from (a name pymicro-wakeword ships, or a .tflite path).
    start_from: str | None = None

    @property
    def block_time_loss(self) -> int:
        """Strided time steps consumed by the mixconv blocks ('valid' convolutions)."""
        return sum(
            (max(kernels) - 1) * repeats
            for kernels, repeats in zip(
                self.mixconv_kernel_sizes, self.repeat_in_block, strict=True
            )
        )

    @property
    def min_input_frames(self) -> int:
        """Fewest feature frames that give the head one time step."""
        return self.first_conv_kernel_size + self.stride * self.block_time_loss

    @property
    def input_frames(self) -> int:
        """Feature frames one training example feeds the model (fixes the head's width)."""
        if self.spectrogram_length is not None:
            return self.spectrogram_length
        return self.min_input_frames + self.stride * (DEFAULT_HEAD_STEPS - 1)

    @property
    def head_steps(self) -> int:
        """Strided time steps the final dense layer sees."""
        return (
            (self.input_frames - self.first_conv_kernel_size) // self.stride
            + 1
            - self.block_time_loss
        )


@dataclass(frozen=True)
class AugmentationConfig:
    SevenBandParametricEQ: float
    TanhDistortion: float
    PitchShift: float
    BandStopFilter: float
    AddColorNoise: float
    AddBackgroundNoise: float
    Gain: float
    RIR: float
    background_min_snr_db: float
    background_max_snr_db: float
    min_jitter_s: float
    max_jitter_s: float
    impulse_paths: tuple[str, ...]
    background_paths: tuple[str, ...]
    augmentation_duration_s: float


# The transforms a configuration can switch on: AugmentationConfig's capitalised fields, each
# the probability of one audiomentations transform (data.augment applies them).
AUGMENTATION_PROBABILITIES = tuple(
    f.name for f in fields(AugmentationConfig) if f.name[:1].isupper()
)


@dataclass(frozen=True)
class PerformanceConfig:
    mixed_precision: bool
    num_workers: int
    inter_op_parallelism: int
    intra_op_parallelism: int
    enable_profiling: bool
    profile_every_n_steps: int
    profile_output_dir: str
    tensorboard_enabled: bool
    tensorboard_log_dir: str


@dataclass(frozen=True)
class SpeakerClusteringConfig:
    enabled: bool
    method: str
    embedding_model: str
    similarity_threshold: float
    n_clusters: int | None
    leakage_audit_enabled: bool


@dataclass(frozen=True)
class HardNegativeMiningConfig:
    enabled: bool
    fp_threshold: float
    max_samples: int
    mining_interval_epochs: int


@dataclass(frozen=True)
class ExportConfig:
    wake_word: str
    author: str
    website: str | None
    trained_languages: tuple[str, ...]
    # None ("auto" in YAML): the cutoff evaluation recommends for the FA/h target.
    probability_cutoff: float | None
    sliding_window_size: int
    # 0: measure with TFLite-Micro and add a margin for the 32-bit device.
    tensor_arena_size: int
    minimum_esphome_version: str


@dataclass(frozen=True)
class Config:
    hardware: HardwareConfig
    paths: PathsConfig
    training: TrainingConfig
    model: ModelConfig
    augmentation: AugmentationConfig
    performance: PerformanceConfig
    speaker_clustering: SpeakerClusteringConfig
    hard_negative_mining: HardNegativeMiningConfig
    export: ExportConfig
