"""Recording sessions through Home Assistant's voice satellites, for the panel.

Home Assistant is reached through the Supervisor's proxy (inside Home Assistant, with the
Supervisor token) or, standalone, at `homeassistant_url` with a long-lived admin token (a
secret: never logged, never returned). One session runs at a time. Each take is filed at once
as a sample of source `satellite` (speaker: the name given, else the satellite's area or name);
the session's state file (`satellites/session.json`: the spec, for each take its sample, device
and area, and the takes skipped) is rewritten after every take, so a restart loses no stored
take: the session shows as interrupted and "Resume" records the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from addon.errors import UserError, conflict
from addon.library import Library
from addon.progress import Broadcaster
from addon.settings import Settings
from addon.store import Project
from mww_trainer.data.audio import write_wav
from mww_trainer.satellite.client import HomeAssistant, connect
from mww_trainer.satellite.errors import SatelliteError, TakeRejected
from mww_trainer.satellite.listing import list_satellites
from mww_trainer.satellite.session import Controls, Runner, SessionSpec, Take, Target

_LOGGER = logging.getLogger(__name__)
STATE_FILE = "session.json"
ACTIONS = ("retake", "skip", "cancel")


def home_assistant_of(settings: Settings) -> HomeAssistant:
    """Where the satellites are reached, or a UserError that says how to set it up."""
    if settings.supervisor and settings.supervisor_token:
        return HomeAssistant.through_supervisor(settings.supervisor_token)
    if settings.homeassistant_url and settings.homeassistant_token:
        return HomeAssistant(settings.homeassistant_url, settings.homeassistant_token)
    raise UserError(
        400,
        "recording through satellites needs Home Assistant: run this as its add-on, or start "
        "it with --homeassistant-url http://HOST:8123 and a long-lived admin token in "
        "--homeassistant-token-file (or $MWW_TRAINER_HA_TOKEN)",
    )


class SatelliteSessions:
    def __init__(self, settings: Settings, library: Library, broadcaster: Broadcaster):
        self.settings, self.library, self.broadcaster = settings, library, broadcaster
        self.folder = settings.data_dir / "satellites"
        self.state: dict[str, Any] | None = self._load()
        self._task: asyncio.Task | None = None
        self._controls: Controls | None = None

    # --- listing -------------------------------------------------------------------------

    async def listing(self) -> dict[str, Any]:
        async with connect(home_assistant_of(self.settings)) as client:
            satellites = await list_satellites(client)
            return {"version": client.version, "satellites": [s.to_dict() for s in satellites]}

    # --- sessions ------------------------------------------------------------------------

    async def start(self, project: Project, spec: SessionSpec, user: str | None) -> dict:
        if self.running:
            raise conflict("a satellite session is already recording; cancel it first")
        self.state = {
            "id": uuid.uuid4().hex[:12],
            "project": project.slug,
            "spec": spec.to_dict(),
            "user": user,
            "state": "running",
            "started_at": time.time(),
            "takes": [],
            "skipped": [],
            "error": None,
            "current": None,
        }
        return await self._launch(project, spec)

    async def resume(self) -> dict:
        if self.running:
            raise conflict("the satellite session is recording already")
        if not self.state or self.state["state"] == "finished":
            raise UserError(409, "there is no unfinished satellite session to resume")
        project = await self.library.project(self.state["project"])
        self.state.update(state="running", error=None)
        return await self._launch(project, SessionSpec.from_dict(self.state["spec"]))

    def control(self, action: str) -> dict:
        if action not in ACTIONS:
            raise UserError(400, f"action: {action!r} is not one of {', '.join(ACTIONS)}")
        if not self.running or self._controls is None:
            raise conflict("no satellite session is recording")
        self._controls.request(action)
        return self.status()

    def status(self) -> dict[str, Any]:
        return {"session": self.state, "running": self.running}

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        """At shutdown: a running session stops; it shows as interrupted after the restart."""
        if self.running:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- the run ------------------------------------------------------------------------

    async def _launch(self, project: Project, spec: SessionSpec) -> dict:
        ha = home_assistant_of(self.settings)
        self._controls = Controls()
        self._save()
        self._task = asyncio.create_task(self._run(ha, project, spec, self._controls))
        return self.status()

    async def _run(self, ha: HomeAssistant, project: Project, spec: SessionSpec, controls):
        state = self.state
        done: dict[str, int] = {}
        for take in state["takes"] + state.setdefault("skipped", []):
            done[take["entity_id"]] = max(done.get(take["entity_id"], 0), take["n"])
        try:
            async with connect(ha) as client:
                runner = Runner(
                    client,
                    spec,
                    self._storer(project, spec),
                    self._discarder(project),
                    self._emit,
                    controls,
                    done,
                )
                await runner.run()
            state["state"] = "cancelled" if controls.cancelled.is_set() else "finished"
        except SatelliteError as err:
            state.update(state="failed", error={"kind": err.kind, "message": str(err)})
        except asyncio.CancelledError:
            state.update(state="interrupted", error=_interrupted(state))
            raise
        except Exception:
            _LOGGER.exception("the satellite session failed")
            state.update(
                state="failed",
                error={
                    "kind": "error",
                    "message": "internal error; the add-on's log has the details",
                },
            )
        finally:
            state["current"] = None
            self._save()
            self._emit({"type": "session_ended", "state": state["state"], "error": state["error"]})

    def _storer(self, project: Project, spec: SessionSpec):
        async def store(take: Take) -> dict[str, Any]:
            target = take.target
            path = self.library.tmp_dir / f"satellite_{uuid.uuid4().hex}.wav"
            await asyncio.to_thread(write_wav, path, take.check.samples)
            try:
                added = await self.library.add_file(
                    project,
                    path,
                    filename=f"{target.name} take {take.index + 1}",
                    label=spec.label,
                    speaker=spec.speaker or target.area or target.name,
                    source="satellite",
                    trim=False,
                    user=self.state.get("user"),
                )
            except UserError as err:
                raise TakeRejected(err.message) from None
            finally:
                path.unlink(missing_ok=True)
            sample = added.samples[0]
            self.state["takes"].append(
                {
                    "n": take.index + 1,
                    "entity_id": target.entity_id,
                    "device_id": target.device_id,
                    "satellite": target.name,
                    "area": target.area,
                    "phrase": take.phrase,
                    "sample_id": sample.id,
                    "problems": list(take.check.problems),
                    "summary": take.check.summary,
                    "duration_s": round(take.check.duration_s, 2),
                }
            )
            self._save()
            return sample.to_dict()

        return store

    def _discarder(self, project: Project):
        async def discard(target: Target, index: int) -> None:
            takes = self.state["takes"]
            for take in [
                t for t in takes if t["entity_id"] == target.entity_id and t["n"] == index + 1
            ]:
                sample = await self.library.store.get_sample(project.id, take["sample_id"])
                if sample is not None:
                    await self.library.delete_sample(project, sample)
                takes.remove(take)
            skipped = self.state.setdefault("skipped", [])
            skipped[:] = [
                s for s in skipped if (s["entity_id"], s["n"]) != (target.entity_id, index + 1)
            ]
            self._save()

        return discard

    def _emit(self, event: dict[str, Any]) -> None:
        if event["type"] == "take_started":
            self.state["current"] = {**event, "level_dbfs": None}
        elif event["type"] == "level" and self.state.get("current"):
            self.state["current"]["level_dbfs"] = event["dbfs"]
        elif event["type"] == "take_failed":
            self.state["last_problem"] = event
        elif event["type"] == "take_stored":
            self.state["last_problem"] = None  # the retried take went through
        elif event["type"] == "take_skipped":
            self.state.setdefault("skipped", []).append(
                {"entity_id": event["entity_id"], "n": event["n"]}
            )
            self._save()
        self.broadcaster.publish({"type": "satellite", "session": self.state["id"], **event})

    # --- the state file --------------------------------------------------------------------

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(self.state, indent=1), encoding="utf-8")
        tmp.replace(self.folder / STATE_FILE)

    def _load(self) -> dict[str, Any] | None:
        path = self.folder / STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            _LOGGER.warning(
                "%s cannot be read (%s); the last satellite session is forgotten", path, err
            )
            return None
        if state.get("state") == "running":  # the add-on stopped while it recorded
            state.update(state="interrupted", current=None, error=_interrupted(state))
        return state


def _interrupted(state: dict[str, Any]) -> dict[str, str]:
    return {
        "kind": "interrupted",
        "message": f"the add-on stopped during the session; the {len(state['takes'])} takes "
        "stored are kept: press Resume to record the rest",
    }
