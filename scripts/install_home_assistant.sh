#!/usr/bin/env bash
# Installs Home Assistant Core (for the tests marked `home_assistant`) into .venv-ha, apart from
# the product's .venv: Core 2025.4.4 needs Python 3.13 (through pyenv: PYENV_VERSION=3.13.0).
# Installs the requirements of the integrations the tests load, under Core's own constraints,
# so `hass --skip-pip` starts offline. Safe to run again: a stamp skips the work once done.
set -euo pipefail
cd "$(dirname "$0")/.."

HA_VERSION=2025.4.4
VENV=.venv-ha
STAMP=$VENV/.mww-ha-$HA_VERSION
# The integrations the tests' configuration loads (their dependencies are followed).
INTEGRATIONS="frontend assist_pipeline assist_satellite wyoming mqtt api onboarding \
persistent_notification"

if [ -f "$STAMP" ]; then
  exit 0
fi
if ! PYENV_VERSION=3.13.0 python3.13 --version >/dev/null 2>&1; then
  echo "install_home_assistant: python3.13 not found (pyenv install 3.13.0); the tests marked" \
    "home_assistant will be skipped" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  PYENV_VERSION=3.13.0 python3.13 -m venv "$VENV"
fi
echo "install_home_assistant: Home Assistant Core $HA_VERSION into $VENV (first time: minutes)"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "homeassistant==$HA_VERSION"
requirements=$("$VENV/bin/python" - $INTEGRATIONS <<'EOF'
import json, sys
from pathlib import Path
import homeassistant

components = Path(homeassistant.__file__).parent / "components"
todo, seen, wanted = list(sys.argv[1:]), set(), set()
while todo:
    name = todo.pop()
    if name in seen or not (components / name / "manifest.json").is_file():
        continue
    seen.add(name)
    manifest = json.loads((components / name / "manifest.json").read_text())
    wanted.update(manifest.get("requirements", []))
    todo += manifest.get("dependencies", []) + manifest.get("after_dependencies", [])
print("\n".join(sorted(wanted)))
EOF
)
constraints=$("$VENV/bin/python" -c \
  'import homeassistant, pathlib; print(pathlib.Path(homeassistant.__file__).parent / "package_constraints.txt")')
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install -q -c "$constraints" $requirements "homeassistant==$HA_VERSION"
touch "$STAMP"
echo "install_home_assistant: ready"
