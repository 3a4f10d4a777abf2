"""Speech packs: real people talking, fetched once into the data folder, used as negatives;
and voice packs: piper voice models that speak positives and hard negatives in mww-synth.

    from mww_trainer.packs import PackCache, fetch_pack, load_catalog
    pack = load_catalog().get("librispeech-dev-clean")
    installed = fetch_pack(pack, PackCache.for_data_dir("data"), on_progress=print)
    installed.audio_dir  # -> paths.negative_pack_dirs
    PackCache.for_data_dir("data").voice_dirs()  # -> mww-synth's voice_pack_dirs

Modules: catalog (the JSON format and the built-in catalog), download (resumable HTTP with
checksums), archive (safe unpacking), cache (the data folder's packs), fetch (all together).
"""

from mww_trainer.packs.cache import InstalledPack, PackCache, VerifyReport
from mww_trainer.packs.catalog import (
    NEGATIVE,
    VOICES,
    Catalog,
    Pack,
    PackFile,
    human_size,
    load_catalog,
    parse_catalog,
)
from mww_trainer.packs.download import DownloadOptions
from mww_trainer.packs.errors import (
    WITHOUT_REAL_SPEECH,
    ChecksumMismatch,
    PackCancelled,
    PackError,
    PackUnavailable,
    UnsafeArchive,
)
from mww_trainer.packs.fetch import fetch_pack

__all__ = [
    "NEGATIVE",
    "VOICES",
    "WITHOUT_REAL_SPEECH",
    "Catalog",
    "ChecksumMismatch",
    "DownloadOptions",
    "InstalledPack",
    "Pack",
    "PackCache",
    "PackCancelled",
    "PackError",
    "PackFile",
    "PackUnavailable",
    "UnsafeArchive",
    "VerifyReport",
    "fetch_pack",
    "human_size",
    "load_catalog",
    "parse_catalog",
]
