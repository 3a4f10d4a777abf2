"""Who made a clip: a text-to-speech engine (and which family of engines) or a person.

Validation must hold out voices the model never heard: whole engine families for synthetic
speech, whole speakers for people. Three signs tell a clip's origin, strongest first:

- ``synth_manifest.json`` beside the role folders (what ``mww-synth`` writes): its ``engine``;
- the speaker folder: mww-synth names it ``<family>-<voice>`` (``festival-kal_diphone``); the
  add-on files generated clips under ``synth <voice>`` (folder ``synth_<voice>``) and names
  them ``synthetic_*.wav``;
- anything else was recorded by a person (browser, upload, satellite, speech packs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# Engine families mww-synth speaks with. Engines of one family share their sound (MBROLA
# goes through espeak-ng's front end but has its own diphone voices), so a family is held
# out whole.
ENGINE_FAMILIES = ("espeak", "mbrola", "festival", "flite", "pico", "piper")
HUMAN = "human"
UNKNOWN_ENGINE = "synthetic"  # generated, but by an engine we cannot name
SYNTH_MANIFEST = "synth_manifest.json"
_ADDON_SYNTH_FOLDER = "synth_"
_ADDON_SYNTH_FILE = "synthetic_"


@dataclass(frozen=True)
class Origin:
    family: str  # an ENGINE_FAMILIES member, UNKNOWN_ENGINE or HUMAN

    @property
    def human(self) -> bool:
        return self.family == HUMAN

    @property
    def group(self) -> str | None:
        """The split group of a synthetic clip (its engine family), None for a person's."""
        return None if self.human else f"engine:{self.family}"


def family_of_engine(engine: Any) -> str:
    """A manifest's engine record (a name, or a dict with "engine") as a family."""
    name = engine.get("engine") if isinstance(engine, dict) else engine
    name = str(name or "").lower()
    if name == HUMAN:  # people's recordings mww-synth joined (synth/recorded.py)
        return HUMAN
    for family in ENGINE_FAMILIES:
        if name == family or name.startswith(f"{family}-") or name.startswith(f"{family}_"):
            return family
    if name == "espeak-ng":
        return "espeak"
    return UNKNOWN_ENGINE


def family_of_folder(folder: str) -> str | None:
    """The engine family a speaker folder names, or None when it names none."""
    name = folder.lower()
    if name.startswith(_ADDON_SYNTH_FOLDER):
        name = name[len(_ADDON_SYNTH_FOLDER) :]
        legacy = "espeak" if "+" in name else None  # "en-us+m3": before engine families
        found = _prefix_family(name)
        return found or legacy or UNKNOWN_ENGINE
    return _prefix_family(name)


def _prefix_family(name: str) -> str | None:
    head = name.split("-", 1)[0]
    return head if head in ENGINE_FAMILIES and "-" in name else None


def origin_of(relpath: str, manifest: dict[str, str] | None = None) -> Origin:
    """The origin of one clip, ``relpath`` as ingest names it (``positive/alice/001.wav``)."""
    if manifest and relpath in manifest:
        return Origin(manifest[relpath])
    parts = relpath.split("/")[1:]
    if len(parts) > 1:
        family = family_of_folder(parts[0])
        if family is not None:
            return Origin(family)
    if parts and parts[-1].lower().startswith(_ADDON_SYNTH_FILE):
        return Origin(UNKNOWN_ENGINE)
    return Origin(HUMAN)


def read_manifest(dataset_root: Path) -> dict[str, str]:
    """relpath -> engine family of every file a synth manifest in ``dataset_root`` lists."""
    path = Path(dataset_root) / SYNTH_MANIFEST
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _read_manifest(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _read_manifest(path: str, _mtime_ns: int, _size: int) -> dict[str, str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # not ours, or damaged: the folder names still tell
    out = {}
    for entry in files if isinstance(files, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        segments = entry.get("segments")
        if entry.get("engine") is None and isinstance(segments, list) and segments:
            engines = {family_of_engine(s) for s in segments if isinstance(s, dict)}
            family = engines.pop() if len(engines) == 1 else UNKNOWN_ENGINE
        else:
            family = family_of_engine(entry.get("engine") or entry)
        out[entry["path"]] = family
    return out
