"""The Home Assistant add-on's web service: panel, sample library, training jobs (aiohttp).

It never imports TensorFlow: training runs in `python -m mww_trainer.worker` processes.
"""

from mww_trainer import __version__

__all__ = ["__version__"]
