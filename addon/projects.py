"""Wake-word projects: what a valid one is, and moving one in and out as a zip.

A project zip holds `metadata.json` (the project and one entry per sample) and the clips under
`dataset/...`; import checks every member before anything lands in the data folder.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from addon.errors import bad_request
from addon.samples import check_speaker, clip_or_reason, extract_member, file_clip, open_checked_zip
from addon.store import LABEL_DIRS, SOURCES, NewSample, Project, ProjectLayout, Sample
from mww_trainer import naming

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
ARCHIVE_FORMAT = "mww-trainer-project"
ARCHIVE_VERSION = 1
METADATA_NAME = "metadata.json"
MAX_METADATA_BYTES = 16 * 2**20  # ~60 000 samples' entries; checked before it is read
_PHRASE_PUNCTUATION = set(" '-’")
# Sentence punctuation has no sound: "Hey Computer!" is the wake word "Hey Computer".
_SILENT_PUNCTUATION = re.compile(r"[.,!?;:]")
MAX_PHRASE_CHARS = 64


def check_project_fields(data: Any, *, default_author: str | None) -> dict[str, Any]:
    """The fields of a new project, validated; every error names the field and how to fix it."""
    if not isinstance(data, dict):
        raise bad_request("expected a JSON object with phrase, language, author and website")
    phrase = data.get("phrase")
    if not isinstance(phrase, str) or not phrase.strip():
        raise bad_request("phrase: give the wake word, e.g. 'hey computer'")
    given = phrase
    phrase = " ".join(_SILENT_PUNCTUATION.sub(" ", unicodedata.normalize("NFC", phrase)).split())
    if not phrase:
        raise bad_request(
            f"phrase: {given.strip()[:40]!r} has no letters or digits; give the wake word, "
            "e.g. 'hey computer'"
        )
    if len(phrase) > MAX_PHRASE_CHARS:
        raise bad_request(f"phrase: {len(phrase)} characters; at most {MAX_PHRASE_CHARS}")
    for char in phrase:
        if not (char.isalnum() or char in _PHRASE_PUNCTUATION):
            raise bad_request(
                f"phrase: {char!r} is not allowed in a wake word; use letters, digits, spaces, "
                "hyphens and apostrophes (what you would say, spelled out)"
            )
    for name in ("slug", "language", "author", "website"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise bad_request(
                f"{name}: give text, not {type(data[name]).__name__} {data[name]!r:.40}"
            )
    slug = (data.get("slug") or "").strip() or naming.slug(phrase)
    if not SLUG_PATTERN.match(slug):
        raise bad_request(
            f"slug: {slug!r} cannot name the model files; it must be 1-63 characters of a-z, 0-9 "
            "and '_', starting with a letter or digit (give one in the slug field)"
        )
    language = (data.get("language") or "en").strip().lower()
    if not LANGUAGE_PATTERN.match(language):
        raise bad_request(f"language: {language!r} is not a language code like 'en' or 'en-us'")
    author = (data.get("author") or default_author or "").strip() or "mww-trainer"
    website = (data.get("website") or "").strip() or None
    if website is not None:
        parsed = urlparse(website)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in website:
            raise bad_request(f"website: {website!r} must be an http(s) URL or left empty")
    return {
        "slug": slug,
        "phrase": phrase,
        "language": language,
        "author": author,
        "website": website,
    }


# --- export --------------------------------------------------------------------------------------


def write_project_zip(layout: ProjectLayout, project: Project, samples: list[Sample], out: Path):
    """The project and its clips as one zip (metadata.json + dataset/...)."""
    metadata = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "project": {k: v for k, v in project.to_dict().items() if k != "id"},
        "samples": [
            {k: v for k, v in s.to_dict().items() if k not in ("id", "project_id")} for s in samples
        ],
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(METADATA_NAME, json.dumps(metadata, indent=1, ensure_ascii=False))
        for sample in samples:
            archive.write(layout.root / sample.path, sample.path)


# --- import --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedImport:
    """A checked project, its clips already converted into a staging folder."""

    fields: dict[str, Any]
    staging: Path
    samples: list[NewSample]


def stage_project_zip(
    path: Path, tmp_dir: Path, max_bytes: int, *, slug: str | None, user: str | None
) -> StagedImport:
    """Checks every member of a project zip and converts its clips into a staging folder.

    Refuses the whole zip (nothing staged) on the first problem: an unsafe or unexpected
    member, metadata that does not describe the files, or a clip that is not readable audio.
    """
    staging = tmp_dir / f"import_{uuid.uuid4().hex}"
    layout = ProjectLayout(staging)
    try:
        with open_checked_zip(path, max_bytes) as archive:
            metadata = _read_metadata(archive)
            fields = dict(metadata["project"])
            if slug:
                fields["slug"] = slug
            created_at = fields.get("created_at")
            fields = check_project_fields(fields, default_author=user) | {
                "created_by": str(fields["created_by"]) if fields.get("created_by") else None,
                "created_at": created_at if isinstance(created_at, int | float) else None,
            }
            entries = _entries(archive, metadata["samples"])
            samples = []
            scratch = staging / "scratch"
            scratch.mkdir(parents=True)
            for info, entry in entries:
                member = extract_member(archive, info, scratch)
                clip = clip_or_reason(member, entry["label"], trim=False, shown_as=info.filename)
                member.unlink()
                if isinstance(clip, str):
                    raise bad_request(f"import refused: {clip}")
                samples.append(
                    file_clip(
                        layout,
                        clip,
                        label=entry["label"],
                        speaker=entry["speaker"],
                        source=entry["source"],
                        user=entry.get("created_by"),
                    )
                )
            shutil.rmtree(scratch)
        return StagedImport(fields, staging, samples)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _read_metadata(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        info = archive.getinfo(METADATA_NAME)
    except KeyError:
        raise bad_request(
            f"import refused: the zip has no {METADATA_NAME}; is it a project export?"
        ) from None
    if info.file_size > MAX_METADATA_BYTES:
        raise bad_request(
            f"import refused: {METADATA_NAME} unpacks to {info.file_size / 2**20:.0f} MiB; "
            f"an export's is at most {MAX_METADATA_BYTES // 2**20} MiB"
        )
    try:
        with archive.open(info) as member:  # the size in the header may lie: read one more
            raw = member.read(MAX_METADATA_BYTES + 1)
        if len(raw) > MAX_METADATA_BYTES:
            raise bad_request(f"import refused: {METADATA_NAME} is larger than it says")
        metadata = json.loads(raw)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise bad_request(
            f"import refused: {METADATA_NAME} is damaged in the zip ({exc})"
        ) from None
    except (ValueError, RecursionError) as exc:  # JSON errors, huge numbers, deep nesting
        reason = str(exc)[:120] if isinstance(exc, ValueError) else "nested too deeply"
        raise bad_request(f"import refused: {METADATA_NAME} is not valid JSON ({reason})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != ARCHIVE_FORMAT:
        raise bad_request(f"import refused: {METADATA_NAME} is not an mww-trainer project export")
    if metadata.get("version") != ARCHIVE_VERSION:
        raise bad_request(
            f"import refused: export format version {metadata.get('version')!r}; this add-on "
            f"reads version {ARCHIVE_VERSION}"
        )
    if not isinstance(metadata.get("project"), dict) or not isinstance(
        metadata.get("samples"), list
    ):
        raise bad_request(f"import refused: {METADATA_NAME} lacks 'project' or 'samples'")
    return metadata


def _entries(archive: zipfile.ZipFile, samples: list[Any]) -> list[tuple[zipfile.ZipInfo, dict]]:
    members = {i.filename: i for i in archive.infolist() if not i.is_dir()}
    folders = {folder: label for label, folder in LABEL_DIRS.items()}
    entries, listed = [], {METADATA_NAME}
    for n, entry in enumerate(samples):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise bad_request(f"import refused: samples[{n}] has no path")
        parts = PurePosixPath(entry["path"]).parts
        label = entry.get("label")
        if len(parts) < 3 or parts[0] != "dataset" or folders.get(parts[1]) != label:
            raise bad_request(
                f"import refused: samples[{n}] path {entry['path']!r} does not lie in "
                f"dataset/<label folder>/ for its label {label!r}"
            )
        if entry["path"] not in members:
            raise bad_request(f"import refused: {entry['path']!r} is listed but not in the zip")
        if entry.get("source") not in SOURCES:
            raise bad_request(
                f"import refused: samples[{n}] source {entry.get('source')!r} unknown"
            )
        check_speaker(str(entry.get("speaker", "")))
        listed.add(entry["path"])
        entries.append((members[entry["path"]], entry))
    extra = sorted(set(members) - listed)
    if extra:
        raise bad_request(f"import refused: files not described in {METADATA_NAME}: {extra[:5]}")
    return entries
