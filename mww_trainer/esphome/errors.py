"""Errors of the ESPHome bridge: each says what went wrong, where, and what to do."""

from __future__ import annotations

from mww_trainer.errors import MwwError


class EsphomeBridgeError(MwwError):
    """Something about an ESPHome config folder or device stops the operation."""


class DeviceNotFoundError(EsphomeBridgeError):
    """No (or more than one) device configuration matches the name given."""


class DeployError(EsphomeBridgeError):
    """A model could not be added to a device; nothing was changed."""


class ValidationError(DeployError):
    """`esphome config` rejected the edited configuration; the edit was rolled back."""

    def __init__(self, message: str, *, output: tuple[str, ...] = ()):
        super().__init__(message)
        self.output = output  # ESPHome's relevant output lines, secrets redacted


class DeployDeclined(DeployError):
    """The user looked at the preview and said no; nothing was changed."""
