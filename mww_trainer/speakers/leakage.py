"""Leakage audit: one person under two names in two splits makes every held-out figure rosy.

Ingest keeps speakers (folder names) apart across train / validation / test; this audit
listens: it embeds people's clips (synthetic voices are split by engine and not audited) and
flags two speakers in different splits whose voice prints (the mean of up to 12 clips'
embeddings) are as similar as the embedding model's same-voice mark (Embedder.same_voice).

    lines = audit_dataset(dataset, embedder)   # ["'bob' (val) sounds like 'alice' (train) ..."]
    ingest(..., audit=leakage_audit(config))    # the same lines among the dataset's notes
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mww_trainer.config.types import Config
from mww_trainer.data.ingest.model import SPEAKER_ROLES, Clip, Dataset
from mww_trainer.errors import MwwError
from mww_trainer.speakers.analyze import load_clip
from mww_trainer.speakers.embeddings import Embedder

CLIPS_PER_SPEAKER = 12  # enough for a stable voice print; keeps the audit to seconds
MAX_CLIP_S = 4.0


@dataclass(frozen=True)
class VoicePrint:
    speaker: str
    split: str
    centroid: np.ndarray
    cohesion: float  # mean similarity of the speaker's clips to its centroid
    clips: int


def audit_dataset(dataset: Dataset, embedder: Embedder) -> list[str]:
    """One line per pair of differently named speakers in two splits who sound the same."""
    prints = voice_prints(_people(dataset), embedder)
    out = []
    for i, a in enumerate(prints):
        for b in prints[i + 1 :]:
            if a.split == b.split or a.speaker == b.speaker:  # the latter: ingest says so
                continue
            similarity = float(a.centroid @ b.centroid)
            if similarity >= embedder.same_voice:
                out.append(
                    f"speaker leakage: {b.speaker!r} ({b.split}) sounds like {a.speaker!r} "
                    f"({a.split}), similarity {similarity:.2f}: if they are one person, put "
                    "their recordings in one folder (or run mww-cluster-analyze)"
                )
    return out


def _people(dataset: Dataset) -> dict[tuple[str, str], list[Clip]]:
    groups: dict[tuple[str, str], list[Clip]] = defaultdict(list)
    for clip in dataset.clips:
        if clip.role in SPEAKER_ROLES and clip.human:
            groups[clip.speaker, clip.split.value].append(clip)
    return groups


def voice_prints(groups: dict[tuple[str, str], list[Clip]], embedder: Embedder) -> list[VoicePrint]:
    out = []
    for (speaker, split), clips in sorted(groups.items()):
        chosen = sorted(clips, key=lambda c: c.sha256)[:CLIPS_PER_SPEAKER]
        vectors = embedder.embed([load_clip(c.path, MAX_CLIP_S) for c in chosen])
        centroid = vectors.mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        cohesion = float(np.mean(vectors @ centroid))
        out.append(VoicePrint(speaker, split, centroid, cohesion, len(chosen)))
    return out


def leakage_audit(config: Config) -> Callable[[Dataset], list[str]] | None:
    """Ingest's audit hook for this config: None when speaker_clustering turns it off.

    Without the clustering extra the audit says so in one note instead of failing the run.
    """
    section = config.speaker_clustering
    if not section.leakage_audit_enabled:
        return None

    def audit(dataset: Dataset) -> list[str]:
        if not _people(dataset):
            return []
        from mww_trainer.speakers.embeddings import load_embedder

        threads = config.performance.num_workers or None
        try:
            chosen = load_embedder(section.embedding_model, threads=threads)
        except MwwError as exc:
            return [f"speaker leakage audit skipped: {exc}"]
        return audit_dataset(dataset, chosen.embedder)

    return audit
