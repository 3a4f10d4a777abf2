"""mww-cluster-apply's work: move each file into its speaker's folder, and undo that exactly.

    plan = plan_moves(namelist)            # nothing touched
    manifest = apply_moves(plan, output_dir)  # backup manifest written first, then the moves
    undo(manifest)                          # every file back, checked by its SHA-256

Files are renamed, never rewritten, so their bytes cannot change; undo refuses a file whose
content changed since and says which.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from mww_trainer.errors import MwwError
from mww_trainer.fileio import atomic_write_text

MANIFEST_VERSION = 1
UNDONE_SUFFIX = ".undone.json"


@dataclass(frozen=True)
class Move:
    source: str  # relative to the plan's root, POSIX
    target: str


@dataclass(frozen=True)
class Plan:
    dataset: str
    root: Path
    moves: tuple[Move, ...]
    unchanged: int  # files already in their speaker's folder

    def describe(self) -> str:
        lines = [f"{self.dataset}: {len(self.moves)} file(s) to move in {self.root}"]
        lines += [f"    {m.source} -> {m.target}" for m in self.moves]
        if self.unchanged:
            lines.append(f"    {self.unchanged} file(s) already in their speaker's folder")
        return "\n".join(lines)


def read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MwwError(f"{path}: cannot read the {what} ({exc})") from exc


def plan_moves(namelist: dict) -> Plan:
    """Where each listed file goes: ``<root>/<speaker>/<name>``; a name taken gets ``-2``..."""
    root = Path(namelist["root"])
    if not root.is_dir():
        raise MwwError(f"the namelist's folder {root} does not exist")
    taken: set[str] = set()
    moves, unchanged = [], 0
    for rel, speaker in sorted(namelist["files"].items()):
        folder, _, name = rel.rpartition("/")
        if not (root / rel).is_file():
            raise MwwError(f"{root / rel} is listed in the namelist but missing; analyse again")
        if folder == speaker:
            unchanged += 1
            taken.add(rel)
            continue
        target = _free_name(root, speaker, name, taken)
        taken.add(target)
        moves.append(Move(rel, target))
    return Plan(namelist["dataset"], root, tuple(moves), unchanged)


def _free_name(root: Path, speaker: str, name: str, taken: set[str]) -> str:
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    candidate, n = f"{speaker}/{name}", 1
    while candidate in taken or (root / candidate).exists():
        n += 1
        candidate = f"{speaker}/{stem}-{n}{dot}{suffix}"
    return candidate


def manifest_path(output_dir: Path, dataset: str) -> Path:
    return Path(output_dir) / f"{dataset}_backup_manifest.json"


def apply_moves(plan: Plan, output_dir: Path) -> Path:
    """Writes the backup manifest, then moves; returns the manifest's path."""
    manifest = manifest_path(output_dir, plan.dataset)
    if manifest.exists():
        raise MwwError(
            f"{manifest} exists: an earlier apply has not been undone; undo it "
            f"(mww-cluster-apply --undo {manifest}) or move it away first"
        )
    root = plan.root
    entries = [
        {"from": m.source, "to": m.target, "sha256": _sha256(root / m.source)} for m in plan.moves
    ]
    created = sorted({m.target.rpartition("/")[0] for m in plan.moves} - _dirs(root))
    emptied = _emptied_dirs(root, plan.moves)
    record = {
        "version": MANIFEST_VERSION,
        "dataset": plan.dataset,
        "root": str(root.resolve()),
        "moves": entries,
        "created_dirs": created,
        "removed_dirs": emptied,
    }
    manifest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(manifest, json.dumps(record, indent=2) + "\n")
    for move in plan.moves:
        target = root / move.target
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(root / move.source, target)
    for folder in sorted(emptied, key=len, reverse=True):
        (root / folder).rmdir()
    return manifest


def _dirs(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}


def _emptied_dirs(root: Path, moves: tuple[Move, ...]) -> list[str]:
    """Folders that hold nothing once the moves are done (their files all moved out)."""
    leaving = {m.source for m in moves}
    arriving = {m.target.rpartition("/")[0] for m in moves}
    out = []
    for folder in sorted(_dirs(root), key=len, reverse=True):
        if folder in arriving:
            continue
        inside = [p for p in (root / folder).rglob("*") if p.is_file()]
        rest = [p for p in inside if p.relative_to(root).as_posix() not in leaving]
        if inside and not rest:
            out.append(folder)
    return sorted(out)


def undo(manifest: Path, *, dry_run: bool = False) -> list[str]:
    """Moves every file back; returns what it did (or would do). Refuses changed files."""
    record = read_json(manifest, "backup manifest")
    root = Path(record["root"])
    entries = record["moves"]
    problems = []
    for entry in entries:
        here = root / entry["to"]
        if not here.is_file():
            problems.append(f"{here} is missing")
        elif _sha256(here) != entry["sha256"]:
            problems.append(f"{here} changed since it was moved")
        elif (root / entry["from"]).exists():
            problems.append(f"{root / entry['from']} exists again")
    if problems:
        raise MwwError("cannot undo: " + "; ".join(problems[:5]) + " (nothing was moved)")
    done = [f"{e['to']} -> {e['from']}" for e in entries]
    if dry_run:
        return done
    for folder in record.get("removed_dirs", []):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for entry in reversed(entries):
        os.rename(root / entry["to"], root / entry["from"])
    for folder in sorted(record.get("created_dirs", []), key=len, reverse=True):
        path = root / folder
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    manifest = Path(manifest)
    manifest.rename(manifest.with_name(manifest.name.removesuffix(".json") + UNDONE_SUFFIX))
    return done


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
