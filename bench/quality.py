"""Quality bar, leave one engine out: is the model good for voices and talk it never heard?

    .venv/bin/python bench/quality.py --work /tmp/mww-quality --phrase "hey computer" \\
        --fold pico --fold festival+flite --fold piper [--seed 0] [--preset standard]

For each fold (a group of engine families held out whole):
1. take the training set from one pool synthesised once with every engine (wake words, hard
   negatives, and ambient talk spoken by one engine family per file), leaving out every
   file of the held-out families; synthesise the test set with the held-out engines only:
   their wake words with noise at 5-25 dB SNR and rooms, and their ambient talk;
2. take one speaker-disjoint half of ../shared/real_speech (people talking) as negatives
   (``paths.negative_pack_dirs``, as a downloaded speech pack would be) and keep the other
   half for the test (``--no-speech-pack`` trains without it: the user with no pack);
3. mww-train with the preset, mww-export (which picks the cutoff on validation: whole engine
   families the model did not train on), mww-verify;
4. mww-evaluate the .tflite at the cutoff export wrote, on the held-out engine's clips and
   ambient talk, then on the held-out people talking.
Prints one line per fold and the averages; the bar is recall >= 0.90 averaged over folds, no
fold below 0.80, <= 0.5 FA/h on the held-out synthetic ambient and at most one false accept
in the held-out real speech. Each step is the real console command a user would run.

``--reference alexa`` (any official model pymicro-wakeword ships: alexa, hey_jarvis,
hey_mycroft, okay_nabu; the phrase must be its wake word) also scores that model on each
fold's test sets at its own cutoff: a model known to wake for real people, so the line shows
how hard the synthetic test is. ``--reference-only`` skips the pool and training.

``--phrase stop --real-word stop`` measures what matters most, recall on real people: the
Speech Commands takes of that word in ../shared/real_speech (about 400 by 160 people) are
taken out of the negatives, and those of the held-out half of the speakers are scored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mww_trainer.synth.options import PEOPLE_PER_SYNTHETIC_MINUTE

BIN = Path(sys.executable).parent
REAL_SPEECH = Path(__file__).resolve().parents[2] / "shared" / "real_speech"
AUDIO = (".flac", ".wav")


def run(args: list[str], log: Path) -> float:
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        print(log.read_text()[-3000:])
        raise SystemExit(f"{' '.join(args[:2])} failed ({proc.returncode}); see {log}")
    return seconds


def speaker_of(path: Path) -> str:
    """LibriSpeech names start with the speaker id (``1688-142285-0000``); Speech Commands
    names end with the speaker hash before ``_nohash_`` (``[word_]0c540988_nohash_0``)."""
    if "_nohash_" in path.name:
        return path.name.split("_nohash_")[0].split("_")[-1]
    return path.name.split("-")[0]


@dataclass(frozen=True)
class RealSpeech:
    train: Path  # people talking, as training negatives
    test: Path  # other people talking, held out
    hours: dict[str, float]
    # Held-out people saying the wake word (``--real-word``), as a dataset folder, or None.
    people: Path | None = None
    # The other half's people saying it, one folder per speaker (``--user-takes`` draws on it).
    takes: Path | None = None


def real_speech_halves(work: Path, word: str | None = None) -> RealSpeech:
    """Two speaker-disjoint halves of the shared real speech, as folders of links.

    With ``word`` (a Speech Commands word: stop, left, ...) its takes are never negatives: the
    test half's speakers saying it become a dataset of real wake words; the train half's are
    kept apart, one folder per speaker, for ``--user-takes`` (no voice the model may have heard
    saying it is tested).
    """
    if not REAL_SPEECH.is_dir():
        raise SystemExit(f"{REAL_SPEECH} is missing: the real-speech benchmark needs it")
    # v2: Speech Commands' _unknown_ takes split by speaker (v1 split them by word).
    root = work / ("real_speech-v2" if word is None else f"real_speech-v2-without-{word}")
    halves = root / "train", root / "test"
    spoken = REAL_SPEECH / "speech_commands_test" / (word or "")
    if word is not None and not spoken.is_dir():
        words = sorted(d.name for d in spoken.parent.iterdir() if d.is_dir())
        raise SystemExit(f"--real-word {word!r}: no {spoken}; one of {', '.join(words)}")
    people = work / f"real_word-{word}" if word else None
    takes = work / f"real_word-{word}-train" if word else None
    # Where each half's takes of the word go: the test's people, or the takes to draw on.
    word_halves = (takes, people / "positive") if people and takes else None
    files = sorted(p for p in REAL_SPEECH.rglob("*") if p.suffix.lower() in AUDIO)
    for path in files:
        half = int(hashlib.sha256(speaker_of(path).encode()).hexdigest(), 16) % 2
        if word_halves and path.parent == spoken:
            _link(word_halves[half] / speaker_of(path) / path.name, path)
            continue
        _link(halves[half] / path.relative_to(REAL_SPEECH), path)
    import soundfile

    hours = {
        name: sum(soundfile.info(str(p)).duration for p in half.rglob("*") if p.is_file()) / 3600
        for name, half in zip(("train", "test"), halves, strict=True)
    }
    return RealSpeech(halves[0], halves[1], hours, people, takes)


def user_takes(takes: Path, wanted: int) -> list[Path]:
    """Whole speakers' takes of the wake word, in a fixed order, until ``wanted`` are reached:
    what users recording themselves add (a speaker's takes are never split up, so the split
    can hold whole people out for validation as it does for a household)."""
    speakers = sorted(
        (d for d in takes.iterdir() if d.is_dir()),
        key=lambda d: hashlib.sha256(d.name.encode()).hexdigest(),
    )
    chosen: list[Path] = []
    for speaker in speakers:
        if len(chosen) >= wanted:
            break
        chosen += sorted(speaker.iterdir())
    if len(chosen) < wanted:
        raise SystemExit(f"--user-takes {wanted}: the training half has only {len(chosen)} takes")
    return chosen


def households(takes: list[Path], people: int) -> dict[str, str]:
    """Each real speaker's folder name in a household of ``people``: whole speakers dealt out
    in turn, so each of its people is a few real ones (Speech Commands has at most six takes
    a person; a household's people record more each)."""
    speakers = list(dict.fromkeys(t.parent.name for t in takes))
    if len(speakers) < people:
        raise SystemExit(f"--household {people}: the takes are by only {len(speakers)} people")
    return {s: f"household-{i % people + 1}" for i, s in enumerate(speakers)}


def with_user_takes(
    data: Path, takes: list[Path], out: Path, folders: dict[str, str] | None = None
) -> Path:
    """A fold's dataset plus people's takes in positive/<speaker>/: a person's recordings, as
    the panel keeps them (no synth manifest entry, a folder per speaker; ``folders`` renames
    speakers, as households() does)."""
    if (out / "synth_manifest.json").is_file():
        return out
    for path in data.rglob("*"):
        if not path.is_dir() and path.name != "synth_manifest.json":
            _link(out / path.relative_to(data), path.resolve())
    for take in takes:
        speaker = (folders or {}).get(take.parent.name, take.parent.name)
        _link(out / "positive" / speaker / take.name, take.resolve())
    (out / "synth_manifest.json").write_text((data / "synth_manifest.json").read_text())
    return out


def _link(link: Path, target: Path) -> None:
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)


def people_dataset(people: Path, test: Path) -> Path:
    """The held-out people's wake words on the synthetic test's quiet room, no negatives."""
    for name in ("negative", "hard_negative"):
        (people / name).mkdir(parents=True, exist_ok=True)
    for name in ("background", "rirs"):
        if not (people / name).exists():
            (people / name).symlink_to(test / name)
    return people


def synth(out: Path, **options) -> float:
    """A dataset through the library (the test set needs options the CLI keeps simple)."""
    if (out / "synth_manifest.json").is_file():
        return 0.0
    from mww_trainer.synth import SynthOptions, synthesize_dataset

    started = time.monotonic()
    options.setdefault("recorded_minutes", 0)  # people's recordings only where asked for
    synthesize_dataset(SynthOptions(out_dir=out, force=True, **options))
    return time.monotonic() - started


def pool(args) -> tuple[Path, list[Path]]:
    """Wake words and hard negatives by every engine; ambient talk one family per folder;
    people's recordings (mww-synth's recorded talk) in a folder of their own."""
    from mww_trainer.synth.engines import FAMILIES

    root = Path(args.work) / args.slug / ("pool-accents" if args.accents else "pool")
    common = {"phrase": args.phrase, "rooms": "synthetic", "workers": args.workers}
    common |= {"accents": True} if args.accents else {}
    synth(
        root / "clips",
        positives=args.positives,
        hard_negatives=args.positives // 2,
        ambient_minutes=0,
        background=10,
        rirs=5,
        seed=1,
        **common,
    )
    found = [f for f in FAMILIES if f in engine_counts(root / "clips")]
    nothing = {"positives": 0, "hard_negatives": 0, "ambient_minutes": 0, "background": 0}

    def only(folder: Path, seed: int, **wanted) -> Path:
        """A folder of just what is wanted (no wake words, noise or rooms)."""
        synth(folder, **(nothing | {"rirs": 0, "seed": seed} | common | wanted))
        return folder

    talk = [
        only(
            root / f"talk-{family}",
            10 + index,
            engines=(family,),
            ambient_minutes=args.ambient_minutes / len(found),
        )
        for index, family in enumerate(found)
    ]
    if args.single_words:
        # Every family's words in one folder, as the clips are: a fold links those it keeps.
        talk.append(only(root / f"words-{args.single_words}", 30, single_words=args.single_words))
    if args.people_minutes > 0:
        talk.append(only(root / f"people-{args.people}", 20, recorded_minutes=args.people_minutes))
    return root / "clips", talk


def people_label(phrase: str, minutes: float) -> str:
    """The recorded people's folder names: minutes, and packages and speakers installed, so a
    run after another package of voices was installed never reuses talk made without it.
    (Named by package since packages take turns in the talk; talk made when only speakers
    took turns is in folders named by speakers alone.)"""
    if minutes <= 0:
        return ""
    from mww_trainer.synth.recorded import find_recordings

    found = find_recordings(phrase).recordings
    packages, speakers = {r.package for r in found}, {r.speaker for r in found}
    return f"{minutes:g}min-{len(packages)}packages-{len(speakers)}speakers"


def engine_counts(data: Path) -> dict:
    return json.loads((data / "synth_manifest.json").read_text()).get("engines") or {}


def fold_dataset(clips: Path, talk: list[Path], held: tuple[str, ...], out: Path) -> Path:
    """The pool without the held-out families, as links, with a manifest of what is there."""
    if (out / "synth_manifest.json").is_file():
        return out
    files = []
    sources = [(clips, "")] + [
        (t, t.name.removeprefix("talk-") if t.name.startswith("talk-") else "") for t in talk
    ]
    for source, family in sources:
        if family in held:
            continue
        manifest = json.loads((source / "synth_manifest.json").read_text())
        for entry in manifest["files"]:
            engine = entry.get("engine")
            if engine in held:
                continue
            rel = entry["path"]
            if family:  # ambient talk: one folder per family, named by the manifest only
                rel = rel.replace("negative/speech/", f"negative/speech-{family}/", 1)
                entry = {**entry, "engine": family}
            link = out / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source / entry["path"])
            files.append({**entry, "path": rel})
    (out / "synth_manifest.json").write_text(json.dumps({"files": files}))
    return out


def override(path: Path, data: Path, run_dir: Path, packs: list[Path], extra: list[str]) -> Path:
    pack_list = ", ".join(str(p) for p in packs)
    text = f"""paths:
  positive_dir: {data}/positive
  negative_dir: {data}/negative
  hard_negative_dir: {data}/hard_negative
  background_dir: {data}/background
  rir_dir: {data}/rirs
  negative_pack_dirs: [{pack_list}]
  processed_dir: {run_dir}/processed
  checkpoint_dir: {run_dir}/checkpoints
  export_dir: {run_dir}/exported
augmentation:
  impulse_paths: [{data}/rirs]
  background_paths: [{data}/background]
performance:
  tensorboard_log_dir: {run_dir}/logs
export:
  wake_word: bench
  author: mww-trainer quality bench
"""
    for item in extra:  # "augmentation.PitchShift=0.5"
        key, value = item.split("=", 1)
        section, field = key.split(".", 1)
        marker = f"{section}:\n"
        if marker in text:
            text = text.replace(marker, f"{marker}  {field}: {value}\n", 1)
        else:
            text += f"{section}:\n  {field}: {value}\n"
    path.write_text(text)
    return path


@dataclass
class FoldResult:
    fold: str
    recall: float
    fa_per_hour: float
    ambient_hours: float
    positives: int
    real_false_accepts: int
    real_hours: float
    cutoff: float
    train_min: float
    rss_mb: float
    # Recall on held-out people saying the wake word (--real-word), and how many takes.
    people_recall: float | None = None
    people_takes: int = 0


def evaluate(tflite: Path, preset: str, config: Path, log: Path) -> dict:
    run(
        [
            str(BIN / "mww-evaluate"),
            "--tflite",
            str(tflite),
            "--config",
            preset,
            "--override",
            str(config),
            "--split",
            "all",
            "--json",
            "--output",
            str(log.with_suffix("")),
        ],
        log,
    )
    return json.loads(log.read_text())


def official_copy(name: str, folder: Path) -> Path:
    """An official model and its manifest, copied as an export lays them out."""
    from recall_by_voice import official_files  # a sibling script: bench/ is on sys.path

    source, manifest = official_files(name)
    folder.mkdir(parents=True, exist_ok=True)
    tflite = folder / source.name
    tflite.write_bytes(source.read_bytes())
    (folder / "manifest.json").write_text(manifest.read_text())
    return tflite


def fold_result(
    fold, *, synthetic: dict, real: dict, train_min: float, rss_mb: float, people=None
) -> FoldResult:
    at = synthetic["at_cutoff"]
    return FoldResult(
        fold=fold,
        recall=at["recall"],
        fa_per_hour=at["fa_per_hour"],
        ambient_hours=synthetic["ambient_hours"],
        positives=synthetic["positives"],
        real_false_accepts=real["real_speech_false_accepts"],
        real_hours=real["real_speech_hours"],
        cutoff=synthetic["cutoff"],
        train_min=train_min,
        rss_mb=rss_mb,
        people_recall=None if people is None else people["at_cutoff"]["recall"],
        people_takes=0 if people is None else people["positives"],
    )


def by_voice(tflite: Path, preset: str, config: Path, log: Path) -> str:
    """recall_by_voice.py's table for the held-out engine's wake words, indented."""
    script = Path(__file__).with_name("recall_by_voice.py")
    args = ["--config", preset, "--override", str(config), "--tflite", str(tflite)]
    run([sys.executable, str(script), *args], log)
    lines = [line for line in log.read_text().splitlines() if line.startswith(("by ", "  "))]
    return "\n".join("    " + line for line in lines)


def evaluate_all(args, tflite: Path, configs: dict[str, Path], work: Path, prefix: str):
    """The model on the synthetic test, the people talking and (if any) the people's words."""
    return {
        name: evaluate(tflite, args.preset, cfg, work / f"{prefix}_{name}.json")
        for name, cfg in configs.items()
    }


def run_fold(args, fold: str, speech: RealSpeech) -> FoldResult | None:
    held = tuple(fold.split("+"))
    work = Path(args.work) / args.slug / f"{fold}-seed{args.seed}{args.tag}"
    work.mkdir(parents=True, exist_ok=True)
    if not args.reference_only:
        clips, talk = pool(args)
        people = f"-people{args.people}" if args.people_minutes > 0 else ""
        words = f"-words{args.single_words}" if args.single_words else ""
        words += "-accents" if args.accents else ""
        without = Path(args.work) / args.slug / f"train-without-{fold}{people}{words}"
        data = fold_dataset(clips, talk, held, without)
        if args.user_takes:
            chosen = user_takes(speech.takes, args.user_takes)
            name = f"{without.name}-takes{len(chosen)}"
            folders = None
            if args.household:
                folders = households(chosen, args.household)
                name += f"-household{args.household}"
            data = with_user_takes(data, chosen, without.with_name(name), folders)
            speakers = len({t.parent.name for t in chosen})
            as_people = f" filed as {args.household} people" if args.household else ""
            print(
                f"{len(chosen)} takes of {args.phrase!r} by {speakers} people (training half) "
                f"added as their recordings{as_people}",
                flush=True,
            )
    test = Path(args.work) / args.slug / f"test-{fold}"
    common = {"phrase": args.phrase, "rooms": "synthetic", "workers": args.workers}
    synth(
        test,
        engines=held,
        positives=args.test_positives,
        hard_negatives=0,
        ambient_minutes=args.test_ambient_minutes,
        background=1,
        rirs=1,
        seed=2,
        noise_fraction=1.0,
        noise_snr_db=(5.0, 25.0),
        room_fraction=0.5,
        **common,
    )
    if args.synth_only:
        return None
    test_cfg = override(work / "test.yaml", test, work / "test", [], [])
    # The people-talking test: the held-out engine's wake words, the other half of the talk.
    real_cfg = override(work / "real.yaml", test, work / "real", [speech.test], [])
    empty = work / "no_negatives"
    empty.mkdir(exist_ok=True)
    text = real_cfg.read_text().replace(f"{test}/negative\n", f"{empty}\n", 1)
    real_cfg.write_text(text)
    configs = {"synthetic": test_cfg, "real": real_cfg}
    if speech.people is not None:  # real people saying the wake word, and nothing else
        people = people_dataset(speech.people, test)
        configs["people"] = override(work / "people.yaml", people, work / "people", [], [])
    if args.reference:
        tflite = official_copy(args.reference, work / "reference")
        found = evaluate_all(args, tflite, configs, work, "reference")
        print_fold(args, fold_result(fold, **found, train_min=0, rss_mb=0), tflite.stem)
        print(by_voice(tflite, args.preset, test_cfg, work / "reference_by_voice.txt"), flush=True)
        if args.reference_only:
            return None
    packs = [] if args.no_speech_pack else [speech.train]
    train_cfg = override(work / "train.yaml", data, work / "run", packs, args.set)
    t_train = run(
        [
            str(BIN / "mww-train"),
            "--config",
            args.preset,
            "--override",
            str(train_cfg),
            "--seed",
            str(args.seed),
        ],
        work / "train.log",
    )
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    best = work / "run" / "checkpoints" / "best_weights.weights.h5"
    run(
        [
            str(BIN / "mww-export"),
            "--checkpoint",
            str(best),
            "--config",
            args.preset,
            "--override",
            str(train_cfg),
            "--model-name",
            args.slug,
        ],
        work / "export.log",
    )
    tflite = work / "run" / "exported" / f"{args.slug}.tflite"
    run([str(BIN / "mww-verify"), str(tflite.with_name("manifest.json"))], work / "verify.log")
    found = evaluate_all(args, tflite, configs, work, "evaluate")
    print(by_voice(tflite, args.preset, test_cfg, work / "by_voice.txt"), flush=True)
    return fold_result(fold, **found, train_min=t_train / 60, rss_mb=rss_mb)


def print_fold(args, r: FoldResult, model: str = "ours") -> None:
    print(
        f"{args.phrase!r} hold out {r.fold:<15} {model}: recall {r.recall:.3f} "
        f"({r.positives} clips) at cutoff {r.cutoff:.3f}; {r.fa_per_hour:.2f} FA/h on "
        f"{r.ambient_hours:.2f} h held-out synthetic talk; {r.real_false_accepts} false "
        f"accepts in {r.real_hours:.2f} h of held-out people talking; "
        + (
            f"recall {r.people_recall:.3f} on {r.people_takes} takes of held-out people saying it; "
            if r.people_recall is not None
            else ""
        )
        + f"train {r.train_min:.1f} min, peak RSS {r.rss_mb:.0f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="/tmp/mww-quality")
    parser.add_argument("--phrase", default="hey computer")
    parser.add_argument("--fold", action="append", help="engine families held out, e.g. pico")
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--seed", type=int, default=0, help="training seed (mww-train --seed)")
    parser.add_argument("--positives", type=int, default=2000)
    parser.add_argument("--ambient-minutes", type=float, default=120)
    parser.add_argument("--test-positives", type=int, default=300)
    parser.add_argument("--test-ambient-minutes", type=float, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument(
        "--synth-only", action="store_true", help="synthesise the folds' data sets, then stop"
    )
    parser.add_argument(
        "--reference", help="an official model to score on the same tests, e.g. alexa"
    )
    parser.add_argument(
        "--reference-only", action="store_true", help="score the reference model only"
    )
    parser.add_argument(
        "--real-word",
        help="a Speech Commands word said by real people (stop, left...): with --phrase the "
        "same word, recall on the held-out people's takes; their takes are never negatives",
    )
    parser.add_argument(
        "--recorded-minutes",
        type=float,
        help="minutes of people's recordings mww-synth adds to the training talk (its "
        "default: twice --ambient-minutes; 0: none); the test's people are others",
    )
    parser.add_argument(
        "--user-takes",
        type=int,
        default=0,
        help="with --real-word: add this many of the training half's takes of the word (whole "
        "speakers) as people's own recordings, as users recording themselves would",
    )
    parser.add_argument(
        "--household",
        type=int,
        default=0,
        help="with --user-takes: file the takes as this many people (each a few real ones "
        "dealt out in turn), as a household's recordings are",
    )
    parser.add_argument(
        "--no-speech-pack",
        action="store_true",
        help="train without the shared real speech (a user with no speech pack); the test "
        "still holds the other half out",
    )
    parser.add_argument(
        "--single-words",
        type=int,
        default=0,
        help="short words said alone by the training engines, as negatives (mww-synth "
        "--single-words); the held-out engine's are left out with it",
    )
    parser.add_argument(
        "--accents",
        action="store_true",
        help="the pool also reads the phrase as speakers of other languages say it (mww-synth "
        "--accents; its own pool folder, pool-accents)",
    )
    parser.add_argument("--tag", default="", help="appended to each run's folder name")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="an extra override for training, e.g. augmentation.PitchShift=0.5",
    )
    args = parser.parse_args()
    args.slug = "_".join(args.phrase.lower().split())
    minutes = args.recorded_minutes
    default = PEOPLE_PER_SYNTHETIC_MINUTE * args.ambient_minutes
    args.people_minutes = default if minutes is None else minutes
    args.people = people_label(args.phrase, args.people_minutes)
    if args.reference_only and not args.reference:
        parser.error("--reference-only needs --reference")
    if args.user_takes and not args.real_word:
        parser.error("--user-takes needs --real-word (the takes are real people's)")
    if args.household and not args.user_takes:
        parser.error("--household needs --user-takes (it files their takes as N people)")
    folds = args.fold or ["pico", "festival+flite", "piper"]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    speech = real_speech_halves(work, args.real_word)
    print(
        f"real speech: {0 if args.no_speech_pack else speech.hours['train']:.2f} h of people "
        "talking in training, "
        f"{speech.hours['test']:.2f} h held out (other speakers)",
        flush=True,
    )
    results = []
    for fold in folds:
        r = run_fold(args, fold, speech)
        if r is None:
            continue
        results.append(r)
        print_fold(args, r)
    if not results:
        return
    mean = sum(r.recall for r in results) / len(results)
    worst = min(results, key=lambda r: r.recall)
    passed = (
        mean >= 0.90
        and worst.recall >= 0.80
        and all(r.fa_per_hour <= 0.5 and r.real_false_accepts <= 1 for r in results)
    )
    print(
        f"mean recall {mean:.3f}, worst {worst.recall:.3f} ({worst.fold}); "
        f"bar {'met' if passed else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
