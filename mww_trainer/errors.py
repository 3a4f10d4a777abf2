"""Errors a user can act on. Each message says what is wrong, where, and how to fix it."""


class MwwError(Exception):
    """Base class for errors shown to the user as-is (no traceback)."""


class ConfigError(MwwError):
    """A configuration file or value is invalid."""


class AudioError(MwwError):
    """An audio file cannot be read or used."""


class ExportError(MwwError):
    """A model could not be exported in the form the device needs."""


class ManifestError(MwwError):
    """A manifest does not satisfy ESPHome's (and our stricter) rules."""
