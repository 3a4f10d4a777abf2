"""The panel's "Group by speaker": unlabelled takes -> embeddings -> groups, with a preview.

    result = group_clips({"12": "/data/.../upload_ab.wav", ...}, n_clusters=None,
                         embedder=load_embedder("resemblyzer").embedder)
    result["groups"]   # largest first: sample ids, the clips most typical of the voice, cohesion

Nothing is moved here: the add-on applies a grouping once the user has listened to it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mww_trainer.errors import AudioError, MwwError
from mww_trainer.progress import ProgressCallback, ProgressEvent, ignore_progress
from mww_trainer.speakers.analyze import MAX_EMBED_S, load_clip
from mww_trainer.speakers.clustering import ClusterSettings, cluster, suggest_count
from mww_trainer.speakers.embeddings import Embedder

PREVIEW_CLIPS = 4  # per group: the clips nearest its voice print
_BATCH = 32


def group_clips(
    clips: Mapping[str, str],
    *,
    n_clusters: int | None,
    embedder: Embedder,
    on_progress: ProgressCallback = ignore_progress,
) -> dict:
    """Groups the clips (sample id -> file) by voice; n_clusters None takes the suggestion."""
    ids, vectors, unreadable = _embed_all(clips, embedder, on_progress)
    if not ids:
        raise MwwError("none of the takes could be read as audio; nothing to group")
    suggested = suggest_count(vectors)
    count = suggested if n_clusters is None else n_clusters
    if count > len(ids):
        raise MwwError(
            f"{count} groups asked for {len(ids)} readable takes; give a count no larger "
            "than the number of takes"
        )
    result = cluster(vectors, ClusterSettings("agglomerative", 0.0, count))
    groups = []
    for label in range(result.n_clusters):
        members = np.flatnonzero(result.labels == label)
        centroid = vectors[members].mean(axis=0)
        typical = members[np.argsort(-(vectors[members] @ centroid))][:PREVIEW_CLIPS]
        groups.append(
            {
                "sample_ids": [int(ids[i]) for i in members],
                "preview": [int(ids[i]) for i in typical],
                "cohesion": round(result.cohesion[label], 3),
            }
        )
    on_progress(ProgressEvent("cluster", 1, 1, f"{len(ids)} takes in {len(groups)} groups"))
    return {
        "groups": groups,
        "n_clusters": result.n_clusters,
        "suggested": suggested,
        "by_count": n_clusters is not None,
        "takes": len(ids),
        "unreadable": unreadable,
        "embedding": embedder.name,
    }


def _embed_all(
    clips: Mapping[str, str], embedder: Embedder, on_progress: ProgressCallback
) -> tuple[list[str], np.ndarray, list[str]]:
    items = sorted(clips.items(), key=lambda kv: int(kv[0]))
    ids, vectors, unreadable = [], [], []
    for first in range(0, len(items), _BATCH):
        audio = []
        for sample_id, path in items[first : first + _BATCH]:
            try:
                audio.append(load_clip(path, MAX_EMBED_S))
            except (AudioError, OSError) as exc:
                unreadable.append(f"sample {sample_id}: {exc}")
                continue
            ids.append(sample_id)
        if audio:
            vectors.append(embedder.embed(audio))
        done = min(first + _BATCH, len(items))
        on_progress(ProgressEvent("embed", done, len(items), f"listened to {done} takes"))
    matrix = np.concatenate(vectors) if vectors else np.empty((0, 0), np.float32)
    return ids, matrix, unreadable
