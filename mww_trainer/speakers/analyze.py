"""mww-cluster-analyze's work: a dataset folder's clips -> embeddings -> groups -> files.

    result = analyze_folder(root, "positive", embedder, settings)
    write_analysis(result, output_dir)  # positive_namelist.json, positive_cluster_report.txt

Nothing in the dataset is written; apply.py moves files once the user has read the report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from mww_trainer import constants
from mww_trainer.config.types import PathsConfig
from mww_trainer.data.ingest.model import Role
from mww_trainer.data.ingest.scan import discover
from mww_trainer.errors import AudioError, MwwError
from mww_trainer.fileio import atomic_write_text
from mww_trainer.progress import ProgressCallback, ProgressEvent, ignore_progress
from mww_trainer.speakers.clustering import Clustering, ClusterSettings, cluster
from mww_trainer.speakers.embeddings import Embedder
from mww_trainer.speakers.report import report_text

DATASETS = ("positive", "negative", "hard_negative")
NAMELIST_VERSION = 1
# A speaker's voice is in its first seconds; long negatives are not decoded whole.
MAX_EMBED_S = 10.0
_EMBED_BATCH = 32  # clips decoded and embedded together


@dataclass(frozen=True)
class Analysis:
    dataset: str
    root: Path
    files: tuple[str, ...]  # POSIX paths relative to root, in the order of labels
    durations_s: tuple[float, ...]
    clustering: Clustering
    embedding_note: str
    settings: ClusterSettings
    vectors: np.ndarray = field(repr=False)
    unreadable: tuple[str, ...] = ()
    seconds: float = 0.0

    def speaker(self, label: int) -> str:
        return f"speaker_{label:03d}"

    def namelist(self) -> dict:
        clusters = self.clustering
        return {
            "version": NAMELIST_VERSION,
            "dataset": self.dataset,
            "root": str(self.root.resolve()),
            "embedding": self.embedding_note,
            "n_clusters": clusters.n_clusters,
            "by_count": clusters.by_count,
            "similarity_threshold": self.settings.similarity_threshold,
            "files": {
                rel: self.speaker(int(label))
                for rel, label in zip(self.files, clusters.labels, strict=True)
            },
            "advice": list(clusters.advice),
        }


def dataset_root(paths: PathsConfig, dataset: str) -> Path:
    if dataset not in DATASETS:
        raise MwwError(f"--dataset {dataset!r}: one of {', '.join(DATASETS)} or all")
    return Path(getattr(paths, f"{dataset}_dir"))


def analyze_folder(
    root: Path,
    dataset: str,
    embedder: Embedder,
    settings: ClusterSettings,
    *,
    embedding_note: str = "",
    max_files: int | None = None,
    on_progress: ProgressCallback = ignore_progress,
) -> Analysis:
    """Every audio file under root (up to max_files, in a stable order), grouped by voice."""
    if not Path(root).is_dir():
        raise MwwError(f"{dataset} folder {root} does not exist; check paths.{dataset}_dir")
    start = time.monotonic()
    candidates = discover(Path(root), Role(dataset))[: max_files or None]
    files, durations, vectors, unreadable = [], [], [], []
    for first in range(0, len(candidates), _EMBED_BATCH):
        batch = candidates[first : first + _EMBED_BATCH]
        clips = []
        for candidate in batch:
            rel = candidate.path.relative_to(root).as_posix()
            try:
                clips.append(load_clip(candidate.path))
            except AudioError as exc:
                unreadable.append(f"{rel}: {exc}")
                continue
            files.append(rel)
            durations.append(len(clips[-1]) / constants.SAMPLE_RATE_HZ)
        if clips:
            vectors.append(embedder.embed(clips))
        done = min(first + _EMBED_BATCH, len(candidates))
        message = f"{dataset}: embedded {done}/{len(candidates)} clips"
        on_progress(ProgressEvent("cluster", done, len(candidates), message))
    if not files:
        raise MwwError(f"no readable audio in {root}; nothing to cluster")
    matrix = np.concatenate(vectors)
    result = cluster(matrix, settings, durations)
    return Analysis(
        dataset=dataset,
        root=Path(root),
        files=tuple(files),
        durations_s=tuple(durations),
        clustering=result,
        embedding_note=embedding_note,
        settings=settings,
        vectors=matrix,
        unreadable=tuple(unreadable),
        seconds=time.monotonic() - start,
    )


def load_clip(path: Path, max_s: float = MAX_EMBED_S) -> np.ndarray:
    """The first max_s seconds of a file as 16 kHz mono float32."""
    try:
        with sf.SoundFile(str(path)) as f:
            rate_hz = f.samplerate
            data = f.read(frames=int(max_s * rate_hz), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"cannot be read as audio ({exc})") from exc
    mono = data.mean(axis=1)
    if rate_hz != constants.SAMPLE_RATE_HZ:
        mono = soxr.resample(mono, rate_hz, constants.SAMPLE_RATE_HZ).astype(np.float32)
    if len(mono) == 0:
        raise AudioError("holds no audio samples")
    return mono


def write_analysis(analysis: Analysis, output_dir: Path) -> tuple[Path, Path]:
    """{dataset}_namelist.json and {dataset}_cluster_report.txt in output_dir."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    namelist = output_dir / f"{analysis.dataset}_namelist.json"
    report = output_dir / f"{analysis.dataset}_cluster_report.txt"
    atomic_write_text(namelist, json.dumps(analysis.namelist(), indent=2) + "\n")
    atomic_write_text(report, report_text(analysis))
    return namelist, report


def speaker_map(namelist: dict) -> dict[str, str]:
    """The namelist as ingest's speaker_map (``positive/x.wav`` -> speaker), without moving."""
    dataset = namelist["dataset"]
    return {f"{dataset}/{rel}": speaker for rel, speaker in namelist["files"].items()}


def datasets_of(choice: str) -> Sequence[str]:
    return DATASETS if choice == "all" else (choice,)
