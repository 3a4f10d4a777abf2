"""The human-readable cluster report: groups, a few of their files, and what looks doubtful."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mww_trainer.speakers.analyze import Analysis

EXAMPLES_PER_GROUP = 5
CLOSEST_PAIRS = 5


def report_text(analysis: Analysis) -> str:
    clusters = analysis.clustering
    settings = analysis.settings
    if clusters.by_count:
        how = f"{clusters.n_clusters} groups by count (n_clusters {settings.n_clusters})"
    else:
        how = (
            f"{clusters.n_clusters} groups by similarity >= {settings.similarity_threshold:.2f} "
            "(average linkage, cosine)"
        )
    median_s = float(np.median(analysis.durations_s)) if analysis.durations_s else 0.0
    lines = [
        f"Speaker clusters: {analysis.dataset} ({analysis.root})",
        analysis.embedding_note,
        f"grouping: {how}",
        f"{len(analysis.files)} clips, median {median_s:.1f} s, {len(analysis.unreadable)} "
        f"unreadable; {analysis.seconds:.1f} s",
        "",
    ]
    for label in range(clusters.n_clusters):
        members = [f for f, c in zip(analysis.files, clusters.labels, strict=True) if c == label]
        lines.append(
            f"{analysis.speaker(label)}  {len(members)} clip(s)  "
            f"cohesion {clusters.cohesion[label]:.2f}"
        )
        lines += [f"    {rel}" for rel in members[:EXAMPLES_PER_GROUP]]
        if len(members) > EXAMPLES_PER_GROUP:
            lines.append(f"    ... and {len(members) - EXAMPLES_PER_GROUP} more")
    pairs = closest_pairs(analysis.vectors, clusters.labels, clusters.n_clusters)
    if pairs:
        lines += ["", "closest groups (check whether they are one person):"]
        lines += [
            f"    {analysis.speaker(a)} ~ {analysis.speaker(b)}: similarity {s:.2f}"
            for a, b, s in pairs
        ]
    lines += [f"advice: {line}" for line in clusters.advice]
    lines += [f"unreadable: {line}" for line in analysis.unreadable]
    lines += [
        "",
        "next: read the groups above, then preview the moves with",
        f"    mww-cluster-apply --namelist {analysis.dataset}_namelist.json --dry-run",
    ]
    return "\n".join(lines) + "\n"


def closest_pairs(
    vectors: np.ndarray, labels: np.ndarray, n_clusters: int, top: int = CLOSEST_PAIRS
) -> list[tuple[int, int, float]]:
    """The most similar pairs of group centroids, most similar first."""
    if n_clusters < 2:
        return []
    centroids = np.stack([vectors[labels == c].mean(axis=0) for c in range(n_clusters)])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    similarity = centroids @ centroids.T
    upper = np.triu_indices(n_clusters, k=1)
    order = np.argsort(similarity[upper])[::-1][:top]
    return [(int(upper[0][i]), int(upper[1][i]), float(similarity[upper][i])) for i in order]
