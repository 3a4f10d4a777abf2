"""Speaker clustering on generated voices: groups, apply/undo, and the leakage audit.

Six espeak-ng speakers (different accents, timbre variants and pitches) say "hey computer"
eight times each at different speeds; resemblyzer's encoder embeds them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

pytest.importorskip("torch", reason="speaker clustering needs the cluster extra")
pytest.importorskip("sklearn", reason="speaker clustering needs the cluster extra")

from mww_trainer.cli.cluster import analyze_main, apply_main
from mww_trainer.data.ingest.model import Clip, Dataset, Role, Split
from mww_trainer.speakers.analyze import analyze_folder, write_analysis
from mww_trainer.speakers.apply import apply_moves, plan_moves, undo
from mww_trainer.speakers.clustering import ClusterSettings, purity
from mww_trainer.speakers.embeddings import load_embedder
from mww_trainer.speakers.groups import group_clips
from mww_trainer.speakers.leakage import audit_dataset

VOICES = {
    "ann": ("en-us", "gmw/en-US", "m1", 35),
    "bea": ("en-gb", "gmw/en", "f2", 75),
    "cal": ("en-gb-scotland", "gmw/en-GB-scotland", "m3", 55),
    "dan": ("en-029", "gmw/en-029", "croak", 45),
    "eve": ("en-us-nyc", "gmw/en-US-nyc", "f5", 90),
    "fay": ("en-gb-x-rp", "gmw/en-GB-x-rp", "Annie", 65),
}
TAKES = 8


def _speak(voice: str, take: int, text: str = "hey computer") -> np.ndarray:
    from mww_trainer.synth.espeak import Speaker, find_espeak, speak

    language, voice_file, variant, pitch = VOICES[voice]
    speaker = Speaker(language, voice_file, variant)
    return speak(
        find_espeak(), text, speaker, speed_wpm=130 + 8 * take, pitch=pitch + (take % 3) * 3
    )


@pytest.fixture(scope="module")
def takes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A flat folder of unlabelled takes (shuffled names) and the truth: file -> voice."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("takes") / "positive"
    folder.mkdir()
    order = np.random.default_rng(7).permutation(len(VOICES) * TAKES)
    truth = {}
    for index, (voice, take) in enumerate((v, t) for v in VOICES for t in range(TAKES)):
        name = f"take_{order[index]:03d}.wav"
        soundfile.write(folder / name, _speak(voice, take), 16000, subtype="PCM_16")
        truth[name] = voice
    return folder, truth


@pytest.fixture(scope="module")
def embedder():
    return load_embedder("resemblyzer", threads=2).embedder


def _settings(n_clusters: int | None, threshold: float = 0.72) -> ClusterSettings:
    return ClusterSettings("agglomerative", threshold, n_clusters)


def test_six_generated_speakers_fall_into_six_pure_groups(takes, embedder, tmp_path):
    folder, truth = takes
    analysis = analyze_folder(folder, "positive", embedder, _settings(len(VOICES)))
    assert analysis.clustering.n_clusters == len(VOICES)
    labels = analysis.clustering.labels
    assert purity(labels, [truth[f] for f in analysis.files]) >= 0.9
    namelist, report = write_analysis(analysis, tmp_path)
    listed = json.loads(namelist.read_text())
    assert set(listed["files"]) == set(truth)
    assert "speaker_000" in report.read_text()


def test_the_panel_groups_by_the_suggested_count_of_voices(takes, embedder):
    """Group by speaker with no count: the silhouette's choice is the number of voices, and
    one voice alone stays one group."""
    folder, truth = takes
    clips = {str(i): str(folder / name) for i, name in enumerate(sorted(truth))}
    result = group_clips(clips, n_clusters=None, embedder=embedder)
    assert result["suggested"] == result["n_clusters"] == len(VOICES)
    by_id = {str(i): truth[name] for i, name in enumerate(sorted(truth))}
    for group in result["groups"]:
        assert len({by_id[str(i)] for i in group["sample_ids"]}) == 1
        assert set(group["preview"]) <= set(group["sample_ids"])
    one = {k: v for k, v in clips.items() if by_id[k] == "ann"}
    assert group_clips(one, n_clusters=None, embedder=embedder)["n_clusters"] == 1


def test_threshold_on_short_clips_says_to_give_a_count(takes, embedder):
    folder, _ = takes
    analysis = analyze_folder(folder, "positive", embedder, _settings(None, threshold=0.99))
    assert analysis.clustering.n_clusters > len(VOICES)
    assert any("--n-clusters" in line for line in analysis.clustering.advice)


def _tree(root: Path) -> dict[str, str]:
    """Every file's content hash and every folder, by relative path."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


def test_apply_then_undo_restores_the_folder_byte_for_byte(takes, tmp_path):
    source, truth = takes
    root = tmp_path / "positive"
    shutil.copytree(source, root)
    (root / "old_folder").mkdir()
    shutil.move(root / "take_000.wav", root / "old_folder" / "take_000.wav")
    before = _tree(root)
    speakers = {name: truth[name] for name in truth}
    speakers["old_folder/take_000.wav"] = speakers.pop("take_000.wav")
    namelist = {"dataset": "positive", "root": str(root), "files": speakers}
    manifest = apply_moves(plan_moves(namelist), tmp_path / "out")
    after_apply = _tree(root)
    assert "old_folder" not in after_apply
    assert {rel.split("/")[0] for rel in after_apply} == set(VOICES)
    undo(manifest)
    assert _tree(root) == before
    assert not manifest.exists()


def test_the_commands_analyse_apply_and_undo(takes, tmp_path, capsys):
    source, _ = takes
    dataset = tmp_path / "dataset"
    shutil.copytree(source, dataset / "positive")
    (dataset / "negative").mkdir()
    override = tmp_path / "paths.yaml"
    override.write_text(
        f"paths:\n  positive_dir: {dataset / 'positive'}\n  negative_dir: {dataset / 'negative'}\n"
        "speaker_clustering:\n  embedding_model: resemblyzer\n"
    )
    out = tmp_path / "cluster_output"
    common = ["--config", "fast_test", "--override", str(override), "--output-dir", str(out)]
    assert analyze_main([*common, "--n-clusters", str(len(VOICES))]) == 0
    namelist = out / "positive_namelist.json"
    before = _tree(dataset)
    assert apply_main(["--namelist", str(namelist), "--dry-run", "--output-dir", str(out)]) == 0
    assert _tree(dataset) == before
    assert apply_main(["--namelist-dir", str(out), "--output-dir", str(out)]) == 0
    assert len(list((dataset / "positive").iterdir())) == len(VOICES)
    manifest = out / "positive_backup_manifest.json"
    assert apply_main(["--undo", str(manifest)]) == 0
    assert _tree(dataset) == before
    assert "moved back 48 file(s)" in capsys.readouterr().out


def _clips(folder: Path, voice: str, speaker: str, split: Split, text: str) -> list[Clip]:
    clips = []
    for take in range(6):
        path = folder / f"{speaker}_{take}.wav"
        soundfile.write(path, _speak(voice, take, text), 16000, subtype="PCM_16")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        rel = f"positive/{speaker}/{path.name}"
        clips.append(Clip(path, rel, Role.POSITIVE, speaker, split, 1.0, digest, 16000, 1))
    return clips


def test_the_leakage_audit_flags_one_voice_under_two_names_in_two_splits(embedder, tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    clips = _clips(tmp_path, "ann", "ann", Split.TRAIN, "hey computer")
    clips += _clips(tmp_path, "bea", "bea", Split.VAL, "hey computer")
    clips += _clips(tmp_path, "eve", "eve", Split.TRAIN, "hey computer")
    # ann again, other words, filed under another name in the test split
    clips += _clips(tmp_path, "ann", "annie", Split.TEST, "okay computer")
    lines = audit_dataset(Dataset(clips=tuple(clips)), embedder)
    assert len(lines) == 1, lines
    assert "'annie' (test) sounds like 'ann' (train)" in lines[0]
