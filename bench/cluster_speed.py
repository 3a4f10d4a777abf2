"""Speaker clustering's time and peak memory: N espeak-ng clips, embedded and grouped.

    .venv/bin/python bench/cluster_speed.py [--clips 2000] [--speakers 40] [--threads 2]

Prints clips per second for embedding, the clustering's seconds, the peak resident memory of
the process and the purity of the groups at the true count.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from mww_trainer.speakers.analyze import analyze_folder
from mww_trainer.speakers.clustering import ClusterSettings, cluster, purity
from mww_trainer.speakers.embeddings import load_embedder
from mww_trainer.synth.espeak import find_espeak, speak, speakers

PHRASES = ("hey computer", "okay computer", "computer", "hey there computer")


def make_clips(folder: Path, clips: int, n_speakers: int, seed: int = 0) -> dict[str, str]:
    binary = find_espeak()
    voices = speakers(binary, "en")
    rng = np.random.default_rng(seed)
    chosen = [voices[i] for i in rng.choice(len(voices), n_speakers, replace=False)]
    pitches = rng.integers(30, 90, n_speakers)
    truth = {}
    for i in range(clips):
        s = i % n_speakers
        audio = speak(
            binary,
            PHRASES[i % len(PHRASES)],
            chosen[s],
            speed_wpm=int(rng.integers(120, 190)),
            pitch=int(pitches[s]),
        )
        name = f"clip_{i:05d}.wav"
        soundfile.write(folder / name, audio, 16000, subtype="PCM_16")
        truth[name] = chosen[s].name + f"@{pitches[s]}"
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--speakers", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "positive"
        folder.mkdir()
        start = time.monotonic()
        truth = make_clips(folder, args.clips, args.speakers)
        print(
            f"made {args.clips} clips by {args.speakers} voices in {time.monotonic() - start:.0f} s"
        )
        before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.monotonic()
        chosen = load_embedder("resemblyzer", threads=args.threads)
        load_s = time.monotonic() - start
        settings = ClusterSettings("agglomerative", 0.72, args.speakers)
        analysis = analyze_folder(folder, "positive", chosen.embedder, settings)
        total_s = time.monotonic() - start
        start = time.monotonic()
        cluster(analysis.vectors, settings, analysis.durations_s)
        cluster_s = time.monotonic() - start
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        score = purity(analysis.clustering.labels, [truth[f] for f in analysis.files])
        audio_s = sum(analysis.durations_s)
        print(
            f"{args.clips} clips ({audio_s / 60:.1f} min of audio), {args.threads} threads: "
            f"model load {load_s:.1f} s, embed+cluster {total_s:.1f} s "
            f"({args.clips / total_s:.1f} clips/s), clustering alone {cluster_s:.2f} s"
        )
        print(
            f"peak RSS {peak_kb / 1024:.0f} MiB (before the model: {before_kb / 1024:.0f} MiB); "
            f"purity at {args.speakers} groups: {score:.3f}"
        )


if __name__ == "__main__":
    main()
