"""Waiting for an add-on job over its HTTP API, as the panel does."""

from __future__ import annotations

import asyncio
import time

FINISHED = ("succeeded", "failed", "cancelled")


async def wait_for(client, job_id: int, states=FINISHED, timeout: float = 180):
    """The job's JSON once its state is one of ``states``; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = await (await client.get(f"/api/jobs/{job_id}")).json()
        if job["state"] in states:
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.get('state')} after {timeout} s: {job}")
