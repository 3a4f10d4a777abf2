"""Job queue: worker processes, live progress, cancel, and recovery after a restart.

Each job runs as `python -m mww_trainer.worker JOB_DIR` in its own process group, never in
this process. The queue lives in SQLite: queued jobs wait for their kind's slot (one training,
one synthesis and one flash at a time), progress.jsonl is tailed into job_events and pushed to
subscribers, and result.json plus the exit status decide the final state. A job interrupted
by a restart of the add-on is started again on the same folder, and the worker resumes it
from its last checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from addon.errors import UserError, conflict
from addon.housekeeping import DISK_FULL_SIGNS, disk_full_reason, sweep_partial_files
from addon.progress import Broadcaster, Progress, ProgressTail
from addon.store import Job, Store
from mww_trainer import jobfiles
from mww_trainer.errors import MwwError
from mww_trainer.fileio import atomic_write_text

_LOGGER = logging.getLogger(__name__)
WORKER_COMMAND = (sys.executable, "-m", "mww_trainer.worker")
SLOTS = {"train": 1, "synth": 1, "flash": 1, "cluster": 1, "tune": 1}  # of each kind at once
POLL_S = 0.5
RECONCILE_S = 2.0  # how often jobs marked running are checked for a worker that is gone
LOG_NAME = jobfiles.LOG_FILE
SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|API_KEY", re.IGNORECASE)

JobCallback = Callable[[Job], Awaitable[None]]
# A running job and its progress summary (Progress.to_dict()), after new events arrived.
ProgressHook = Callable[[Job, dict[str, Any]], Awaitable[None]]
# Writes job.json for a job about to start for the first time (raises UserError / MwwError).
SpecBuilder = Callable[[Job, Path], Awaitable[dict[str, Any]]]
# Runs in this process after a worker succeeded (e.g. files synthesised samples); may add to result.
Finisher = Callable[[Job, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class _Running:
    job: Job
    process: asyncio.subprocess.Process
    progress: Progress
    cancelled: bool = False
    watcher: asyncio.Task | None = None


@dataclass
class JobHooks:
    build_spec: SpecBuilder
    job_dir: Callable[[Job], Path]
    finishers: dict[str, Finisher] = field(default_factory=dict)
    on_finished: list[JobCallback] = field(default_factory=list)
    on_progress: list[ProgressHook] = field(default_factory=list)
    # Folders a job writes scratch files into (besides its own): swept when it ends.
    scratch_dirs: Callable[[Job], list[Path]] = lambda job: []


class JobManager:
    def __init__(
        self,
        store: Store,
        hooks: JobHooks,
        broadcaster: Broadcaster,
        *,
        cancel_grace_s: float = 10.0,
        max_restarts: int = 3,
        worker_command: tuple[str, ...] = WORKER_COMMAND,
    ):
        self.store, self.hooks, self.broadcaster = store, hooks, broadcaster
        self.cancel_grace_s, self.max_restarts = cancel_grace_s, max_restarts
        self.worker_command = worker_command
        self._running: dict[int, _Running] = {}
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task | None = None
        self._stopping = False

    # --- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        for job in await self.store.jobs_in_state("running"):
            await self._recover(job)
        self._scheduler = asyncio.create_task(self._schedule(), name="job-scheduler")

    async def stop(self) -> None:
        """Stops the workers; their jobs go back to the queue and resume at the next start."""
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        for run in list(self._running.values()):
            await self._terminate(run)
            if run.watcher is not None:
                await run.watcher

    # --- requests ------------------------------------------------------------------------------

    async def submit(self, project_id: int, kind: str, request: dict, user: str | None) -> Job:
        job = await self.store.create_job(project_id, kind, request, user)
        await self._publish_job(job)
        self._wake.set()
        return job

    async def cancel(self, job_id: int) -> Job:
        job = await self.store.get_job(job_id)
        if job is None:
            raise UserError(404, f"job {job_id} not found")
        if job.finished:
            raise conflict(f"job {job_id} has already {job.state}; there is nothing to cancel")
        run = self._running.get(job_id)
        if run is None:
            job = await self.store.update_job(
                job_id, state="cancelled", finished_at=time.time(), error="cancelled before it ran"
            )
            await self._ended(job)
            return job
        run.cancelled = True
        await self._terminate(run)
        if run.watcher is not None:  # let it record the final state before answering
            await asyncio.shield(run.watcher)
        return await self.store.get_job(job_id)

    async def retry(self, job_id: int) -> Job:
        """A failed or cancelled job again, in its own folder with its own job.json: training
        continues from the job's last checkpoint."""
        job = await self.store.get_job(job_id)
        if job is None:
            raise UserError(404, f"job {job_id} not found")
        if job.state not in ("failed", "cancelled"):
            raise conflict(
                f"job {job_id} is {job.state}; only a failed or cancelled job is retried"
            )
        job = await self.store.update_job(
            job_id, state="queued", error=None, result=None, finished_at=None, pid=None, attempts=0
        )
        await self._note(job, "started again by the user; continuing from its last checkpoint")
        self._wake.set()
        return job

    def progress(self, job_id: int) -> dict[str, Any] | None:
        run = self._running.get(job_id)
        return None if run is None else run.progress.to_dict()

    @property
    def running_count(self) -> int:
        return len(self._running)

    def is_busy(self, project_id: int) -> bool:
        return any(run.job.project_id == project_id for run in self._running.values())

    # --- scheduling ------------------------------------------------------------------------------

    async def _schedule(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._reconcile()
                await self._start_waiting()
            except Exception:
                _LOGGER.exception("scheduling jobs failed; retrying in %.0f s", RECONCILE_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RECONCILE_S)

    async def _reconcile(self) -> None:
        """Jobs the database calls running that nobody watches: their watcher or worker is gone.

        A watcher dies when it cannot record the end (a full disk fails SQLite writes too); its
        job is settled here, again at every round until the database takes the write.
        """
        for job in await self.store.jobs_in_state("running"):
            if job.id in self._running or self._stopping:
                continue
            job_dir = self.hooks.job_dir(job)
            if job.pid and _is_our_worker(job.pid, job_dir):
                _LOGGER.warning("job %s: stopping worker %s that nobody watches", job.id, job.pid)
                await _kill_orphan(job.pid, self.cancel_grace_s)
            state, error, result = await self._outcome(job, job_dir, None)
            await self._finish(job, state, error, result)

    async def _start_waiting(self) -> None:
        for job in await self.store.jobs_in_state("queued"):
            busy = sum(run.job.kind == job.kind for run in self._running.values())
            if busy < SLOTS.get(job.kind, 1) and not self._stopping:
                await self._launch(job)

    async def _launch(self, job: Job) -> None:
        job_dir = self.hooks.job_dir(job)
        job_dir.mkdir(parents=True, exist_ok=True)
        spec_path = job_dir / jobfiles.JOB_FILE
        try:
            if not spec_path.is_file():  # a restart keeps the configuration it began with
                spec = await self.hooks.build_spec(job, job_dir)
                atomic_write_text(spec_path, json.dumps(spec, indent=1) + "\n")
        except (UserError, MwwError) as exc:
            message = exc.message if isinstance(exc, UserError) else str(exc)
            job = await self.store.update_job(
                job.id, state="failed", finished_at=time.time(), error=message
            )
            await self._ended(job)
            return
        (job_dir / jobfiles.RESULT_FILE).unlink(missing_ok=True)
        process = await _spawn(self.worker_command, job_dir)
        job = await self.store.update_job(
            job.id, state="running", started_at=job.started_at or time.time(), pid=process.pid
        )
        events = await self.store.job_events(job.id)
        run = _Running(job, process, Progress.from_events(events))
        self._running[job.id] = run
        run.watcher = asyncio.create_task(self._watch(run), name=f"job-{job.id}")
        await self._publish_job(job)

    async def _watch(self, run: _Running) -> None:
        job_dir = self.hooks.job_dir(run.job)
        tail = ProgressTail(job_dir / jobfiles.PROGRESS_FILE, run.job.progress_offset)
        exit_waiter = asyncio.ensure_future(run.process.wait())
        try:
            while True:
                exited, _ = await asyncio.wait({exit_waiter}, timeout=POLL_S)
                await self._drain(run, tail)
                if exited:
                    break
            await self._settle(run, job_dir)
        except Exception:
            # The reconciler settles the job (and stops its worker) once this task is gone.
            _LOGGER.exception("watching job %s failed; it is settled at the next round", run.job.id)
        finally:
            self._running.pop(run.job.id, None)
            self._wake.set()

    async def _drain(self, run: _Running, tail: ProgressTail) -> None:
        events, offset = await asyncio.to_thread(tail.read_new)
        if not events:
            return
        ids = await self.store.append_events(run.job.id, events, offset)
        for event_id, event in zip(ids, events, strict=True):
            event["id"] = event_id
            run.progress.add(event)
        summary = run.progress.to_dict()
        self.broadcaster.publish(
            {"type": "events", "job_id": run.job.id, "events": events, "progress": summary}
        )
        for callback in self.hooks.on_progress:
            try:
                await callback(run.job, summary)
            except Exception:
                _LOGGER.exception(
                    "on_job_progress callback %r failed for job %s", callback, run.job.id
                )

    async def _settle(self, run: _Running, job_dir: Path) -> None:
        code = run.process.returncode
        if run.cancelled:
            state, error, result = "cancelled", "cancelled by the user", None
        elif self._stopping:
            job = await self.store.update_job(run.job.id, state="queued", pid=None)
            await self._note(job, "the add-on stopped; the job resumes when it starts again")
            return
        else:
            state, error, result = await self._outcome(run.job, job_dir, code)
        await self._finish(run.job, state, error, result)

    async def _finish(self, job: Job, state: str, error: str | None, result: dict | None) -> None:
        """Records a job's end, then sweeps the half-written files its worker may have left."""
        ended = await self.store.update_job(
            job.id, state=state, error=error, result=result, finished_at=time.time(), pid=None
        )
        dirs = [self.hooks.job_dir(job), *self.hooks.scratch_dirs(job)]
        await asyncio.to_thread(sweep_partial_files, dirs)
        await self._ended(ended)

    async def _outcome(self, job: Job, job_dir: Path, code: int | None):
        result = _read_result(job_dir)
        if result is None:
            if full := await asyncio.to_thread(disk_full_reason, job_dir / LOG_NAME):
                return "failed", full, None
            if code is None:
                how = "it is gone"
            else:
                how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            return "failed", f"the worker stopped without a result ({how}); see the log", None
        if not result.get("ok"):
            error = str(result.get("error") or "the worker reported a failure")
            if any(sign in error for sign in DISK_FULL_SIGNS):
                error = f"disk full: {error}"
            return "failed", error, result
        finisher = self.hooks.finishers.get(job.kind)
        if finisher is not None:
            try:
                result = await finisher(job, result)
            except (UserError, MwwError) as exc:
                return "failed", getattr(exc, "message", str(exc)), result
        return "succeeded", None, result

    async def _ended(self, job: Job | None) -> None:
        if job is None:  # its project was deleted meanwhile
            return
        await self._publish_job(job)
        for callback in self.hooks.on_finished:
            try:
                await callback(job)
            except Exception:
                _LOGGER.exception("on_job_finished callback %r failed for job %s", callback, job.id)

    async def _terminate(self, run: _Running) -> None:
        """SIGTERM to the worker's process group; SIGKILL if it is still there after the grace."""
        _signal_group(run.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(run.process.wait(), self.cancel_grace_s)
        except TimeoutError:
            _LOGGER.warning(
                "job %s ignored SIGTERM for %.0f s; killing it", run.job.id, self.cancel_grace_s
            )
            _signal_group(run.process.pid, signal.SIGKILL)
            await run.process.wait()

    # --- recovery ------------------------------------------------------------------------------

    async def _recover(self, job: Job) -> None:
        """A job left 'running' by an add-on that did not stop cleanly."""
        job_dir = self.hooks.job_dir(job)
        if job.pid and _is_our_worker(job.pid, job_dir):
            _LOGGER.warning("job %s: stopping worker %s left from the last run", job.id, job.pid)
            await _kill_orphan(job.pid, self.cancel_grace_s)
        result = _read_result(job_dir)
        if result is not None:  # it finished while nobody was watching
            tail = ProgressTail(job_dir / jobfiles.PROGRESS_FILE, job.progress_offset)
            events, offset = tail.read_new()
            await self.store.append_events(job.id, events, offset)
            state, error, result = await self._outcome(job, job_dir, 0 if result.get("ok") else 1)
            await self._finish(job, state, error, result)
            return
        attempts = job.attempts + 1
        if attempts > self.max_restarts:
            job = await self.store.update_job(
                job.id,
                state="failed",
                finished_at=time.time(),
                pid=None,
                attempts=attempts,
                error=f"interrupted by {attempts} restarts of the add-on; start it again",
            )
            await self._ended(job)
            return
        job = await self.store.update_job(job.id, state="queued", pid=None, attempts=attempts)
        await self._note(
            job, "the add-on restarted during this job; resuming from its last checkpoint"
        )

    async def _note(self, job: Job, message: str) -> None:
        event = {
            "stage": "restart",
            "done": 0,
            "total": 0,
            "message": message,
            "metrics": {},
            "time_s": time.time(),
        }
        await self.store.append_events(job.id, [event], job.progress_offset)
        await self._publish_job(job)

    async def _publish_job(self, job: Job) -> None:
        run = self._running.get(job.id)
        progress = run.progress.to_dict() if run else None
        self.broadcaster.publish({"type": "job", "job": job.to_dict(), "progress": progress})


async def _spawn(command: tuple[str, ...], job_dir: Path) -> asyncio.subprocess.Process:
    with (job_dir / LOG_NAME).open("ab") as log:
        log.write(f"--- worker started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        return await asyncio.create_subprocess_exec(
            *command,
            str(job_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=job_dir,
            start_new_session=True,  # its own process group: cancel reaches all
            env=worker_environment(os.environ),
        )


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Ours without secrets (the Supervisor's and the panel's tokens, passwords): a worker runs
    ESPHome builds and other people's code, and needs none of them."""
    kept = {name: value for name, value in environ.items() if not SECRET_NAME.search(name)}
    return kept | {"PYTHONUNBUFFERED": "1"}


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _read_result(job_dir: Path) -> dict[str, Any] | None:
    try:
        result = json.loads((job_dir / jobfiles.RESULT_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return result if isinstance(result, dict) else None


def _is_our_worker(pid: int, job_dir: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(job_dir).encode() in cmdline


async def _kill_orphan(pid: int, grace_s: float) -> None:
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        await asyncio.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
