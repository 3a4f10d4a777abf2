"""`python -m addon`: settings from the command line (or Home Assistant's options) -> the app.

Standalone:  python -m addon --data-dir ./data [--host 127.0.0.1 --port 8099 --token T]
Home Assistant: SUPERVISOR_TOKEN is set; options come from /data/options.json.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from addon.app import Plugin, create_app
from addon.datadir import DataDirInUse
from addon.settings import Settings, SettingsError
from addon.store import DatabaseDamaged

# Modules that hook into the app (MQTT and Home Assistant notifications): each exposes
# setup(app), which may add a cleanup context and append to app[ON_JOB_FINISHED].
OPTIONAL_PLUGINS = ("addon.notify",)
_LEVELS = {"trace": logging.DEBUG, "notice": logging.INFO, "fatal": logging.CRITICAL}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = Settings.load(sys.argv[1:] if argv is None else argv)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    level = _LEVELS.get(settings.log_level, getattr(logging, settings.log_level.upper()))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    given = {arg.split("=", 1)[0] for arg in (sys.argv[1:] if argv is None else argv)}
    for flag in sorted(given & {"--token", "--mqtt-password"}):
        logging.getLogger(__name__).warning(
            "%s on the command line is visible to every user of this machine (ps); "
            "give %s-file or the environment variable instead",
            flag,
            flag,
        )
    app = create_app(settings, plugins=_plugins())
    logging.getLogger(__name__).info(
        "serving on http://%s:%s (data in %s)", settings.host, settings.port, settings.data_dir
    )
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    except (DataDirInUse, DatabaseDamaged) as exc:
        logging.getLogger(__name__).error("%s", exc)
        return 2
    return 0


def _plugins() -> list[Plugin]:
    found = []
    for name in OPTIONAL_PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        if callable(getattr(module, "setup", None)):
            found.append(module.setup)
    return found


if __name__ == "__main__":
    sys.exit(main())
