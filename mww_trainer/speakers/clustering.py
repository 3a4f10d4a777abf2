"""Group embeddings by speaker: agglomerative clustering by count or by cosine similarity.

    settings = ClusterSettings.from_config(config.speaker_clustering, n_clusters=None)
    result = cluster(vectors, settings, durations_s)
    result.labels, result.advice

scikit-learn is imported here only. Average linkage on cosine distance: a cluster is kept
together by its mean similarity, so one odd take does not chain two speakers into one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mww_trainer.config.types import SpeakerClusteringConfig
from mww_trainer.errors import MwwError

# The guide's note: similarity thresholds over-fragment short wake-word clips.
SHORT_CLIP_S = 3.0
# Threshold clustering that leaves this share of clusters as singletons has fragmented.
FRAGMENTED_SINGLETON_SHARE = 0.3


@dataclass(frozen=True)
class ClusterSettings:
    method: str  # "agglomerative" or "threshold" (the config's speaker_clustering.method)
    similarity_threshold: float
    n_clusters: int | None

    @classmethod
    def from_config(
        cls,
        section: SpeakerClusteringConfig,
        *,
        n_clusters: int | None = None,
        threshold: float | None = None,
    ) -> ClusterSettings:
        """The config's values, with the command line's --n-clusters / --threshold over them.

        method ``threshold`` clusters by similarity even where the config names a count;
        a count given on the command line still wins.
        """
        configured = section.n_clusters if section.method == "agglomerative" else None
        return cls(
            method=section.method,
            similarity_threshold=section.similarity_threshold if threshold is None else threshold,
            n_clusters=configured if n_clusters is None else n_clusters,
        )

    @property
    def by_count(self) -> bool:
        return self.n_clusters is not None


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # cluster index per clip, 0..n-1, largest cluster first
    n_clusters: int
    by_count: bool
    cohesion: tuple[float, ...]  # mean similarity of each cluster's clips to its centroid
    advice: tuple[str, ...]  # what to do when the grouping looks doubtful


def cluster(
    vectors: np.ndarray, settings: ClusterSettings, durations_s: Sequence[float] = ()
) -> Clustering:
    """Clusters unit-length vectors; labels are renumbered so that cluster 0 is the largest."""
    count = len(vectors)
    if count == 0:
        return Clustering(np.empty(0, int), 0, settings.by_count, (), ())
    if settings.n_clusters is not None and settings.n_clusters > count:
        raise MwwError(
            f"--n-clusters {settings.n_clusters} is more than the {count} clips found; "
            "give a count no larger than the number of clips"
        )
    raw = _labels(vectors, settings) if count > 1 else np.zeros(1, int)
    labels = _by_size(raw)
    n = int(labels.max()) + 1
    cohesion = tuple(_cohesion(vectors[labels == c]) for c in range(n))
    advice = _advice(labels, settings, durations_s)
    return Clustering(labels, n, settings.by_count, cohesion, advice)


def _labels(vectors: np.ndarray, settings: ClusterSettings) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    if settings.n_clusters is not None:
        model = AgglomerativeClustering(
            n_clusters=settings.n_clusters, metric="cosine", linkage="average"
        )
    else:
        model = AgglomerativeClustering(
            n_clusters=None,
            distance_threshold=1.0 - settings.similarity_threshold,
            metric="cosine",
            linkage="average",
        )
    return model.fit_predict(vectors)


def _by_size(raw: np.ndarray) -> np.ndarray:
    order = [label for label, _ in Counter(raw.tolist()).most_common()]
    remap = {label: i for i, label in enumerate(order)}
    return np.array([remap[label] for label in raw.tolist()], int)


def _cohesion(members: np.ndarray) -> float:
    centroid = members.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    return float(np.mean(members @ centroid))


def _advice(
    labels: np.ndarray, settings: ClusterSettings, durations_s: Sequence[float]
) -> tuple[str, ...]:
    if settings.by_count:
        return ()
    sizes = np.bincount(labels)
    singletons = int(np.sum(sizes == 1))
    short = bool(durations_s) and float(np.median(durations_s)) < SHORT_CLIP_S
    out = []
    if short:
        out.append(
            f"clips are short (median {float(np.median(durations_s)):.1f} s): a similarity "
            "threshold over-fragments them; if you know how many people recorded, give "
            "--n-clusters N"
        )
    if len(sizes) > 1 and singletons / len(sizes) >= FRAGMENTED_SINGLETON_SHARE:
        out.append(
            f"{singletons} of {len(sizes)} groups hold a single clip: the threshold "
            f"{settings.similarity_threshold:.2f} is too strict for these clips; give "
            "--n-clusters N or a lower --threshold"
        )
    return tuple(out)


def purity(labels: Sequence[int], truth: Sequence[str]) -> float:
    """Share of clips whose cluster's most common true speaker is their own."""
    groups: dict[int, Counter[str]] = {}
    for label, speaker in zip(labels, truth, strict=True):
        groups.setdefault(int(label), Counter())[speaker] += 1
    return sum(c.most_common(1)[0][1] for c in groups.values()) / max(1, len(truth))


# A grouping whose silhouette is below this is no better than one group: one voice. Measured
# on espeak voices saying "hey computer": one voice split in two 0.27-0.29, two voices 0.86-0.96.
MIN_SILHOUETTE = 0.4
MAX_SUGGESTED = 12


def suggest_count(vectors: np.ndarray, max_count: int = MAX_SUGGESTED) -> int:
    """The number of voices the clips most likely hold: the count (1..max_count) whose
    average-linkage grouping has the best silhouette on cosine distance, or 1 when no
    grouping reaches MIN_SILHOUETTE. One tree, cut at every count."""
    count = len(vectors)
    if count < 3:
        return 1
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_score

    tree = linkage(vectors.astype(np.float64), method="average", metric="cosine")
    best, best_score = 1, MIN_SILHOUETTE
    for k in range(2, min(max_count, count - 1) + 1):
        labels = fcluster(tree, k, criterion="maxclust")
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(vectors, labels, metric="cosine"))
        if score > best_score:
            best, best_score = k, score
    return best
