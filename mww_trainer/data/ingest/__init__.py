"""Discover the dataset, check every file, and split it train/val/test by speaker.

    dataset = ingest(config.paths, split_file=processed / "split.json")
    print(dataset.summary())
    train_positives = dataset.select(Role.POSITIVE, Split.TRAIN)

Bad files are reported (Dataset.problems) and skipped; the run goes on. Nothing in the
dataset folders is written: the split is remembered in split_file, which must lie elsewhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mww_trainer.config.types import PathsConfig
from mww_trainer.data.ingest.model import (
    LONG_ROLES,
    ROOT_SPEAKER,
    SKIP,
    SPEAKER_ROLES,
    Clip,
    Dataset,
    Limits,
    Problem,
    Role,
    Split,
    speaker_leakage,
)
from mww_trainer.data.ingest.origin import HUMAN, origin_of, read_manifest
from mww_trainer.data.ingest.scan import Candidate, Inspection, discover, inspect_file, speaker_of
from mww_trainer.data.ingest.split import Unit, assign, check_ratios, load_state, save_state
from mww_trainer.errors import ConfigError
from mww_trainer.progress import ProgressCallback, ProgressEvent, Stage, ignore_progress

__all__ = [
    "LONG_ROLES",
    "SPEAKER_ROLES",
    "Clip",
    "Dataset",
    "Limits",
    "Problem",
    "Role",
    "Split",
    "ingest",
    "speaker_leakage",
]

DEFAULT_RATIOS = (0.8, 0.1, 0.1)
_REQUIRED = {
    Role.POSITIVE: "your wake word recordings, one sub-folder per speaker",
    Role.NEGATIVE: "speech and sounds that are not the wake word",
}
_PROGRESS_STEPS = 100  # events per run at most, so a huge dataset does not flood the log


def ingest(
    paths: PathsConfig,
    *,
    split_file: Path,
    ratios: Iterable[float] = DEFAULT_RATIOS,
    speaker_map: Mapping[str, str] | None = None,
    limits: Limits | None = None,
    workers: int | None = None,
    on_progress: ProgressCallback = ignore_progress,
    audit: Callable[[Dataset], list[str]] | None = None,
) -> Dataset:
    """Usable clips with their split, and every problem found.

    speaker_map maps Clip.relpath ("positive/alice/001.wav") to a speaker, overriding folders.
    limits defaults to Limits(); pass Limits.from_hardware(config.hardware) to use the job's
    clip length. workers: threads that hash and probe files (I/O bound). audit: listens to
    the split dataset and returns notes (speakers.leakage.leakage_audit: one voice under two
    names in two splits).
    """
    checked_ratios = check_ratios(ratios)
    roots = _role_roots(paths)
    packs = _pack_roots(paths)
    split_file = Path(split_file)
    _refuse_inside(split_file, [*roots.values(), *packs.values()])
    candidates = [c for role, root in roots.items() for c in discover(root, role)]
    candidates += [
        c for prefix, root in packs.items() for c in discover(root, Role.NEGATIVE, prefix)
    ]
    inspections = _inspect_all(candidates, limits or Limits(), workers, on_progress)
    usable, problems = _drop_duplicates(inspections)
    speakers = {i.candidate.relpath: speaker_of(i.candidate, speaker_map) for i in usable}
    origins = _origins(usable, roots.values())
    units = [
        Unit(
            i.sha256,
            i.candidate.role,
            speakers[i.candidate.relpath],
            i.info.duration_s,
            origins[i.candidate.relpath],
        )
        for i in usable
    ]
    state = load_state(split_file)
    splits, split_notes = assign(units, state, checked_ratios)
    save_state(split_file, state, checked_ratios)
    clips = tuple(
        _clip(i, speakers[i.candidate.relpath], splits[i.sha256], origins[i.candidate.relpath])
        for i in usable
    )
    leaks = speaker_leakage(Dataset(clips=clips))
    if leaks and not split_notes:
        # Not the few-speakers case: speakers were regrouped after files had been placed.
        leaks.append(f"earlier runs placed these files; delete {split_file} to split anew")
    if audit is not None:
        leaks += audit(Dataset(clips=clips))
    notes = (*_root_note(clips), *split_notes, *leaks)
    return Dataset(clips=clips, problems=tuple(problems), notes=notes)


def _role_roots(paths: PathsConfig) -> dict[Role, Path]:
    configured = {
        Role.POSITIVE: ("positive_dir", paths.positive_dir),
        Role.NEGATIVE: ("negative_dir", paths.negative_dir),
        Role.HARD_NEGATIVE: ("hard_negative_dir", paths.hard_negative_dir),
        Role.BACKGROUND: ("background_dir", paths.background_dir),
        Role.RIR: ("rir_dir", paths.rir_dir),
    }
    roots = {}
    for role, (key, folder) in configured.items():
        root = Path(folder)
        if root.is_dir():
            roots[role] = root
        elif role in _REQUIRED:
            raise ConfigError(
                f"paths.{key}: folder {root} does not exist; create it and put "
                f"{_REQUIRED[role]} in it (WAV, FLAC or OGG)"
            )
    return roots


def _pack_roots(paths: PathsConfig) -> dict[str, Path]:
    """Speech-pack folders by the relpath prefix their files get (``packs/<i>-<name>/``)."""
    roots = {}
    for index, folder in enumerate(paths.negative_pack_dirs):
        root = Path(folder)
        if not root.is_dir():
            raise ConfigError(
                f"paths.negative_pack_dirs[{index}]: folder {root} does not exist; fetch the "
                "speech pack again (mww-packs fetch) or remove it from the list"
            )
        roots[f"packs/{index}-{root.name}/"] = root
    return roots


def _origins(usable: list[Inspection], roots: Iterable[Path]) -> dict[str, str]:
    """relpath -> origin family of every usable file (see ingest.origin)."""
    listed: dict[str, str] = {}
    for root in {Path(r).parent for r in roots}:
        listed |= {str(root / rel): family for rel, family in read_manifest(root).items()}
    out = {}
    for inspection in usable:
        candidate = inspection.candidate
        family = listed.get(str(candidate.path))
        if family is None and candidate.relpath.startswith(f"{Role.NEGATIVE.value}/packs/"):
            family = HUMAN
        out[candidate.relpath] = family or origin_of(candidate.relpath).family
    return out


def _refuse_inside(split_file: Path, roots: Iterable[Path]) -> None:
    target = split_file.resolve()
    for root in roots:
        if target.is_relative_to(root.resolve()):
            raise ConfigError(
                f"split file {split_file} lies inside the dataset folder {root}; "
                "put it in the processed folder: the dataset is never written to"
            )


def _inspect_all(
    candidates: list[Candidate],
    limits: Limits,
    workers: int | None,
    on_progress: ProgressCallback,
) -> list[Inspection]:
    total = len(candidates)
    every = max(1, total // _PROGRESS_STEPS)
    start = time.monotonic()
    results = []
    # Threads, not processes: hashing and libsndfile release the GIL; the work is mostly I/O.
    with ThreadPoolExecutor(max_workers=workers or min(32, 4 * (os.cpu_count() or 1))) as pool:
        for done, result in enumerate(pool.map(inspect_file, candidates, [limits] * total), 1):
            results.append(result)
            if done % every == 0 or done == total:
                rate = done / max(time.monotonic() - start, 1e-9)
                message = f"checked {done}/{total} files ({rate:.0f} files/s)"
                on_progress(
                    ProgressEvent(stage=Stage.INGEST, done=done, total=total, message=message)
                )
    return results


def _drop_duplicates(inspections: list[Inspection]) -> tuple[list[Inspection], list[Problem]]:
    """Usable inspections with unique content, and all problems (duplicates included)."""
    first: dict[str, str] = {}
    usable, problems = [], []
    for inspection in inspections:
        problems.extend(inspection.problems)
        if not inspection.usable:
            continue
        relpath = inspection.candidate.relpath
        if inspection.sha256 in first:
            reason = f"{relpath}: same content as {first[inspection.sha256]}; the copy is skipped"
            problems.append(Problem(inspection.candidate.path, reason, SKIP))
            continue
        first[inspection.sha256] = relpath
        usable.append(inspection)
    return usable, problems


def _clip(inspection: Inspection, speaker: str, split: Split, origin: str) -> Clip:
    info = inspection.info
    assert info is not None  # only usable inspections reach here
    return Clip(
        path=inspection.candidate.path,
        relpath=inspection.candidate.relpath,
        role=inspection.candidate.role,
        speaker=speaker,
        split=split,
        duration_s=info.duration_s,
        sha256=inspection.sha256,
        rate_hz=info.rate_hz,
        channels=info.channels,
        origin=origin,
    )


def _root_note(clips: tuple[Clip, ...]) -> list[str]:
    at_root = sum(c.role == Role.POSITIVE and c.speaker == ROOT_SPEAKER for c in clips)
    if not at_root:
        return []
    return [
        f"{at_root} positive file(s) lie directly in the positive folder: they count as one "
        f"speaker {ROOT_SPEAKER!r} and cannot be kept apart by speaker; move each speaker's "
        "recordings into its own sub-folder"
    ]
