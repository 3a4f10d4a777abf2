"""mww-synth --phrase "hey computer" --out dataset/: a synthetic dataset from espeak-ng.

Exit status: 0 written, 2 a user error (espeak-ng or piper-tts missing, bad option, files in
the way).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from mww_trainer.cli.common import EXIT_OK, run_command
from mww_trainer.synth import SynthOptions, synthesize_dataset
from mww_trainer.synth.espeak import VOICE_SPLITS
from mww_trainer.synth.options import ROOMS

_DEFAULTS = {f.name: f.default for f in fields(SynthOptions)}

# (option, type, help); the default shown comes from SynthOptions, its only home.
_VALUE_OPTIONS = (
    ("positives", int, "clips of the phrase"),
    ("hard_negatives", int, "clips of similar-sounding phrases"),
    ("ambient_minutes", float, "minutes of non-wake-word talk in negative/speech"),
    ("background", int, "noise files: white, pink, brown, babble, hum in turn"),
    ("background_duration_s", float, "length of each noise file"),
    ("rirs", int, "room impulse responses"),
    ("seed", int, "random seed"),
    ("clip_duration_s", float, "length of every positive and hard-negative clip"),
    ("language", str, "espeak-ng language of the voices"),
    ("room_fraction", float, "fraction of clips put in a room (with --rooms)"),
    (
        "timbre_fraction",
        float,
        "fraction of speech spoken by new voices derived from espeak-ng's variants "
        "(moved formants, tone, breath); 0 keeps espeak-ng's voices as they are",
    ),
    ("piper_fraction", float, "fraction of speech spoken by piper voices (with --piper-voices)"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mww-synth",
        description="Write a synthetic wake-word dataset (positive, hard_negative, negative, "
        "background, rirs and synth_manifest.json) spoken by espeak-ng voices, and by piper "
        "voices with --piper-voices. The same options and seed always give identical files.",
        argument_default=argparse.SUPPRESS,
    )
    add = parser.add_argument
    add("--phrase", required=True, help="the wake word or phrase, e.g. 'hey computer'")
    add("--out", dest="out_dir", type=Path, required=True, help="dataset folder to write")
    for name, kind, text in _VALUE_OPTIONS:
        flag = "--" + name.replace("_", "-")
        add(flag, type=kind, help=f"{text} (default {_DEFAULTS[name]})")
    add("--workers", type=int, help="parallel espeak-ng workers (default: the CPU count)")
    add(
        "--voices-split",
        choices=VOICE_SPLITS,
        help="all voice variants, or one of two disjoint halves: even for training, odd for "
        f"a held-out test set (default {_DEFAULTS['voices_split']})",
    )
    add(
        "--rooms",
        choices=ROOMS,
        help=f"reverberate some clips in simulated rooms (default {_DEFAULTS['rooms']})",
    )
    add(
        "--ambient-text",
        type=Path,
        help="sentences for ambient talk, one per line (default: the built-in English text)",
    )
    add(
        "--piper-voices",
        type=Path,
        metavar="DIR",
        help="a folder of piper voices (NAME.onnx with NAME.onnx.json beside it, searched "
        "recursively) to speak some of the speech; not split by --voices-split. Needs the "
        'optional piper-tts package: pip install -e ".[piper]"',
    )
    add("--force", action="store_true", help="replace files that already exist")
    return parser


class _ProgressLine:
    """``synth  41/95 files`` on one line at a terminal; every tenth otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        if not self.tty and tenth == self.shown:
            return
        self.shown = tenth
        end = "\r" if self.tty and done < total else "\n"
        print(f"synth {done:>5}/{total} files", end=end, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        options = SynthOptions(**vars(args))
        result = synthesize_dataset(options, on_progress=_ProgressLine())
        counts = ", ".join(f"{n} {role}" for role, n in result.counts.items())
        print(
            f"wrote {len(result.paths)} files ({counts}; {result.audio_duration_s / 60:.1f} min "
            f"of audio) to {result.out_dir} in {result.elapsed_s:.1f} s; "
            f"manifest: {result.manifest_path}"
        )
        return EXIT_OK

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
