"""Choosing the embedding model: SpeechBrain ECAPA from local files, else resemblyzer."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

pytest.importorskip("torch", reason="speaker clustering needs the cluster extra")

from mww_trainer.speakers import embeddings
from mww_trainer.speakers.embeddings import (
    EmbedderUnavailable,
    SpeechBrainEmbedder,
    find_ecapa,
    load_embedder,
)


def _tiny_ecapa(folder):
    """A local model folder as SpeechBrain saves it: hyperparams and the encoder's weights."""
    import torch

    folder.mkdir(parents=True)
    (folder / "hyperparams.yaml").write_text("embedding_model: !new:tiny.Encoder\n")
    torch.save({"weight": torch.eye(4)}, folder / "embedding_model.ckpt")
    return folder


class TinyClassifier:
    """Stands in for speechbrain's EncoderClassifier: loads the tiny folder's weights."""

    loaded: ClassVar[list[dict]] = []

    def __init__(self, weight) -> None:
        self.weight = weight

    @classmethod
    def from_hparams(cls, *, source, savedir, run_opts):
        import torch

        cls.loaded.append({"source": source, "savedir": savedir, "run_opts": run_opts})
        state = torch.load(Path(source) / "embedding_model.ckpt", weights_only=True)
        return cls(state["weight"])

    def encode_batch(self, wavs):
        frames = wavs[0, : (wavs.shape[1] // 4) * 4].reshape(-1, 4)
        return (frames.abs().mean(dim=0) @ self.weight)[None, None, :]


def test_a_local_ecapa_folder_is_loaded_and_embeds_unit_vectors(tmp_path):
    folder = _tiny_ecapa(tmp_path / "ecapa")
    embedder = SpeechBrainEmbedder.load(str(folder), import_classifier=lambda: TinyClassifier)
    assert TinyClassifier.loaded[-1] == {
        "source": str(folder),
        "savedir": str(folder),
        "run_opts": {"device": "cpu"},
    }
    clips = [np.linspace(-1, 1, 1600, dtype=np.float32), np.ones(800, np.float32)]
    vectors = embedder.embed(clips)
    assert vectors.shape == (2, 4)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


def test_the_guides_name_finds_the_model_in_the_hugging_face_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    snapshot = tmp_path / "hf/hub/models--speechbrain--spkrec-ecapa-voxceleb/snapshots/abc"
    _tiny_ecapa(snapshot)
    assert find_ecapa("speechbrain/ecapa-tdnn-voxceleb") == snapshot
    assert find_ecapa(str(tmp_path / "elsewhere")) is None


def test_without_speechbrain_it_falls_back_to_resemblyzer_in_one_line(tmp_path, monkeypatch):
    def missing():
        raise ImportError("No module named 'speechbrain'")

    monkeypatch.setattr(embeddings, "_encoder_classifier", missing)
    chosen = load_embedder(str(_tiny_ecapa(tmp_path / "ecapa")), threads=1)
    assert chosen.embedder.name == "resemblyzer"
    assert chosen.note == (
        f"embeddings: resemblyzer instead of {tmp_path / 'ecapa'} "
        "(the speechbrain package is not installed)"
    )
    assert "\n" not in chosen.note


def test_a_folder_without_the_models_files_is_refused_with_what_is_missing(tmp_path):
    with pytest.raises(
        EmbedderUnavailable, match=r"holds no hyperparams\.yaml and embedding_model"
    ):
        SpeechBrainEmbedder.load(str(tmp_path), import_classifier=lambda: TinyClassifier)


def test_a_model_that_fails_to_load_says_why(tmp_path):
    class Offline(TinyClassifier):
        @classmethod
        def from_hparams(cls, **_):
            raise OSError("no network")

    with pytest.raises(EmbedderUnavailable, match="could not be loaded: OSError: no network"):
        SpeechBrainEmbedder.load(
            "speechbrain/spkrec-ecapa-voxceleb", import_classifier=lambda: Offline
        )


def test_the_ingest_hook_adds_the_audits_lines_to_the_notes(tmp_path, tone_wav):
    from mww_trainer.config import load_config
    from mww_trainer.data.ingest import ingest

    for role in ("positive/alice", "negative"):
        (tmp_path / "ds" / role).mkdir(parents=True)
    (tmp_path / "ds/positive/alice/1.wav").write_bytes(tone_wav.read_bytes())
    config = load_config("fast_test")
    paths = config.paths.__class__(
        **{
            **config.paths.__dict__,
            "positive_dir": str(tmp_path / "ds/positive"),
            "negative_dir": str(tmp_path / "ds/negative"),
            "hard_negative_dir": str(tmp_path / "none"),
            "background_dir": str(tmp_path / "none"),
            "rir_dir": str(tmp_path / "none"),
            "negative_pack_dirs": [],
        }
    )
    seen = []

    def audit(dataset):
        seen.append(len(dataset.clips))
        return ["speaker leakage: checked"]

    dataset = ingest(paths, split_file=tmp_path / "split.json", audit=audit)
    assert seen == [1]
    assert "speaker leakage: checked" in dataset.notes
