"""A satellite session interrupted by a restart keeps its takes and offers to resume."""

from __future__ import annotations

import json

from addon.satellites import SatelliteSessions, home_assistant_of
from addon.settings import Settings


def test_a_session_running_at_a_restart_shows_as_interrupted_with_its_takes(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        homeassistant_url="http://ha:8123",
        homeassistant_token="long-lived-token-value",
    )
    folder = tmp_path / "satellites"
    folder.mkdir()
    take = {"n": 1, "entity_id": "assist_satellite.k", "sample_id": 7, "device_id": "d1"}
    (folder / "session.json").write_text(
        json.dumps(
            {
                "id": "s1",
                "project": "hey_computer",
                "state": "running",
                "takes": [take],
                "current": {"n": 2},
                "error": None,
                "spec": {},
            }
        )
    )
    sessions = SatelliteSessions(settings, library=None, broadcaster=None)
    status = sessions.status()
    assert status["running"] is False
    assert status["session"]["state"] == "interrupted"
    assert status["session"]["takes"] == [take] and status["session"]["current"] is None
    assert status["session"]["error"]["message"].startswith(
        "the add-on stopped during the session; the 1 takes stored are kept: press Resume"
    )
    assert "long-lived-token-value" not in json.dumps(status)
    assert "long-lived-token-value" not in repr(settings)
    assert "long-lived-token-value" not in repr(home_assistant_of(settings))
