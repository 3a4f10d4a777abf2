"""A speech pack made from ../shared/real_speech, served from 127.0.0.1 and installed like a
downloaded one: prints the build, download, unpack and verify figures.

    .venv/bin/python bench/real_speech_pack.py --out /tmp/real_speech_pack
    .venv/bin/python bench/real_speech_pack.py --out /tmp/rsp --only librispeech --serve

The real-speech folder stands in for a pack a user's online Home Assistant would download
(the product never reads it). It is only read; the archive, catalog and the installed pack go
under --out. With --serve it keeps serving the catalog for `mww-packs fetch ... --catalog URL`.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import soundfile

from mww_trainer.packs import PackCache, fetch_pack, human_size, load_catalog
from mww_trainer.progress import ProgressEvent

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "real_speech"
PACK_ID = "real-speech-stand-in"
ATTRIBUTION = (
    "LibriSpeech (Panayotov et al., OpenSLR 12), CC BY 4.0, excerpt as shipped in "
    "resemble-ai/Resemblyzer; Speech Commands v0.02 test set (Warden 2018, Google), CC BY 4.0, "
    "as shipped in thegtagamer/PICO-tinyML-benchmark. See README.md inside the pack."
)


def build(source: Path, only: str | None, out: Path) -> Path:
    """out/real_speech.tar.gz (audio + the README and licences) and out/catalog.json."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / "real_speech.tar.gz"
    folders = [source / only] if only else [p for p in sorted(source.iterdir()) if p.is_dir()]
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(source / "README.md", arcname="real_speech/README.md")
        for folder in folders:
            tar.add(folder, arcname=f"real_speech/{folder.name}")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    entry = {
        "id": PACK_ID,
        "title": f"Real speech stand-in ({only or 'all of it'})",
        "description": "recorded people, for benches: stands in for a downloaded pack",
        "role": "negative",
        "licence": "CC BY 4.0",
        "licence_url": "https://creativecommons.org/licenses/by/4.0/",
        "attribution": ATTRIBUTION,
        "audio_dir": "real_speech",
        "files": [
            {
                "url": archive.name,  # relative: resolved against the served catalog's URL
                "size": archive.stat().st_size,
                "sha256": digest,
                "archive": "tar.gz",
            }
        ],
    }
    catalog = out / "catalog.json"
    catalog.write_text(json.dumps({"format": 1, "packs": [entry]}, indent=1), encoding="utf-8")
    return catalog


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(folder: Path) -> ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def install(catalog_url: str, data_dir: Path) -> None:
    pack = load_catalog(catalog_url).get(PACK_ID)
    cache = PackCache.for_data_dir(data_dir)
    cache.remove(PACK_ID)
    marks: dict[str, float] = {}

    def on_progress(event: ProgressEvent) -> None:
        marks.setdefault(event.stage, time.perf_counter())
        marks[f"{event.stage}_end"] = time.perf_counter()

    started = time.perf_counter()
    installed = fetch_pack(pack, cache, on_progress=on_progress)
    total_s = time.perf_counter() - started
    download_s = marks["download_end"] - started
    unpack_s = marks.get("unpack_end", marks["download_end"]) - marks["download_end"]
    seconds = sum(soundfile.info(p).duration for p in _audio(installed.audio_dir))
    verify_started = time.perf_counter()
    report = cache.verify(PACK_ID)
    print(f"download      {human_size(pack.size_bytes)} in {download_s:.1f} s", end=" ")
    print(f"({human_size(pack.size_bytes / max(download_s, 1e-9))}/s, sha256 checked)")
    print(f"unpack        {unpack_s:.1f} s; install in all {total_s:.1f} s")
    print(f"installed     {installed.audio_files} audio files, {seconds / 3600:.2f} h,", end=" ")
    print(f"in {installed.audio_dir}")
    print(
        f"verify        {report.checked} files in {time.perf_counter() - verify_started:.1f} s:",
        end=" ",
    )
    print("ok" if report.ok else f"{len(report.missing)} missing, {len(report.changed)} changed")
    print(f"train with    paths.negative_pack_dirs: [{installed.audio_dir}]")


def _audio(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix.lower() in (".flac", ".wav")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="archive, catalog and data go here")
    parser.add_argument("--source", type=Path, default=SOURCE, help=f"default: {SOURCE}")
    parser.add_argument("--only", help="one sub-folder (librispeech, speech_commands_test)")
    parser.add_argument("--data-dir", type=Path, help="where to install (default: OUT/data)")
    parser.add_argument("--serve", action="store_true", help="keep serving after installing")
    args = parser.parse_args()
    if not (args.source / "README.md").is_file():
        print(f"skipped: {args.source} is not there (the real-speech stand-in is absent)")
        return 0
    out = args.out.resolve()
    if out.is_relative_to(args.source.resolve()):
        parser.error("--out must not be inside the (read-only) real-speech folder")
    started = time.perf_counter()
    build(args.source, args.only, out / "served")
    print(f"build         {time.perf_counter() - started:.1f} s -> {out / 'served'}")
    httpd = serve(out / "served")
    catalog_url = f"http://127.0.0.1:{httpd.server_address[1]}/catalog.json"
    try:
        install(catalog_url, args.data_dir or out / "data")
        if args.serve:
            print(f"serving       {catalog_url}  (mww-packs fetch {PACK_ID} --catalog URL)")
            print("              Ctrl-C to stop")
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
