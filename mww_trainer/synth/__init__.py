"""Synthetic wake-word datasets from espeak-ng speech and generated noise (``mww-synth``)."""

from mww_trainer.synth.dataset import MANIFEST_NAME, SynthResult, synthesize_dataset
from mww_trainer.synth.espeak import EspeakNotFoundError, Speaker
from mww_trainer.synth.options import SynthOptions
from mww_trainer.synth.phrases import phonetic_neighbours

__all__ = [
    "MANIFEST_NAME",
    "EspeakNotFoundError",
    "Speaker",
    "SynthOptions",
    "SynthResult",
    "phonetic_neighbours",
    "synthesize_dataset",
]
