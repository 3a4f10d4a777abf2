"""A Wyoming voice satellite and a Wyoming speech-to-text service, written with `wyoming`.

Home Assistant connects to both (it is the client). The satellite answers `describe` and
`ping`, and `stream(samples)` makes it start a pipeline run (speech-to-text only) and send the
audio in 10 ms chunks, as a satellite does after its wake word. The speech-to-text service
answers every utterance with a fixed transcript. Both run on an event loop in a thread of their
own, so they outlive each test's loop; `stop()` closes them (the satellite "goes offline").
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import numpy as np
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info, Satellite
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.server import AsyncEventHandler, AsyncTcpServer

RATE_HZ = 16000
CHUNK_SAMPLES = 160  # 10 ms
ATTRIBUTION = Attribution(name="mww-trainer tests", url="https://example.invalid")


def utterance(seed: int = 0) -> np.ndarray:
    """0.3 s of quiet, a 1 s voiced-like burst (its pitch set by seed), 0.7 s of quiet: int16."""
    t = np.arange(RATE_HZ) / RATE_HZ
    rng = np.random.default_rng(seed)
    voice = 6000 * np.sin(2 * np.pi * (180 + 40 * seed) * t) * np.hanning(RATE_HZ)
    return np.concatenate([rng.normal(0, 30, 4800), voice, rng.normal(0, 30, 11200)]).astype(
        np.int16
    )


class EventLoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coroutine, timeout_s: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@dataclass
class _Server:
    port: int
    server: AsyncTcpServer | None = None
    handlers: list[AsyncEventHandler] = field(default_factory=list)


class _SatelliteHandler(AsyncEventHandler):
    def __init__(self, owner: SatelliteEmulator, *args):
        super().__init__(*args)
        self.owner = owner
        owner.handlers.append(self)

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            satellite = Satellite(
                name=self.owner.name,
                attribution=ATTRIBUTION,
                installed=True,
                description="test satellite",
                version="1.0",
                area=None,
            )
            await self.write_event(Info(satellite=satellite).event())
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif event.type == "run-satellite":
            self.owner.running.set()
        return True


class _SttHandler(AsyncEventHandler):
    def __init__(self, owner: SttEmulator, *args):
        super().__init__(*args)
        self.owner = owner

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            model = AsrModel(
                name="echo",
                attribution=ATTRIBUTION,
                installed=True,
                description="says the same every time",
                version="1.0",
                languages=["en"],
            )
            program = AsrProgram(
                name="test-stt",
                attribution=ATTRIBUTION,
                installed=True,
                description="test speech-to-text",
                version="1.0",
                models=[model],
            )
            await self.write_event(Info(asr=[program]).event())
        elif AudioChunk.is_type(event.type):
            self.owner.heard_bytes += len(AudioChunk.from_event(event).audio)
        elif AudioStop.is_type(event.type):
            await self.write_event(Transcript(text=self.owner.transcript).event())
        return True


class SatelliteEmulator:
    """A satellite on 127.0.0.1:port; Home Assistant's Wyoming integration connects to it."""

    def __init__(self, thread: EventLoopThread, port: int, name: str = "Kitchen satellite"):
        self.thread, self.port, self.name = thread, port, name
        self.handlers: list[_SatelliteHandler] = []
        self.running = threading.Event()  # Home Assistant sent run-satellite
        self._server: AsyncTcpServer | None = None

    def start(self) -> SatelliteEmulator:
        async def start():
            self._server = AsyncTcpServer("127.0.0.1", self.port)
            await self._server.start(lambda r, w: _SatelliteHandler(self, r, w))

        self.thread.call(start())
        return self

    def stop(self) -> None:
        async def stop():
            if self._server is not None:
                await self._server.stop()
                server = getattr(self._server, "_server", None)
                if server is not None:
                    server.close()
            for handler in self.handlers:
                await handler.disconnect()
            self.handlers.clear()

        self.thread.call(stop())
        self.running.clear()

    def stream(self, samples: np.ndarray, *, speed: float = 1.0) -> None:
        """One pipeline run (speech-to-text only) fed with int16 samples; returns when sent."""
        self.thread.call(self._stream(samples.astype("<i2").tobytes(), speed), timeout_s=60)

    def stream_in_background(self, samples: np.ndarray, *, speed: float = 1.0):
        """Like stream(), without waiting: returns a concurrent future."""
        coroutine = self._stream(samples.astype("<i2").tobytes(), speed)
        return asyncio.run_coroutine_threadsafe(coroutine, self.thread.loop)

    async def _stream(self, audio: bytes, speed: float) -> None:
        handler = self.handlers[-1]
        run = RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.ASR)
        await handler.write_event(run.event())
        await asyncio.sleep(0.3)  # Home Assistant starts the run
        await handler.write_event(AudioStart(rate=RATE_HZ, width=2, channels=1).event())
        step = CHUNK_SAMPLES * 2
        for offset in range(0, len(audio), step):
            chunk = AudioChunk(
                rate=RATE_HZ, width=2, channels=1, audio=audio[offset : offset + step]
            )
            await handler.write_event(chunk.event())
            await asyncio.sleep(CHUNK_SAMPLES / RATE_HZ / speed)
        await handler.write_event(AudioStop().event())


class SttEmulator:
    def __init__(self, thread: EventLoopThread, port: int, transcript: str = "hey computer"):
        self.thread, self.port, self.transcript = thread, port, transcript
        self.heard_bytes = 0
        self._server: AsyncTcpServer | None = None

    def start(self) -> SttEmulator:
        async def start():
            self._server = AsyncTcpServer("127.0.0.1", self.port)
            await self._server.start(lambda r, w: _SttHandler(self, r, w))

        self.thread.call(start())
        return self
