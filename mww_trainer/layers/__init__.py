"""Keras layers for models that run both on whole clips and one slice at a time."""

from mww_trainer.layers.stream import Mode, RingBuffer, SlidingWindows

__all__ = ["Mode", "RingBuffer", "SlidingWindows"]
