"""One take: `assist_pipeline/device/capture` for a device until Home Assistant says `end`.

Audio flows only while a pipeline run of the device is in its wake-word or speech-to-text
stage; the capture ends when that run ends, or at the timeout. A second capture of the same
device replaces ours: we learn of it from the `assist_pipeline_recording` event Home Assistant
fires for every capture that starts (ours first, any later one is someone else's).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from mww_trainer import constants
from mww_trainer.satellite.client import Client, Subscription
from mww_trainer.satellite.errors import DeviceBusy, NoAudio, Overflow

RECORDING_EVENT = "assist_pipeline_recording"
MAX_TIMEOUT_S = 60.0  # Home Assistant's limit for one capture
END_GRACE_S = 10.0  # waited past the timeout for Home Assistant's `end`
CAPTURE_FORMAT = (constants.SAMPLE_RATE_HZ, 2, 1)  # rate, bytes per sample, channels


@dataclass(frozen=True)
class Capture:
    audio: bytes  # 16 kHz 16-bit mono little-endian PCM, as the pipeline heard it
    overflow: bool

    @property
    def duration_s(self) -> float:
        return len(self.audio) / (2 * constants.SAMPLE_RATE_HZ)


@dataclass(frozen=True)
class CaptureRequest:
    device_id: str
    device_name: str
    timeout_s: float = 15.0


async def open_capture(client: Client, request: CaptureRequest) -> OpenCapture:
    """Starts capturing; audio flows from the next (or the running) pipeline run of the device."""
    if not 0 < request.timeout_s <= MAX_TIMEOUT_S:
        raise ValueError(f"timeout_s: {request.timeout_s} is not in (0, {MAX_TIMEOUT_S:g}]")
    recordings = await client.subscribe("subscribe_events", event_type=RECORDING_EVENT)
    try:
        audio = await client.subscribe(
            "assist_pipeline/device/capture",
            device_id=request.device_id,
            timeout=request.timeout_s,
        )
    except BaseException:
        await recordings.close()
        raise
    return OpenCapture(request, audio, recordings)


class OpenCapture:
    def __init__(self, request: CaptureRequest, audio: Subscription, recordings: Subscription):
        self.request, self._audio, self._recordings = request, audio, recordings
        self._captures_seen = 0  # captures of our device that started at or after ours

    async def collect(self, on_chunk: Callable[[bytes], None] | None = None) -> Capture:
        """Audio until `end`; DeviceBusy, NoAudio or Overflow say what went wrong."""
        chunks: list[bytes] = []
        try:
            while True:
                event = await self._audio.next(self.request.timeout_s + END_GRACE_S)
                if event.get("type") == "audio":
                    _check_format(event)
                    chunk = base64.b64decode(event.get("audio", ""))
                    chunks.append(chunk)
                    if on_chunk is not None:
                        on_chunk(chunk)
                elif event.get("type") == "end":
                    return self._finish(b"".join(chunks), bool(event.get("overflow")))
        except TimeoutError:
            raise NoAudio(
                f"{self.request.device_name}: Home Assistant did not end the capture "
                f"{END_GRACE_S:g} s after its {self.request.timeout_s:g} s timeout"
            ) from None
        finally:
            await self.close()

    def _finish(self, audio: bytes, overflow: bool) -> Capture:
        self._count_captures()
        name = self.request.device_name
        if self._captures_seen > 1:
            raise DeviceBusy(
                f"{name}: another capture of this satellite started and replaced ours (someone "
                "else is recording through it, or a second session is running); wait for it to "
                "finish, then re-take"
            )
        if not audio:
            raise NoAudio(
                f"{name}: no audio within {self.request.timeout_s:g} s: the satellite did not "
                "listen (no pipeline run). Wake it (wake word or button) and say the phrase; if "
                "it does not wake, check that it is on and connected (Home Assistant still shows "
                "a Wyoming satellite as idle when it is gone) and that its pipeline has "
                "speech-to-text"
            )
        if overflow:
            raise Overflow(
                f"{name}: part of the take was lost (Home Assistant's capture queue overflowed, "
                "it is busy); re-take"
            )
        return Capture(audio, overflow)

    def _count_captures(self) -> None:
        while not self._recordings.queue.empty():
            event = self._recordings.queue.get_nowait()
            if not isinstance(event, dict):
                break
            data = event.get("data") or {}
            mine = data.get("device_id") == self.request.device_id
            if mine and event.get("_place", 0) > self._audio.place:
                self._captures_seen += 1

    async def close(self) -> None:
        await self._audio.close()
        await self._recordings.close()


def _check_format(event: dict) -> None:
    got = (event.get("rate"), event.get("width"), event.get("channels"))
    if got != CAPTURE_FORMAT:
        raise NoAudio(
            f"the capture sends audio as rate/width/channels {got}; expected {CAPTURE_FORMAT} "
            "(a Home Assistant this add-on does not know)"
        )
