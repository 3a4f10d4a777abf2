"""The household's satellites: `assist_satellite.*` entities with device, area and integration.

Whether one can be prompted is decided here from facts (Home Assistant's version, the entity's
supported features, its integration), so the rule is testable without a Home Assistant.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

from mww_trainer.satellite.client import Client, version_at_least

ANNOUNCE = 1  # assist_satellite's AssistSatelliteEntityFeature bits
START_CONVERSATION = 2
ASK_QUESTION_SINCE = (2025, 7)
PROMPT_MODES = ("ask_question", "start_conversation", "manual")


@dataclass(frozen=True)
class Satellite:
    entity_id: str
    name: str
    device_id: str | None
    device_name: str | None
    area: str | None
    integration: str | None
    supported_features: int
    state: str
    prompt: str  # one of PROMPT_MODES: how each take is started
    why_not: str | None  # why it cannot be prompted (None when it can)

    @property
    def can_prompt(self) -> bool:
        return self.prompt != "manual"

    @property
    def available(self) -> bool:
        return self.state not in ("unavailable", "unknown")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "can_prompt": self.can_prompt, "available": self.available}


def prompt_mode(version: str, features: int, integration: str | None) -> tuple[str, str | None]:
    """How takes are prompted on this satellite, and if not at all, why in one sentence."""
    if features & START_CONVERSATION:
        if version_at_least(version, *ASK_QUESTION_SINCE):
            return "ask_question", None
        return "start_conversation", None
    manual = "wake it yourself for each take (wake word or button), then say the phrase"
    if integration == "wyoming":
        return "manual", f"Wyoming satellites can only announce, not ask; {manual}."
    if integration == "esphome" and not version_at_least(version, 2025, 4):
        return "manual", (
            f"ESPHome satellites can start conversations from Home Assistant 2025.4 (this is "
            f"{version}); update it, or {manual}."
        )
    return "manual", f"this satellite cannot start a conversation (announce only); {manual}."


async def list_satellites(client: Client) -> list[Satellite]:
    states, entities, devices, areas = await asyncio.gather(
        client.command("get_states"),
        client.command("config/entity_registry/list"),
        client.command("config/device_registry/list"),
        client.command("config/area_registry/list"),
    )
    return satellites_from(client.version, states, entities, devices, areas)


def satellites_from(
    version: str,
    states: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    devices: list[dict[str, Any]],
    areas: list[dict[str, Any]],
) -> list[Satellite]:
    """The satellites in Home Assistant's state list, joined with its registries."""
    entity_by_id = {e.get("entity_id"): e for e in entities}
    device_by_id = {d.get("id"): d for d in devices}
    area_names = {a.get("area_id"): a.get("name") for a in areas}
    found = []
    for state in states:
        entity_id = str(state.get("entity_id", ""))
        if not entity_id.startswith("assist_satellite."):
            continue
        attributes = state.get("attributes") or {}
        entry = entity_by_id.get(entity_id) or {}
        device = device_by_id.get(entry.get("device_id")) or {}
        features = int(attributes.get("supported_features") or 0)
        integration = entry.get("platform")
        mode, why_not = prompt_mode(version, features, integration)
        device_name = device.get("name_by_user") or device.get("name")
        found.append(
            Satellite(
                entity_id=entity_id,
                name=str(attributes.get("friendly_name") or device_name or entity_id),
                device_id=entry.get("device_id"),
                device_name=device_name,
                area=area_names.get(entry.get("area_id") or device.get("area_id")),
                integration=integration,
                supported_features=features,
                state=str(state.get("state", "unknown")),
                prompt=mode,
                why_not=why_not,
            )
        )
    return sorted(found, key=lambda s: (s.area or "", s.name))
