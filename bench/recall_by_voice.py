"""Recall per voice: which held-out voices does a model miss, and would the official one miss them?

    .venv/bin/python bench/recall_by_voice.py --override RUN/test.yaml \\
        --tflite RUN/run/exported/hey_computer.tflite
    .venv/bin/python bench/recall_by_voice.py --override RUN/test.yaml --official alexa

Scores every wake word of the configured dataset (all splits) the way mww-evaluate does: each
whole clip after seconds of quiet room, streamed through the int8 model with the device's features,
detected at the cutoff and window of the model's manifest. Prints recall per engine family
and per voice (the speaker folder: ``pico-fr-FR``, ``festival-kal_diphone``...), worst first;
espeak-ng's hundreds of derived voices are counted by their base voice.

``--official`` scores one of the official models pymicro-wakeword ships (alexa, hey_jarvis,
hey_mycroft, okay_nabu) instead, at its own cutoff: on a phrase it was trained for, it shows
whether a test voice is one a model that wakes for real people hears at all.

``--conditions`` also prints recall by the noise, SNR and room that mww-synth gave each clip
(from the dataset's synth_manifest.json). ``--noise-lead S`` puts S seconds of the clip's
own kind of noise, at the level of its first 50 ms, before it: steady noise as a room has
it, which the device's frontend has adapted to by the time the word comes (a synthetic
test clip holds about a second of its noise before the word).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from mww_trainer import constants


def official_files(name: str) -> tuple[Path, Path]:
    """The .tflite and .json of an official model pymicro-wakeword ships."""
    import pymicro_wakeword

    folder = Path(pymicro_wakeword.__file__).parent / "models"
    return folder / f"{name}.tflite", folder / f"{name}.json"


def official_model(name: str) -> tuple[Path, float, int]:
    tflite, manifest = official_files(name)
    micro = json.loads(manifest.read_text())["micro"]
    return tflite, micro["probability_cutoff"], micro["sliding_window_size"]


def exported_model(tflite: Path) -> tuple[Path, float, int]:
    from mww_trainer.device.manifest import MANIFEST_NAME

    micro = json.loads((tflite.parent / MANIFEST_NAME).read_text())["micro"]
    return tflite, micro["probability_cutoff"], micro["sliding_window_size"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="standard")
    parser.add_argument("--override", required=True, help="the dataset's configuration")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--tflite", type=Path, help="an exported model (manifest.json beside it)")
    model.add_argument("--official", help="an official model: alexa, hey_jarvis, ...")
    parser.add_argument(
        "--min-clips", type=int, default=5, help="voices with fewer clips are not listed alone"
    )
    parser.add_argument(
        "--conditions", action="store_true", help="also recall by noise kind, SNR and room"
    )
    parser.add_argument(
        "--noise-lead",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds of the clip's own kind of noise to put before it (steady noise)",
    )
    args = parser.parse_args()

    from mww_trainer.config import load_config
    from mww_trainer.data.audio import read_audio
    from mww_trainer.data.ingest import Role
    from mww_trainer.data.training_set import device_sequence, quiet_bed
    from mww_trainer.evaluation.detection import cutoff_to_u8
    from mww_trainer.evaluation.sweep import heard
    from mww_trainer.evaluation_run import tflite_sequence_outputs
    from mww_trainer.pipeline import load_dataset
    from mww_trainer.training.compute import quiet_tensorflow

    quiet_tensorflow()
    path, cutoff, window = (
        official_model(args.official) if args.official else exported_model(args.tflite)
    )
    config = load_config(args.config, args.override)
    dataset = load_dataset(config)
    bed = quiet_bed(dataset)
    frames = config.model.input_frames
    model_bytes = path.read_bytes()
    cutoff_u8 = cutoff_to_u8(cutoff)
    hits: dict[str, list[bool]] = defaultdict(list)
    by_condition: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    made = synth_records(Path(config.paths.positive_dir).parent)
    rng = np.random.default_rng(0)
    for clip in dataset.select(Role.POSITIVE):
        record = made.get(clip.relpath, {})
        audio = with_noise_lead(read_audio(clip.path), record, args.noise_lead, rng)
        seq = device_sequence(audio, frames, bed)
        outputs = tflite_sequence_outputs(model_bytes, seq)
        found = bool(len(heard(outputs, cutoff_u8, window)))
        hits[voice_of(clip.speaker)].append(found)
        for kind, value in conditions(record).items():
            by_condition[kind][value].append(found)
    families: dict[str, list[bool]] = defaultdict(list)
    for voice, found in hits.items():
        families[voice.split("-")[0]] += found
    print(f"{path.name} at cutoff {cutoff} (window {window})")
    print_recalls("engine family", families, 1)
    print_recalls("voice", hits, args.min_clips)
    if args.conditions:
        for kind, found in by_condition.items():
            print_recalls(kind, found, 1)
    total = [h for found in hits.values() for h in found]
    print(f"all: recall {sum(total) / len(total):.3f} ({len(total)} clips)")


def synth_records(root: Path) -> dict[str, dict]:
    """What mww-synth made each clip with, keyed by the clip's "<role>/<path>"."""
    manifest = root / "synth_manifest.json"
    if not manifest.is_file():
        return {}
    return {f["path"]: f for f in json.loads(manifest.read_text())["files"]}


def conditions(record: dict) -> dict[str, str]:
    if not record:
        return {}
    snr = record.get("snr_db")
    low = None if snr is None else int(snr // 5 * 5)
    band = "none" if low is None else f"{low:>2}-{low + 5} dB"
    return {
        "noise": record.get("noise", "none"),
        "SNR": band,
        "room": "room" if record.get("room_rt60_s") else "dry",
    }


def with_noise_lead(audio, record: dict, seconds: float, rng):
    """``seconds`` of the clip's kind of noise at the level of its first 50 ms (before the
    word), then the clip. A clip without noise (or no lead asked for) is returned as it is."""
    from mww_trainer.synth import noise

    kind = record.get("noise")
    if not kind or seconds <= 0:
        return audio
    rate = constants.SAMPLE_RATE_HZ
    level = noise.rms(audio[: rate // 20].astype(np.float32))
    lead = noise.noise(kind, int(seconds * rate), rng) * level
    return np.concatenate([lead, audio.astype(np.float32)])


def voice_of(speaker: str) -> str:
    """espeak-en-us+m3 -> espeak-en-us: a derived espeak variant is its base voice's."""
    return speaker.split("+")[0]


def print_recalls(title: str, hits: dict[str, list[bool]], min_clips: int) -> None:
    print(f"by {title}:")
    for name, found in sorted(hits.items(), key=lambda kv: (sum(kv[1]) / len(kv[1]), kv[0])):
        if len(found) >= min_clips:
            print(f"  {name:<32} recall {sum(found) / len(found):.3f} ({len(found)} clips)")


if __name__ == "__main__":
    main()
