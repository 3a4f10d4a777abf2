"""The web process must never import TensorFlow or a model runtime (LiteRT, TFLite-Micro):
training, scoring ("Try it") and verifying a model before install happen in other processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WEB_PROCESS_SCRIPT = """
import asyncio, importlib.util, sys, tempfile, pathlib
from aiohttp.test_utils import TestClient, TestServer
from addon.app import create_app
from addon.settings import Settings
from tests.fakes.esphome_folder import esphome_folder
from tests.fakes.esphome_install import fake_trained_job

async def main():
    root = pathlib.Path(tempfile.mkdtemp())
    has_models = importlib.util.find_spec("pymicro_wakeword") is not None
    folder = esphome_folder(root / "esphome") if has_models else None
    settings = Settings(data_dir=root / "data", esphome_dir=folder)
    async with TestClient(TestServer(create_app(settings))) as client:
        assert (await client.get("/api/health")).status == 200
        assert (await client.get("/")).status == 200
        assert (await client.post("/api/projects", json={"phrase": "hey there"})).status == 201
        r = await client.post("/api/projects/hey_there/train", json={"preset": "standard"})
        assert r.status == 400, await r.text()
        r = await client.post("/api/projects/hey_there/synth", json={"positives": 1})
        assert r.status == 201
        assert (await client.get("/api/projects/hey_there/export")).status == 200
        if importlib.util.find_spec("pymicro_wakeword"):  # a model listens, in its own process
            job = await fake_trained_job(client.server.app)
            async with client.ws_connect(f"/api/jobs/{job.id}/try/ws?rate=16000") as ws:
                assert (await ws.receive_json(timeout=60))["type"] == "ready"
                await ws.send_bytes(bytes(32000))
                await ws.send_str("end")
                assert (await ws.receive_json(timeout=60))["type"] == "slices"
            # install: the worker's report or a child's mww-verify, never a runtime in here
            r = await client.post(
                f"/api/jobs/{job.id}/esphome/deploy", json={"device": "kitchen", "confirm": True}
            )
            assert r.status == 200, await r.text()
            assert (folder / "wake_words" / "hey_jarvis" / "hey_jarvis.tflite").is_file()
    # The flatbuffer schema (ai_edge_litert.schema_py_generated) reads files; these run models.
    runtimes = ("ai_edge_litert.interpreter", "tflite_micro", "tflite_runtime")
    runtime = any(m in sys.modules for m in runtimes)
    print(runtime, "tensorflow" in sys.modules, "keras" in sys.modules)

asyncio.run(main())
"""


def test_the_web_process_never_imports_tensorflow_or_a_model_runtime():
    out = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-3:] == ["False", "False", "False"]
