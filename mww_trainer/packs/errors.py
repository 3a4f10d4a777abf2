"""What can go wrong with a speech pack, each error saying what, where and what to do."""

from __future__ import annotations

from mww_trainer.errors import MwwError

# What a model lacks when no pack could be fetched: said wherever a pack is unavailable.
WITHOUT_REAL_SPEECH = (
    "trained without real speech in its negatives: expect more false wakes around people talking"
)


class PackError(MwwError):
    """A speech pack cannot be listed, fetched, installed or used."""


class PackUnavailable(PackError):
    """The catalog or a pack's file cannot be reached (offline, server down, 404)."""

    def __init__(self, what: str, reason: str):
        self.what, self.reason = what, reason
        super().__init__(
            f"{what} cannot be reached ({reason}); until it can, the model will be "
            f"{WITHOUT_REAL_SPEECH}"
        )


class ChecksumMismatch(PackError):
    """A downloaded file is not the one the catalog describes; the download was deleted."""

    def __init__(self, name: str, algorithm: str, expected: str, got: str):
        self.name, self.algorithm, self.expected, self.got = name, algorithm, expected, got
        super().__init__(
            f"{name}: {algorithm} checksum mismatch (expected {expected}, got {got}); "
            "the download was deleted and nothing was installed: fetch it again"
        )


class UnsafeArchive(PackError):
    """An archive member would land outside the pack folder, is a link, or is absurdly big."""


class PackCancelled(PackError):
    """The fetch was cancelled; a partial download is kept and the next fetch resumes it."""
