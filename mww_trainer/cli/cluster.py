"""mww-cluster-analyze / mww-cluster-apply: group clips by voice, then move them by speaker.

mww-cluster-analyze --config standard --n-clusters 12          # nothing moved
mww-cluster-apply --namelist cluster_output/positive_namelist.json --dry-run
mww-cluster-apply --namelist-dir cluster_output
mww-cluster-apply --undo cluster_output/positive_backup_manifest.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mww_trainer.cli.common import (
    EXIT_OK,
    add_config_arguments,
    open_fraction,
    positive_int,
    print_progress,
    run_command,
)
from mww_trainer.errors import MwwError

DEFAULT_OUTPUT = Path("cluster_output")


def _analyze_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mww-cluster-analyze",
        description="Group a dataset's clips by speaker (voice embeddings, agglomerative "
        "clustering) and write {dataset}_namelist.json and {dataset}_cluster_report.txt. "
        "Nothing in the dataset is moved: read the report, then run mww-cluster-apply.",
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--dataset",
        default="positive",
        choices=("positive", "negative", "hard_negative", "all"),
    )
    parser.add_argument(
        "--n-clusters",
        type=positive_int,
        default=None,
        metavar="N",
        help="how many speakers (recommended for 1-3 s clips; overrides the threshold)",
    )
    parser.add_argument(
        "--threshold",
        type=open_fraction,
        default=None,
        metavar="T",
        help="cosine similarity that joins two groups (default: speaker_clustering's)",
    )
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT, metavar="D")
    parser.add_argument("--max-files", type=positive_int, default=None, metavar="N")
    return parser


def analyze_main(argv: list[str] | None = None) -> int:
    args = _analyze_parser().parse_args(argv)
    return run_command(lambda: _analyze(args))


def _analyze(args: argparse.Namespace) -> int:
    from mww_trainer.config import load_config
    from mww_trainer.speakers.analyze import (
        analyze_folder,
        dataset_root,
        datasets_of,
        write_analysis,
    )
    from mww_trainer.speakers.clustering import ClusterSettings
    from mww_trainer.speakers.embeddings import load_embedder

    config = load_config(args.config, args.override)
    section = config.speaker_clustering
    settings = ClusterSettings.from_config(
        section, n_clusters=args.n_clusters, threshold=args.threshold
    )
    roots = {name: dataset_root(config.paths, name) for name in datasets_of(args.dataset)}
    present = {name: root for name, root in roots.items() if root.is_dir()}
    if not present:
        raise MwwError(f"none of the dataset folders exists: {', '.join(map(str, roots.values()))}")
    chosen = load_embedder(section.embedding_model, threads=config.performance.num_workers or None)
    print(chosen.note, file=sys.stderr)
    for name, root in present.items():
        analysis = analyze_folder(
            root,
            name,
            chosen.embedder,
            settings,
            embedding_note=chosen.note,
            max_files=args.max_files,
            on_progress=print_progress,
        )
        namelist, report = write_analysis(analysis, args.output_dir)
        print(
            f"{name}: {len(analysis.files)} clips in {analysis.clustering.n_clusters} groups "
            f"({analysis.seconds:.1f} s); report {report}; namelist {namelist}"
        )
        for line in analysis.clustering.advice:
            print(f"advice: {line}")
    return EXIT_OK


def _apply_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mww-cluster-apply",
        description="Move each clip of a namelist into its speaker's folder. A backup manifest "
        "is written before anything moves; --undo with it puts every file back.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--namelist", type=Path, metavar="F")
    source.add_argument("--namelist-dir", type=Path, metavar="D")
    source.add_argument("--undo", type=Path, metavar="MANIFEST")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT, metavar="D")
    parser.add_argument("--dry-run", action="store_true", help="show the moves; move nothing")
    return parser


def apply_main(argv: list[str] | None = None) -> int:
    args = _apply_parser().parse_args(argv)
    return run_command(lambda: _apply(args))


def _apply(args: argparse.Namespace) -> int:
    from mww_trainer.speakers.apply import apply_moves, plan_moves, read_json, undo

    if args.undo:
        done = undo(args.undo, dry_run=args.dry_run)
        verb = "would move back" if args.dry_run else "moved back"
        print(f"{verb} {len(done)} file(s)")
        for line in done:
            print(f"    {line}")
        return EXIT_OK
    if args.namelist:
        namelists = [args.namelist]
    else:
        namelists = sorted(Path(args.namelist_dir).glob("*_namelist.json"))
        if not namelists:
            raise MwwError(f"{args.namelist_dir} holds no *_namelist.json; run mww-cluster-analyze")
    plans = [plan_moves(read_json(path, "namelist")) for path in namelists]
    for plan in plans:
        print(plan.describe())
        if args.dry_run:
            continue
        manifest = apply_moves(plan, args.output_dir)
        print(f"moved {len(plan.moves)} file(s); undo with: mww-cluster-apply --undo {manifest}")
    if args.dry_run:
        print("dry run: nothing was moved")
    return EXIT_OK
