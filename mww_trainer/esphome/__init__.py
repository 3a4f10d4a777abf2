"""The ESPHome bridge: list devices, add a trained model to one, compile and flash it.

devices.py    device configurations in an ESPHome folder (nothing resolved, no secrets)
snippet.py    names and YAML we write for a model; the hand-edit snippet
yaml_edit.py  the one-line `packages:` edit of a user's YAML, verified by re-parsing
backup.py     atomic writes, backups, the folder lock, replacing a model folder
deploy.py     deploy: verify, plan, back up, write, `esphome config`, roll back
undo.py       undo the last deploy: the YAML back, the unused model folder gone
runner.py     the `esphome` CLI as a streamed, cancellable subprocess
flash.py      compile + OTA upload with failures classified for the user
dashboard.py  the same through ESPHome Device Builder's websocket API
"""

from mww_trainer.esphome.deploy import (
    DeployOptions,
    DeployPlan,
    DeployResult,
    deploy,
    plan_deploy,
)
from mww_trainer.esphome.devices import Device, find_device, list_devices
from mww_trainer.esphome.errors import (
    DeployDeclined,
    DeployError,
    DeviceNotFoundError,
    EsphomeBridgeError,
    ValidationError,
)
from mww_trainer.esphome.flash import Failure, FlashOptions, FlashResult, flash, upload_firmware
from mww_trainer.esphome.snippet import snippet
from mww_trainer.esphome.undo import UndoResult, undo

__all__ = [
    "DeployDeclined",
    "DeployError",
    "DeployOptions",
    "DeployPlan",
    "DeployResult",
    "Device",
    "DeviceNotFoundError",
    "EsphomeBridgeError",
    "Failure",
    "FlashOptions",
    "FlashResult",
    "UndoResult",
    "ValidationError",
    "deploy",
    "find_device",
    "flash",
    "list_devices",
    "plan_deploy",
    "snippet",
    "undo",
    "upload_firmware",
]
