"""Group by speaker: which takes are unlabelled, the cluster job's spec, and applying its groups.

A take is unlabelled when nobody said who spoke it: an uploaded or imported wake word or
sound-alike filed under the speaker "upload" (or "unknown", or none). Browser and satellite
takes, synthetic clips and room recordings keep the speaker they came with.

Applying a grouping gives each group a speaker ("voice 1", or the name the user typed): the rows
in the sample store and the files' folders (training reads the speaker from the folder), and
the moved files are forgotten by the project's split file, so the next training splits them by
their new speaker. The undo record is written before anything moves; the latest apply can be
undone (files, rows and split file back as they were).
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from addon.errors import bad_request, conflict
from addon.samples import check_speaker, speaker_folder
from addon.store import Job, Project, ProjectLayout, Sample, SampleFilter, Store
from mww_trainer.fileio import atomic_write_text, sha256_file
from mww_trainer.job_specs import ClusterSpec, spec_to_dict

UNLABELLED_SPEAKERS = ("", "upload", "unknown")
GROUPED_LABELS = ("positive", "hard_negative")  # split by speaker in training
KNOWN_SOURCES = ("browser", "satellite", "synthetic", "room", "recorded")  # speaker known
MAX_GROUPS = 50
UNDO_FILE = "speaker_groups_undo.json"
SPLIT_FILE = "split.json"  # mww_trainer.pipeline.SPLIT_FILE_NAME, in the processed folder
GROUP_NAME = "voice {n}"


def is_unlabelled(sample: Sample) -> bool:
    return (
        sample.label in GROUPED_LABELS
        and sample.source not in KNOWN_SOURCES
        and sample.speaker.strip().lower() in UNLABELLED_SPEAKERS
    )


async def unlabelled(store: Store, project_id: int) -> list[Sample]:
    samples = []
    for label in GROUPED_LABELS:
        found = await store.matching_samples(project_id, SampleFilter(label=label))
        samples += [s for s in found if is_unlabelled(s)]
    return sorted(samples, key=lambda s: s.id)


def group_request(data: dict[str, Any]) -> dict[str, Any]:
    """The stored request: a count of groups, or None for the suggested one."""
    count = data.get("n_clusters")
    if count in (None, ""):
        return {"n_clusters": None}
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_GROUPS:
        raise bad_request(
            f"n_clusters: {count!r:.40} is not allowed (a whole number from 1 to {MAX_GROUPS}, "
            "or leave it empty for the suggested count)"
        )
    return {"n_clusters": count}


def cluster_spec(request: dict[str, Any], samples: list[Sample], layout: ProjectLayout) -> dict:
    """job.json of a cluster job: every unlabelled take's file, by sample id."""
    if not samples:
        raise bad_request(
            "no unlabelled takes: every wake word and sound-alike already has a speaker"
        )
    count = request.get("n_clusters")
    if count is not None and count > len(samples):
        raise bad_request(
            f"{count} groups asked for {len(samples)} unlabelled takes; give a smaller count"
        )
    clips = {str(s.id): str(layout.root / s.path) for s in samples}
    return spec_to_dict(ClusterSpec(clips, n_clusters=count))


def group_names(count: int, taken: set[str], given: list[Any] | None) -> list[str]:
    """A speaker name for each group: the user's, else the first free "voice N"."""
    given = list(given or [])
    if len(given) > count:
        raise bad_request(f"names: {len(given)} names for {count} groups")
    chosen = [check_speaker(str(n)) if str(n or "").strip() else "" for n in given]
    folders = [speaker_folder(n) for n in chosen if n]
    if len(set(folders)) != len(folders):
        raise bad_request("names: two groups have the same name; give each voice its own")
    used = {speaker_folder(n) for n in taken if n.strip()} | set(folders)
    names, number = [], 1
    for index in range(count):
        if index < len(chosen) and chosen[index]:
            names.append(chosen[index])
            continue
        while speaker_folder(GROUP_NAME.format(n=number)) in used:
            number += 1
        names.append(GROUP_NAME.format(n=number))
        used.add(speaker_folder(names[-1]))
    return names


def check_cluster_job(job: Job | None, project: Project) -> dict[str, Any]:
    if job is None or job.project_id != project.id or job.kind != "cluster":
        raise bad_request("job: not a Group by speaker job of this wake word")
    if job.state != "succeeded" or not job.result:
        raise conflict(f"job {job.id} is {job.state}; apply a grouping once it has succeeded")
    return job.result


def plan_moves(
    layout: ProjectLayout, groups: list[dict], names: list[str], samples: dict[int, Sample]
) -> list[dict[str, Any]]:
    """Each still unlabelled sample of each group: its speaker and path, before and after."""
    moves = []
    for group, name in zip(groups, names, strict=True):
        for sample_id in group["sample_ids"]:
            sample = samples.get(int(sample_id))
            if sample is None or not is_unlabelled(sample):  # deleted or named since
                continue
            folder = layout.label_dir(sample.label) / speaker_folder(name)
            target = (folder / PurePosixPath(sample.path).name).relative_to(layout.root)
            moves.append(
                {
                    "id": sample.id,
                    "speaker": [sample.speaker, name],
                    "path": [sample.path, target.as_posix()],
                }
            )
    return moves


def apply_moves(layout: ProjectLayout, record: dict[str, Any]) -> None:
    """Writes the undo record, forgets the files' split places, then moves them (blocking)."""
    split = layout.processed / SPLIT_FILE
    record["split"] = _forget_placements(layout, split, [m["path"][0] for m in record["moves"]])
    atomic_write_text(layout.root / UNDO_FILE, json.dumps(record, indent=1) + "\n")
    _move_files(layout, [(m["path"][0], m["path"][1]) for m in record["moves"]])
    _write_split(split, record["split"], remove=True)


def read_undo(layout: ProjectLayout) -> dict[str, Any]:
    try:
        return json.loads((layout.root / UNDO_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise conflict("there is no grouping to undo") from None


def undo_moves(layout: ProjectLayout, record: dict[str, Any], current: dict[int, Sample]) -> list:
    """Moves back the files still where the apply put them; returns their rows' old places."""
    back = [
        m
        for m in record["moves"]
        if (s := current.get(int(m["id"]))) is not None and s.path == m["path"][1]
    ]
    _move_files(layout, [(m["path"][1], m["path"][0]) for m in back])
    _write_split(layout.processed / SPLIT_FILE, record.get("split") or {}, remove=False)
    (layout.root / UNDO_FILE).unlink(missing_ok=True)
    return [(int(m["id"]), m["speaker"][0], m["path"][0]) for m in back]


def _move_files(layout: ProjectLayout, pairs: list[tuple[str, str]]) -> None:
    for source, target in pairs:
        old, new = layout.root / source, layout.root / target
        new.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, new)  # a rename: the bytes never change
        if old.parent.is_dir() and not any(old.parent.iterdir()):
            old.parent.rmdir()


def _forget_placements(layout: ProjectLayout, split: Path, paths: list[str]) -> dict[str, str]:
    """The split file's placements of these files (by content hash), to be removed."""
    if not split.is_file():
        return {}
    placed = json.loads(split.read_text(encoding="utf-8")).get("files", {})
    out = {}
    for path in paths:
        sha = sha256_file(layout.root / path)
        if sha in placed:
            out[sha] = placed[sha]
    return out


def _write_split(split: Path, entries: dict[str, str], *, remove: bool) -> None:
    if not entries or not split.is_file():
        return
    data = json.loads(split.read_text(encoding="utf-8"))
    files = data.setdefault("files", {})
    for sha, place in entries.items():
        if remove:
            files.pop(sha, None)
        else:
            files[sha] = place
    atomic_write_text(split, json.dumps(data, indent=1) + "\n")
