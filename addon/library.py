"""The sample library: what the routes call to add, list, delete and move samples and projects.

Blocking audio and file work runs in threads; database rows and files change together so that
a crash leaves either both or a file without a row (harmless, never a row without its file).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from addon import deleted, projects
from addon.errors import UserError, conflict
from addon.housekeeping import set_aside_orphans
from addon.progress import Broadcaster
from addon.samples import (
    Clip,
    audio_members,
    check_speaker,
    clip_or_reason,
    extract_member,
    file_clip,
    open_checked_zip,
    prepare_clip,
)
from addon.store import (
    LABELS,
    RECORDED_SOURCE,
    Job,
    NewSample,
    Project,
    ProjectLayout,
    Sample,
    Store,
)
from addon.targets import Amounts, below_minimum, progress
from mww_trainer.packs import PackCache

_LOGGER = logging.getLogger(__name__)
SYNTH_MANIFEST = "synth_manifest.json"  # mww_trainer.synth's MANIFEST_NAME (its import is heavy)
HUMAN = "human"  # a manifest's engine for people's recordings (mww_trainer.synth.recorded)
SYNTH_FOLDERS = {
    "positive": "positive",
    "hard_negative": "hard_negative",
    "negative": "negative",
    "background": "background",
    "rir": "rirs",
}


@dataclass(frozen=True)
class Added:
    samples: list[Sample]
    skipped: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"added": [s.to_dict() for s in self.samples], "skipped": self.skipped}


class Library:
    def __init__(
        self,
        store: Store,
        projects_dir: Path,
        tmp_dir: Path,
        broadcaster: Broadcaster,
        max_upload_bytes: int,
        *,
        packs: PackCache | None = None,
    ):
        self.store, self.projects_dir, self.tmp_dir = store, projects_dir, tmp_dir
        self.broadcaster, self.max_upload_bytes = broadcaster, max_upload_bytes
        self.packs = packs  # installed speech packs count as other speech
        self.orphaned: list[str] = []  # folders set aside at start-up, as "from -> to" lines

    async def set_aside_orphans(self, orphan_dir: Path) -> list[str]:
        """Project folders the database does not know go to orphan_dir (see housekeeping)."""
        known = {p.slug for p in await self.store.list_projects()}
        moved = await asyncio.to_thread(set_aside_orphans, self.projects_dir, known, orphan_dir)
        for line in moved:
            _LOGGER.warning("a project folder the database does not know was set aside: %s", line)
        self.orphaned = moved
        return moved

    async def create_project(self, fields: dict[str, Any]) -> Project:
        """A new, empty project: never on top of a folder left from before."""
        root = self.layout(fields["slug"]).root
        if await self.store.get_project(fields["slug"]) is None and root.exists():
            raise conflict(
                f"projects/{fields['slug']} already exists although no wake word has that name; "
                "move the folder away (or import its export) before creating it again"
            )
        project = await self.store.create_project(fields)
        await asyncio.to_thread(self.layout(project).dataset.mkdir, parents=True, exist_ok=True)
        return project

    def layout(self, project: Project | str) -> ProjectLayout:
        slug = project if isinstance(project, str) else project.slug
        return ProjectLayout(self.projects_dir / slug)

    async def project(self, slug: str) -> Project:
        project = await self.store.get_project(slug)
        if project is None:
            raise UserError(404, f"wake word {slug[:64]!r} not found")
        return project

    async def summary(self, project: Project) -> dict[str, Any]:
        """The project with its counts, each target with what it has, and what is missing."""
        counts = await self.store.sample_counts(project.id)
        pack_hours = await asyncio.to_thread(self.packs.speech_hours) if self.packs else 0.0
        amounts = Amounts(
            clips={label: c["count"] for label, c in counts.items()},
            recorded_positives=await self.store.recorded_positives(project.id),
            negative_s=counts["negative"]["duration_s"] or 0.0,
            pack_hours=pack_hours,
        )
        targets = progress(amounts)
        return {
            **project.to_dict(),
            "counts": counts,
            "targets": targets,
            "below_minimum": below_minimum(targets),
        }

    # --- adding ------------------------------------------------------------------------------

    async def add_file(
        self,
        project: Project,
        path: Path,
        *,
        filename: str,
        label: str,
        speaker: str,
        source: str,
        trim: bool,
        user: str | None,
    ) -> Added:
        clip = await asyncio.to_thread(clip_or_reason, path, label, trim=trim, shown_as=filename)
        if isinstance(clip, str):
            raise UserError(415, clip)
        same = await self.store.find_sha(project.id, clip.sha256)
        if same is not None:
            raise conflict(f"{filename}: the same audio is already sample {same.id} ({same.label})")
        return await self._file(project, [(clip, speaker)], label, source, user, [])

    async def add_zip(
        self,
        project: Project,
        path: Path,
        *,
        label: str,
        speaker: str | None,
        source: str,
        trim: bool,
        user: str | None,
    ) -> Added:
        """Every audio file of a zip into one label; a member's first folder names its speaker."""
        work = self.tmp_dir / f"zip_{uuid.uuid4().hex}"
        work.mkdir(parents=True)
        try:
            clips, skipped = await asyncio.to_thread(
                self._decode_zip, path, work, label, speaker, trim
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        unique, seen = [], set()
        for clip, name in clips:
            same = await self.store.find_sha(project.id, clip.sha256)
            if same is not None or clip.sha256 in seen:
                skipped.append(f"{name}: the same audio is already in the library")
                continue
            seen.add(clip.sha256)
            unique.append((clip, name))
        return await self._file(project, [(c, s) for c, s in unique], label, source, user, skipped)

    def _decode_zip(self, path: Path, work: Path, label: str, speaker: str | None, trim: bool):
        clips, skipped = [], []
        with open_checked_zip(path, self.max_upload_bytes) as archive:
            for info in audio_members(archive):
                try:
                    member = extract_member(archive, info, work)
                except UserError as exc:  # damaged in the zip: skipped, like unreadable audio
                    skipped.append(exc.message)
                    continue
                clip = clip_or_reason(member, label, trim=trim, shown_as=info.filename)
                member.unlink()
                if isinstance(clip, str):
                    skipped.append(clip)
                    continue
                parts = PurePosixPath(info.filename).parts
                who = speaker or (parts[0] if len(parts) > 1 else "upload")
                try:
                    clips.append((clip, check_speaker(who)))
                except UserError:
                    clips.append((clip, "upload"))
        return clips, skipped

    async def _file(
        self,
        project: Project,
        clips: list[tuple[Clip, str]],
        label: str,
        source: str,
        user: str | None,
        skipped: list[str],
    ) -> Added:
        layout = self.layout(project)

        def write() -> list[NewSample]:
            return [
                file_clip(layout, clip, label=label, speaker=who, source=source, user=user)
                for clip, who in clips
            ]

        new = await asyncio.to_thread(write)
        samples = await self.store.add_samples(project.id, new) if new else []
        if samples:
            self.broadcaster.publish({"type": "samples", "project": project.slug})
        return Added(samples, skipped)

    async def file_synthesised(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        """A synth job's finisher: its clips become the project's samples (source synthetic)."""
        project = await self.project(job.project_slug)
        layout = self.layout(project)
        out_dir = layout.job_dir(job.id) / "synth"

        def move() -> list[NewSample]:
            voices = _synth_voices(out_dir)
            new = []
            for label, folder in SYNTH_FOLDERS.items():
                for path in sorted((out_dir / folder).rglob("*.wav")):
                    voice, engine = voices.get(path.relative_to(out_dir).as_posix(), (None, None))
                    if engine == HUMAN:  # people's recordings mww-synth joined: a person
                        speaker, source = voice or "recorded", RECORDED_SOURCE
                    else:
                        speaker, source = (f"synth {voice}" if voice else "synthetic"), "synthetic"
                    clip = prepare_clip(path, label)
                    new.append(
                        file_clip(
                            layout,
                            clip,
                            label=label,
                            speaker=speaker,
                            source=source,
                            user=job.created_by,
                        )
                    )
            shutil.rmtree(out_dir, ignore_errors=True)
            return new

        new = await asyncio.to_thread(move)
        await self.store.add_samples(project.id, new)
        self.broadcaster.publish({"type": "samples", "project": project.slug})
        return {**{k: v for k, v in result.items() if k != "paths"}, "filed": len(new)}

    # --- removing ----------------------------------------------------------------------------

    async def delete_sample(self, project: Project, sample: Sample) -> None:
        await self.store.delete_sample(sample.id)
        await asyncio.to_thread(_unlink, self.layout(project).root / sample.path)
        self.broadcaster.publish({"type": "samples", "project": project.slug})

    async def delete_samples(self, project: Project, samples: list[Sample]) -> str:
        """Deletes the samples together; returns the token that undoes it (the latest only)."""
        root, token = self.layout(project).root, uuid.uuid4().hex[:16]
        await asyncio.to_thread(deleted.set_aside, root, token, samples)
        await self.store.delete_samples([s.id for s in samples])
        await asyncio.to_thread(deleted.move_files, root, token, samples)
        self.broadcaster.publish({"type": "samples", "project": project.slug})
        return token

    async def undo_delete(self, project: Project, token: str) -> int:
        """Puts back the samples of the project's latest delete; how many came back."""
        samples = await asyncio.to_thread(deleted.take_back, self.layout(project).root, token)
        if samples is None:
            raise conflict(
                "that delete can no longer be undone: only the latest delete of a wake word can"
            )
        await self.store.restore_samples(project.id, samples)
        self.broadcaster.publish({"type": "samples", "project": project.slug})
        return len(samples)

    async def delete_project(self, project: Project) -> None:
        """The row first (the project disappears at once), then its folder."""
        await self.store.delete_project(project.id)
        root = self.layout(project).root
        if root.exists():
            trash = self.tmp_dir / f"deleted_{project.slug}_{uuid.uuid4().hex}"
            await asyncio.to_thread(os.replace, root, trash)
            await asyncio.to_thread(shutil.rmtree, trash, True)
        self.broadcaster.publish({"type": "projects"})

    # --- project zips ------------------------------------------------------------------------

    async def export_zip(self, project: Project) -> Path:
        samples = await self.store.list_samples(project.id)
        out = self.tmp_dir / f"export_{project.slug}_{uuid.uuid4().hex}.zip"
        try:
            await asyncio.to_thread(
                projects.write_project_zip, self.layout(project), project, samples, out
            )
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        return out

    async def import_zip(self, path: Path, *, slug: str | None, user: str | None) -> Project:
        staged = await asyncio.to_thread(
            projects.stage_project_zip,
            path,
            self.tmp_dir,
            self.max_upload_bytes,
            slug=slug,
            user=user,
        )
        target = self.layout(staged.fields["slug"]).root
        try:
            if await self.store.get_project(staged.fields["slug"]) or target.exists():
                raise conflict(
                    f"a wake word named {staged.fields['slug']!r} already exists; give another "
                    "model name in 'Import as' and import again"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged.staging, target)
        except BaseException:
            shutil.rmtree(staged.staging, ignore_errors=True)
            raise
        try:
            fields = {**staged.fields, "created_by": staged.fields.get("created_by") or user}
            project = await self.store.create_project(fields, staged.samples)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        self.broadcaster.publish({"type": "projects"})
        return project


def _synth_voices(out_dir: Path) -> dict[str, tuple[str, str | None]]:
    """The voice (its speaker) and engine of each synthesised file, from the synth manifest."""
    try:
        manifest = json.loads((out_dir / SYNTH_MANIFEST).read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {
        entry["path"]: (entry["voice"], entry.get("engine"))
        for entry in manifest.get("files", [])
        if isinstance(entry, dict) and entry.get("voice") and entry.get("path")
    }


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
    folder = path.parent  # drop the speaker folder once it is empty
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


__all__ = ["LABELS", "Added", "Library"]
