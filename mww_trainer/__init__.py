"""mww-trainer: train microWakeWord models that run unchanged on ESPHome devices."""

__version__ = "0.1.0"
