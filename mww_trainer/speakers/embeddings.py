"""Speaker embeddings: one L2-normalised vector per clip, near for the same voice.

Two models, both offline:

- SpeechBrain ECAPA-TDNN (the guide's ``speechbrain/spkrec-ecapa-voxceleb``), used when the
  ``speechbrain`` package is importable and the model's files are in a local folder or the
  Hugging Face cache (or, online, can be downloaded). It is not in the ``cluster`` extra:
  its YAML loader pins a ruamel.yaml that ESPHome refuses.
- resemblyzer's voice encoder (GE2E, 256-d), whose weights ship inside the package. Only the
  weights are taken from it: its own module imports webrtcvad, which needs pkg_resources.

torch is imported only here, inside the functions that need it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from mww_trainer import constants
from mww_trainer.errors import MwwError

RESEMBLYZER = "resemblyzer"
ECAPA_REPO = "speechbrain/spkrec-ecapa-voxceleb"
# The guide's (and the presets') name for the same model.
ECAPA_ALIASES = ("speechbrain/ecapa-tdnn-voxceleb", ECAPA_REPO)
ECAPA_FILES = ("hyperparams.yaml", "embedding_model.ckpt")
CLUSTER_EXTRA_HINT = "install the clustering extra: .venv/bin/pip install -e '.[cluster]'"

# resemblyzer's voice encoder (its hparams.py): 40 mel bands of 25 ms windows every 10 ms,
# partial utterances of 160 frames (1.6 s), a 3-layer 256-unit LSTM.
_MEL_BANDS = 40
_WINDOW_SAMPLES = 400  # 25 ms at 16 kHz
_HOP_SAMPLES = 160  # 10 ms
_PARTIAL_FRAMES = 160
_PARTIAL_HOP_FRAMES = 80
_HIDDEN = 256
_LAYERS = 3
_TARGET_DBFS = -30.0  # resemblyzer normalises every utterance to this level
_BATCH = 64  # partial utterances per forward pass


class Embedder(Protocol):
    name: str
    # Two speakers' voice prints (mean of their clips' vectors) at least this similar are
    # taken for one voice by the leakage audit.
    same_voice: float

    def embed(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """(len(clips), dim) float32, each row of unit length; clips are 16 kHz float32."""
        ...


@dataclass(frozen=True)
class ChosenEmbedder:
    embedder: Embedder
    note: str  # one line: which model, and why when it is not the configured one


def load_embedder(
    name: str, *, threads: int | None = None, search_dirs: Sequence[Path] = ()
) -> ChosenEmbedder:
    """The configured model, or resemblyzer with one line saying why.

    ``name``: ``resemblyzer``, an ECAPA name (``speechbrain/spkrec-ecapa-voxceleb`` or the
    guide's ``speechbrain/ecapa-tdnn-voxceleb``) or a folder holding an ECAPA model's files.
    """
    _torch_threads(threads)
    if name == RESEMBLYZER:
        return ChosenEmbedder(ResemblyzerEmbedder.load(), "embeddings: resemblyzer")
    try:
        embedder = SpeechBrainEmbedder.load(name, search_dirs=search_dirs)
        return ChosenEmbedder(embedder, f"embeddings: SpeechBrain ECAPA from {embedder.source}")
    except EmbedderUnavailable as exc:
        note = f"embeddings: resemblyzer instead of {name} ({exc})"
        return ChosenEmbedder(ResemblyzerEmbedder.load(), note)


class EmbedderUnavailable(MwwError):
    """The configured embedding model cannot be loaded here; the reason says why."""


def _torch_threads(threads: int | None) -> None:
    torch = _import_torch()
    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))


def _import_torch():
    try:
        import torch
    except ImportError as exc:
        raise MwwError(f"speaker clustering needs torch; {CLUSTER_EXTRA_HINT}") from exc
    return torch


# ---- resemblyzer ---------------------------------------------------------------------------


def resemblyzer_weights() -> Path:
    """pretrained.pt inside the installed resemblyzer package (its __init__ is not run)."""
    spec = importlib.util.find_spec(RESEMBLYZER)
    if spec is None or not spec.submodule_search_locations:
        raise MwwError(f"speaker clustering needs resemblyzer; {CLUSTER_EXTRA_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise MwwError(f"{path} is missing; reinstall resemblyzer ({CLUSTER_EXTRA_HINT})")
    return path


def _voice_encoder(weights: Path):
    torch = _import_torch()
    nn = torch.nn

    class VoiceEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(_MEL_BANDS, _HIDDEN, _LAYERS, batch_first=True)
            self.linear = nn.Linear(_HIDDEN, _HIDDEN)

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-9)

    model = VoiceEncoder()
    state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
    # The GE2E loss's two scalars are saved with the encoder and not needed to embed.
    encoder = {k: v for k, v in state.items() if not k.startswith("similarity_")}
    model.load_state_dict(encoder, strict=True)
    return model.eval()


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """resemblyzer's input: (frames, 40) mel power of the clip at -30 dBFS."""
    import librosa

    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    scaled = samples * (10 ** (_TARGET_DBFS / 20) / max(rms, 1e-9))
    mel = librosa.feature.melspectrogram(
        y=scaled.astype(np.float32),
        sr=constants.SAMPLE_RATE_HZ,
        n_fft=_WINDOW_SAMPLES,
        hop_length=_HOP_SAMPLES,
        n_mels=_MEL_BANDS,
    )
    return mel.astype(np.float32).T


def partials(mel: np.ndarray) -> np.ndarray:
    """(n, 160, 40): 1.6 s windows every 0.8 s; a shorter clip is zero-padded to one."""
    if len(mel) < _PARTIAL_FRAMES:
        mel = np.pad(mel, ((0, _PARTIAL_FRAMES - len(mel)), (0, 0)))
    starts = range(0, len(mel) - _PARTIAL_FRAMES + 1, _PARTIAL_HOP_FRAMES)
    return np.stack([mel[s : s + _PARTIAL_FRAMES] for s in starts])


@dataclass
class ResemblyzerEmbedder:
    model: object
    name: str = RESEMBLYZER
    # Measured on espeak-ng voices saying 1 s phrases: one voice, other words 0.97; the
    # closest two different voices 0.88.
    same_voice: float = 0.93

    @classmethod
    def load(cls) -> ResemblyzerEmbedder:
        return cls(_voice_encoder(resemblyzer_weights()))

    def embed(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Each clip's partial windows go through the LSTM in batches; their mean, normed."""
        torch = _import_torch()
        windows = [partials(mel_frames(clip)) for clip in clips]
        owner = np.concatenate([np.full(len(w), i) for i, w in enumerate(windows)])
        stacked = np.concatenate(windows) if windows else np.empty((0, 160, 40), np.float32)
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(stacked), _BATCH):
                batch = torch.from_numpy(stacked[start : start + _BATCH])
                outputs.append(self.model(batch).numpy())
        partial_vectors = np.concatenate(outputs) if outputs else np.empty((0, _HIDDEN))
        sums = np.zeros((len(clips), _HIDDEN), np.float64)
        np.add.at(sums, owner, partial_vectors)
        return normalise(sums)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


# ---- SpeechBrain ECAPA ---------------------------------------------------------------------


def find_ecapa(name: str, search_dirs: Sequence[Path] = ()) -> Path | None:
    """A local folder with the ECAPA model's files: ``name`` itself, a search dir, or the
    Hugging Face cache's newest snapshot of the repository."""
    candidates = [Path(name).expanduser()] if not _is_repo_id(name) else []
    candidates += [Path(d) for d in search_dirs]
    repo = ECAPA_REPO if name in ECAPA_ALIASES else name
    hub = Path(os.environ.get("HF_HUB_CACHE") or _hf_home() / "hub")
    snapshots = hub / f"models--{repo.replace('/', '--')}" / "snapshots"
    if snapshots.is_dir():
        candidates += sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for folder in candidates:
        if all((folder / f).is_file() for f in ECAPA_FILES):
            return folder
    return None


def _hf_home() -> Path:
    return Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")


def _is_repo_id(name: str) -> bool:
    return name in ECAPA_ALIASES or (name.count("/") == 1 and not Path(name).exists())


@dataclass
class SpeechBrainEmbedder:
    classifier: object
    source: str
    name: str = "speechbrain-ecapa"
    # ECAPA's similarities run lower than resemblyzer's (the guide clusters at 0.72); not
    # measured here, where its weights cannot be had.
    same_voice: float = 0.85

    @classmethod
    def load(
        cls,
        name: str,
        *,
        search_dirs: Sequence[Path] = (),
        import_classifier: Callable[[], type] | None = None,
    ) -> SpeechBrainEmbedder:
        """Raises EmbedderUnavailable (with the reason) when it cannot be had here."""
        try:
            classifier_type = (import_classifier or _encoder_classifier)()
        except ImportError as exc:
            raise EmbedderUnavailable("the speechbrain package is not installed") from exc
        folder = find_ecapa(name, search_dirs)
        if folder is None and not _is_repo_id(name):
            raise EmbedderUnavailable(f"{name} holds no {' and '.join(ECAPA_FILES)}")
        source = str(folder) if folder else (ECAPA_REPO if name in ECAPA_ALIASES else name)
        savedir = folder or _hf_home() / "speechbrain" / source.replace("/", "--")
        try:
            classifier = classifier_type.from_hparams(
                source=source, savedir=str(savedir), run_opts={"device": "cpu"}
            )
        except Exception as exc:  # offline, a broken download, an incompatible speechbrain
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
            raise EmbedderUnavailable(f"{source} could not be loaded: {reason}") from exc
        return cls(classifier, source)

    def embed(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        torch = _import_torch()
        out = []
        with torch.inference_mode():
            for clip in clips:
                wav = torch.from_numpy(np.ascontiguousarray(clip, np.float32))[None, :]
                vector = self.classifier.encode_batch(wav)
                out.append(np.asarray(vector, np.float64).reshape(-1))
        return normalise(np.stack(out)) if out else np.empty((0, 0), np.float32)


def _encoder_classifier() -> type:
    from speechbrain.inference.speaker import EncoderClassifier

    return EncoderClassifier
