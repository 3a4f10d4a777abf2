"""Asking a satellite to speak and then listen: `ask_question` or `start_conversation`.

`ask_question` (Home Assistant 2025.7+) makes the run stop after speech-to-text and answers
with what was understood; `start_conversation` (2025.2+, ESPHome satellites 2025.4+) runs the
whole pipeline. Either way the audio reaches the capture that runs beside it. A "manual"
satellite is not prompted: the user wakes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mww_trainer.satellite.client import Client
from mww_trainer.satellite.errors import CommandFailed, PromptFailed

BUILT_IN_AGENT_REFUSAL = "does not support starting conversations"


@dataclass(frozen=True)
class Prompt:
    entity_id: str
    mode: str  # ask_question / start_conversation / manual
    message: str  # what the satellite says: "Say 'hey computer'"
    expected: str | None = None  # the phrase, as the answer ask_question listens for


def prompt_text(label: str, phrase: str) -> str:
    """What the satellite (or the panel, for a manual satellite) asks for."""
    if label == "negative":
        return "Say anything you might say near this device."
    return f"Say '{phrase}'."


async def ask(client: Client, prompt: Prompt) -> dict[str, Any] | None:
    """Speaks the prompt and starts listening; the answer of ask_question, else None."""
    if prompt.mode == "manual":
        return None
    try:
        if prompt.mode == "ask_question":
            answers = [{"id": "take", "sentences": [prompt.expected]}] if prompt.expected else []
            reply = await client.command(
                "call_service",
                domain="assist_satellite",
                service="ask_question",
                service_data={
                    "entity_id": prompt.entity_id,
                    "question": prompt.message,
                    "preannounce": True,
                    "answers": answers,
                },
                return_response=True,
            )
            response = (reply or {}).get("response") or {}
            return response.get(prompt.entity_id, response)
        await client.command(
            "call_service",
            domain="assist_satellite",
            service="start_conversation",
            service_data={"start_message": prompt.message, "preannounce": True},
            target={"entity_id": prompt.entity_id},
        )
        return None
    except CommandFailed as err:
        raise PromptFailed(_explain(prompt, str(err))) from None


def _explain(prompt: Prompt, message: str) -> str:
    if BUILT_IN_AGENT_REFUSAL in message:
        return (
            f"{prompt.entity_id}: its pipeline uses Home Assistant's built-in conversation agent, "
            "which cannot start conversations; on Home Assistant 2025.7 or newer the session "
            "asks with ask_question instead (update), or choose an AI conversation agent for "
            "the pipeline"
        )
    return f"{prompt.entity_id}: the prompt ({prompt.mode}) was refused: {message}"
