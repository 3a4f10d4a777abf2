"""Synthetic wake-word datasets: speech from every offline engine found, and generated noise."""

from mww_trainer.synth.dataset import MANIFEST_NAME, SynthResult, synthesize_dataset
from mww_trainer.synth.engines import FAMILIES, EngineNotFoundError
from mww_trainer.synth.espeak import EspeakNotFoundError, Speaker
from mww_trainer.synth.options import SynthOptions
from mww_trainer.synth.phrases import phonetic_neighbours
from mww_trainer.synth.piper_voices import PiperNotInstalledError

__all__ = [
    "FAMILIES",
    "MANIFEST_NAME",
    "EngineNotFoundError",
    "EspeakNotFoundError",
    "PiperNotInstalledError",
    "Speaker",
    "SynthOptions",
    "SynthResult",
    "phonetic_neighbours",
    "synthesize_dataset",
]
