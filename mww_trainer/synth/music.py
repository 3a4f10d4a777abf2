"""Music from installed Debian game-music packages, for background files and under ambient talk.

A model that has only heard speech over noise may wake on a song's sung or spoken words and on
its instruments' sweeps. Game music packages ship free Ogg Vorbis tracks; when one is
installed, mww-synth cuts excerpts from its tracks (``background/music_0000.wav``) and lays
music under some of its ambient talk. Tracks are found in fixed folders and sorted, so one
installation always gives the same excerpts for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from mww_trainer import constants
from mww_trainer.errors import MwwError
from mww_trainer.synth.engines import to_16k

# Debian packages of game music (Ogg Vorbis tracks), and where each puts its tracks.
PACKAGES = {
    "drascula-music": Path("/usr/share/scummvm/drascula/audio"),
    "singularity-music": Path("/usr/share/games/singularity/music"),
}
INSTALL_HINT = "the Debian package drascula-music (or singularity-music)"
_MIN_TRACK_S = 5.0


@dataclass(frozen=True)
class Track:
    path: Path
    name: str  # "<package>/<file>", what the manifest records
    frames: int
    rate_hz: int


def find_tracks(packages: dict[str, Path] | None = None) -> tuple[Track, ...]:
    """Every readable Ogg track of the installed game-music packages, by package and name."""
    found = []
    for package, folder in sorted((packages or PACKAGES).items()):
        for path in sorted(folder.glob("*.ogg")) if folder.is_dir() else ():
            try:
                info = soundfile.info(path)
            except (OSError, soundfile.LibsndfileError):
                continue  # a damaged track is simply not used
            if info.frames >= _MIN_TRACK_S * info.samplerate:
                found.append(Track(path, f"{package}/{path.name}", info.frames, info.samplerate))
    return tuple(found)


def excerpt(tracks: tuple[Track, ...], n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """``n`` samples (16 kHz mono) from a random place in a random track, looped if short."""
    track = tracks[int(rng.integers(len(tracks)))]
    wanted = int(np.ceil(n * track.rate_hz / constants.SAMPLE_RATE_HZ)) + 64
    start = int(rng.integers(max(1, track.frames - wanted)))
    try:
        with soundfile.SoundFile(track.path) as f:
            f.seek(start)
            raw = f.read(min(wanted, track.frames - start), dtype="float32", always_2d=True)
    except (OSError, soundfile.LibsndfileError) as exc:
        raise MwwError(f"cannot read the music track {track.path}: {exc}") from exc
    audio = to_16k(raw.mean(axis=1), track.rate_hz)
    if audio.size < n:
        audio = np.tile(audio, n // max(audio.size, 1) + 1)
    meta = {"track": track.name, "track_start_s": round(start / track.rate_hz, 3)}
    return np.ascontiguousarray(audio[:n], dtype=np.float32), meta
