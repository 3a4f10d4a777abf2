"""The web process must never import TensorFlow: training happens in worker processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WEB_PROCESS_SCRIPT = """
import asyncio, sys, tempfile, pathlib
from aiohttp.test_utils import TestClient, TestServer
from addon.app import create_app
from addon.settings import Settings

async def main():
    settings = Settings(data_dir=pathlib.Path(tempfile.mkdtemp()))
    async with TestClient(TestServer(create_app(settings))) as client:
        assert (await client.get("/api/health")).status == 200
        assert (await client.get("/")).status == 200
        assert (await client.post("/api/projects", json={"phrase": "hey there"})).status == 201
        r = await client.post("/api/projects/hey_there/train", json={"preset": "standard"})
        assert r.status == 400, await r.text()
        r = await client.post("/api/projects/hey_there/synth", json={"positives": 1})
        assert r.status == 201
        assert (await client.get("/api/projects/hey_there/export")).status == 200
    print("tensorflow" in sys.modules, "keras" in sys.modules)

asyncio.run(main())
"""


def test_the_web_process_never_imports_tensorflow():
    out = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["False", "False"]
