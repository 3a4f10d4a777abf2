"""What can go wrong while recording through a satellite; each message says what to do.

`kind` is a short stable name the panel and the tests use; the message is for people.
"""

from __future__ import annotations

from mww_trainer.errors import MwwError


class SatelliteError(MwwError):
    kind = "error"


class Unreachable(SatelliteError):
    """Home Assistant cannot be reached, or closed the connection (stopped, restarted)."""

    kind = "unreachable"


class TokenRefused(SatelliteError):
    kind = "token_refused"


class NotAdmin(SatelliteError):
    kind = "not_admin"


class DeviceBusy(SatelliteError):
    """Another capture of the same device replaced ours."""

    kind = "device_busy"


class NoAudio(SatelliteError):
    """The capture ended without a single audio chunk (no pipeline run on the device)."""

    kind = "no_audio"


class Overflow(SatelliteError):
    """Home Assistant's capture queue overflowed: part of the take was lost."""

    kind = "overflow"


class SatelliteOffline(SatelliteError):
    kind = "offline"


class PromptFailed(SatelliteError):
    """Home Assistant refused the prompt (start_conversation / ask_question)."""

    kind = "prompt_failed"


class TakeRejected(SatelliteError):
    """The take could not be stored (the same audio is already a sample, say)."""

    kind = "rejected"


class CommandFailed(SatelliteError):
    """Any other refused websocket command; the message carries Home Assistant's."""

    kind = "command_failed"

    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.code = code
