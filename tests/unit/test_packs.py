"""Speech packs fetched from a server on 127.0.0.1: install, resume, checksums, offline, unsafe
archives, and the mww-packs command end to end. Nothing here reaches the internet.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import soundfile

from mww_trainer.packs import (
    WITHOUT_REAL_SPEECH,
    ChecksumMismatch,
    DownloadOptions,
    PackCache,
    PackCancelled,
    PackError,
    PackUnavailable,
    UnsafeArchive,
    fetch_pack,
    load_catalog,
    parse_catalog,
)
from mww_trainer.packs.archive import Limits
from tests.fakes.pack_server import (
    catalog_entry,
    closed_port_url,
    serve,
    speech_members,
    tar_gz,
    voice_pack_entry,
    write_catalog,
)

FAST = DownloadOptions(timeout_s=5, attempts=3, retry_wait_s=0, progress_interval_s=0)
ARCHIVE = "/packs/corpus.tar.gz"


@pytest.fixture(scope="module")
def members() -> dict[str, bytes]:
    return speech_members()


@pytest.fixture(scope="module")
def archive(members) -> bytes:
    return tar_gz(members)


@pytest.fixture
def server():
    with serve() as state:
        yield state


def _pack(server, archive: bytes, pack_id: str = "test-speech", **changes):
    url = server.add(ARCHIVE, archive)
    return parse_catalog(
        {"format": 1, "packs": [catalog_entry(pack_id, url, archive, **changes)]}, source="test"
    ).get(pack_id)


def test_fetch_downloads_verifies_and_installs_with_a_record(server, archive, members, tmp_path):
    cache = PackCache.for_data_dir(tmp_path / "data")
    events = []
    installed = fetch_pack(_pack(server, archive), cache, on_progress=events.append, options=FAST)

    assert installed.audio_dir == tmp_path / "data/packs/test-speech/Corpus/speech"
    audio = sorted(
        p.relative_to(installed.audio_dir).as_posix() for p in installed.audio_dir.rglob("*.*")
    )
    assert audio == ["spk0/0.wav", "spk0/1.flac", "spk1/0.flac", "spk1/1.flac"]
    for relpath in audio:
        data, rate = soundfile.read(installed.audio_dir / relpath)
        assert rate == 16000 and len(data) == 24000
    record = json.loads((installed.folder / "installed.json").read_text())
    assert record["files"][0]["sha256"] == hashlib.sha256(archive).hexdigest()
    assert record["licence"] == "CC0 1.0" and record["attribution"]
    assert record["audio_files"] == 4
    assert cache.verify("test-speech").ok
    assert cache.audio_dirs() == [installed.audio_dir]
    assert not (tmp_path / "data/packs/.downloads/test-speech").exists()  # archive removed
    downloads = [e for e in events if e.stage == "download"]
    assert downloads[-1].done == downloads[-1].total == len(archive)
    assert "rate_bytes_per_s" in downloads[-1].metrics
    assert events[-1].stage == "installed"


def test_a_dropped_connection_resumes_with_a_range_request(server, archive, tmp_path):
    pack = _pack(server, archive)
    server.drop_after[ARCHIVE] = 50_000
    installed = fetch_pack(pack, PackCache.for_data_dir(tmp_path), options=FAST)

    assert server.ranges(ARCHIVE) == [None, "bytes=50000-"]
    assert installed.files[0]["sha256"] == hashlib.sha256(archive).hexdigest()
    assert PackCache.for_data_dir(tmp_path).verify(pack.id).ok


def test_a_partial_download_left_behind_is_resumed(server, archive, tmp_path):
    pack = _pack(server, archive)
    cache = PackCache.for_data_dir(tmp_path)
    half = len(archive) // 2
    cache.downloads(pack.id).mkdir(parents=True)
    (cache.downloads(pack.id) / "corpus.tar.gz.partial").write_bytes(archive[:half])
    assert cache.partial_bytes(pack.id) == half

    fetch_pack(pack, cache, options=FAST)

    assert server.ranges(ARCHIVE) == [f"bytes={half}-"]
    assert cache.verify(pack.id).ok


def test_a_server_that_ignores_range_restarts_from_the_first_byte(server, archive, tmp_path):
    pack = _pack(server, archive)
    cache = PackCache.for_data_dir(tmp_path)
    cache.downloads(pack.id).mkdir(parents=True)
    (cache.downloads(pack.id) / "corpus.tar.gz.partial").write_bytes(archive[:1000])
    server.ignore_range = True

    fetch_pack(pack, cache, options=FAST)

    assert server.ranges(ARCHIVE) == ["bytes=1000-", None]
    assert cache.verify(pack.id).ok


def test_a_bad_checksum_deletes_the_download_and_installs_nothing(server, archive, tmp_path):
    wrong = "0" * 64
    pack = _pack(server, archive, file={"sha256": wrong})
    cache = PackCache.for_data_dir(tmp_path)

    with pytest.raises(ChecksumMismatch) as caught:
        fetch_pack(pack, cache, options=FAST)

    message = str(caught.value)
    assert "corpus.tar.gz" in message and wrong in message
    assert hashlib.sha256(archive).hexdigest() in message
    assert cache.installed(pack.id) is None
    assert not cache.folder(pack.id).exists()
    assert cache.partial_bytes(pack.id) == 0


def test_an_md5_is_checked_where_only_that_is_published(server, archive, tmp_path):
    good = hashlib.md5(archive).hexdigest()
    pack = _pack(server, archive, file={"sha256": None, "md5": good})
    assert pack.files[0].checksums == {"md5": good}
    fetch_pack(pack, PackCache.for_data_dir(tmp_path), options=FAST)

    bad = _pack(server, archive, pack_id="other", file={"sha256": None, "md5": "f" * 32})
    with pytest.raises(ChecksumMismatch, match="md5"):
        fetch_pack(bad, PackCache.for_data_dir(tmp_path), options=FAST)


def test_an_unreachable_server_says_what_the_model_will_lack(archive, tmp_path):
    offline = closed_port_url()
    entry = catalog_entry("test-speech", f"{offline}{ARCHIVE}", archive)
    pack = parse_catalog({"format": 1, "packs": [entry]}, source="test").get("test-speech")

    with pytest.raises(PackUnavailable) as caught:
        fetch_pack(pack, PackCache.for_data_dir(tmp_path), options=FAST)
    assert WITHOUT_REAL_SPEECH in str(caught.value)
    assert "corpus.tar.gz" in str(caught.value)

    with pytest.raises(PackUnavailable, match="catalog") as caught:
        load_catalog(f"{offline}/catalog.json", timeout_s=5)
    assert WITHOUT_REAL_SPEECH in str(caught.value)


def test_a_missing_file_falls_back_to_its_mirror(server, archive, tmp_path):
    mirror = server.add("/mirror/corpus.tar.gz", archive)
    entry = catalog_entry("test-speech", f"{server.url}/gone/corpus.tar.gz", archive)
    entry["files"][0]["mirrors"] = [mirror]
    pack = parse_catalog({"format": 1, "packs": [entry]}, source="test").get("test-speech")

    fetch_pack(pack, PackCache.for_data_dir(tmp_path), options=FAST)

    assert [p for p, _ in server.requests] == ["/gone/corpus.tar.gz", "/mirror/corpus.tar.gz"]


@pytest.mark.parametrize(
    ("name", "links"),
    [
        ("../escaped.flac", None),
        ("/tmp/absolute.flac", None),
        ("Corpus/x.flac", {"Corpus/l": "/etc"}),
    ],
)
def test_tar_members_that_leave_the_pack_are_refused(server, members, tmp_path, name, links):
    archive = tar_gz({**members, name: b"x" * 10}, links=links)
    cache = PackCache.for_data_dir(tmp_path / "data")

    with pytest.raises(UnsafeArchive, match="refused"):
        fetch_pack(_pack(server, archive), cache, options=FAST)

    assert cache.installed("test-speech") is None
    assert not (tmp_path / "escaped.flac").exists()
    assert [p.name for p in cache.root.iterdir()] == [".downloads"]  # no staging left


def test_zip_path_traversal_is_refused(server, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Corpus/speech/a.flac", b"x")
        archive.writestr("../../evil.flac", b"x")
    data = buffer.getvalue()
    pack = _pack(server, data, file={"archive": "zip"})

    with pytest.raises(UnsafeArchive, match=r"evil\.flac"):
        fetch_pack(pack, PackCache.for_data_dir(tmp_path / "data"), options=FAST)
    assert not (tmp_path / "evil.flac").exists()


def test_absurd_member_sizes_are_refused(server, archive, tmp_path):
    with pytest.raises(UnsafeArchive, match="limit"):
        fetch_pack(
            _pack(server, archive),
            PackCache.for_data_dir(tmp_path),
            options=FAST,
            limits=Limits(member_bytes=1000),
        )


def test_cancel_keeps_the_partial_for_the_next_fetch(server, archive, tmp_path):
    cache = PackCache.for_data_dir(tmp_path)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(PackCancelled):
        fetch_pack(_pack(server, archive), cache, options=FAST, cancel=cancel)
    assert cache.installed("test-speech") is None


def test_an_installed_pack_is_not_fetched_again_and_verify_sees_changes(server, archive, tmp_path):
    pack = _pack(server, archive)
    cache = PackCache.for_data_dir(tmp_path)
    installed = fetch_pack(pack, cache, options=FAST)
    fetch_pack(pack, cache, options=FAST)
    assert len(server.requests) == 1

    (installed.audio_dir / "spk1/1.flac").write_bytes(b"changed")
    (installed.audio_dir / "spk1/0.flac").unlink()
    report = cache.verify(pack.id)
    assert not report.ok
    assert report.changed == ("Corpus/speech/spk1/1.flac",)
    assert report.missing == ("Corpus/speech/spk1/0.flac",)
    assert cache.remove(pack.id) and cache.installed(pack.id) is None


def test_catalog_errors_name_the_pack_and_the_field(archive):
    entry = catalog_entry("ok-pack", "http://127.0.0.1/x.tar.gz", archive)
    for change, field in [
        ({"role": "positive"}, r"\(ok-pack\)\.role: 'positive' is not one of negative, voices"),
        ({"file": {"sha256": "abc"}}, "sha256"),
        ({"file": {"archive": "rar"}}, "archive"),
        ({"file": {"url": "ftp://host/x.tar.gz"}}, "ftp://"),
        ({"audio_dir": "../up"}, "audio_dir"),
        ({"id": "Bad Id"}, "id"),
    ]:
        broken = json.loads(json.dumps(entry))
        broken["files"][0].update(change.pop("file", {}))
        broken.update(change)
        with pytest.raises(PackError, match=field):
            parse_catalog({"format": 1, "packs": [broken]}, source="test")
    no_sum = json.loads(json.dumps(entry))
    del no_sum["files"][0]["sha256"]
    with pytest.raises(PackError, match="sha256"):
        parse_catalog({"format": 1, "packs": [no_sum]}, source="test")


def test_the_built_in_catalog_has_checksums_licences_and_sizes():
    catalog = load_catalog()
    assert "librispeech-dev-clean" in [p.id for p in catalog.packs]
    dev_clean = catalog.get("librispeech-dev-clean")
    assert dev_clean.size_bytes == 337926286 and dev_clean.licence == "CC BY 4.0"
    for pack in catalog.packs:
        assert pack.role in ("negative", "voices") and pack.attribution and pack.licence
        assert all(f.sha256 or f.md5 for f in pack.files)
    voices = [p for p in catalog.packs if p.role == "voices"]
    libritts = catalog.get("piper-libritts-r-medium")
    assert libritts in voices and libritts.licence == "CC BY 4.0"
    names = sorted(f.name for f in libritts.files)
    assert names == ["en_US-libritts_r-medium.onnx", "en_US-libritts_r-medium.onnx.json"]
    onnx = next(f for f in libritts.files if f.name.endswith(".onnx"))
    assert onnx.size_bytes == 78580914 and onnx.archive == "file"
    assert onnx.sha256 == "10bb85e071d616fcf4071f369f1799d0491492ab3c5d552ec19fb548fac13195"
    for pack in voices:  # every file pinned twice, from rhasspy/piper-voices
        assert all(f.sha256 and f.md5 and "rhasspy/piper-voices" in f.url for f in pack.files)
    with pytest.raises(PackError, match="known: librispeech"):
        catalog.get("nope")


def test_relative_urls_in_a_served_catalog_resolve_against_it(server, archive):
    entry = catalog_entry("rel", "corpus.tar.gz", archive)
    server.add("/packs/catalog.json", json.dumps({"format": 1, "packs": [entry]}).encode())
    catalog = load_catalog(f"{server.url}/packs/catalog.json")
    assert catalog.get("rel").files[0].url == f"{server.url}/packs/corpus.tar.gz"


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`mww-packs ARGS` as installed beside this Python (the module where it is not yet)."""
    script = Path(sys.executable).parent / "mww-packs"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mww_trainer.cli.packs"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_lists_fetches_prints_the_path_and_verifies(server, archive, tmp_path):
    url = server.add(ARCHIVE, archive)
    catalog = write_catalog(tmp_path / "catalog.json", catalog_entry("test-speech", url, archive))
    data = str(tmp_path / "data")
    where = ["--catalog", str(catalog), "--data-dir", data]

    listed = _cli("list", *where)
    assert listed.returncode == 0, listed.stderr
    assert "test-speech" in listed.stdout and "CC0 1.0" in listed.stdout
    assert WITHOUT_REAL_SPEECH in listed.stdout

    refused = _cli("fetch", "test-speech", *where)  # no terminal to confirm on, no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert not server.requests

    fetched = _cli("fetch", "test-speech", *where, "--yes")
    assert fetched.returncode == 0, fetched.stderr
    assert "CC0 1.0" in fetched.stdout and "[download] 100.0%" in fetched.stderr

    path = _cli("path", "test-speech", "--data-dir", data)
    assert path.returncode == 0
    assert Path(path.stdout.strip()) == tmp_path / "data/packs/test-speech/Corpus/speech"
    assert "installed" in _cli("list", *where).stdout
    verified = _cli("verify", "test-speech", "--data-dir", data)
    assert verified.returncode == 0 and "5 files" in verified.stdout


def test_cli_offline_is_one_clear_line_not_a_traceback(archive, tmp_path):
    offline = closed_port_url()
    catalog = write_catalog(
        tmp_path / "catalog.json", catalog_entry("test-speech", f"{offline}/x.tar.gz", archive)
    )
    where = ["--catalog", str(catalog), "--data-dir", str(tmp_path / "data"), "--yes"]
    result = _cli("fetch", "test-speech", *where, "--attempts", "1")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert WITHOUT_REAL_SPEECH in result.stderr

    remote = _cli("list", "--catalog", f"{offline}/catalog.json")
    assert remote.returncode == 2 and WITHOUT_REAL_SPEECH in remote.stderr

    missing = _cli("path", "test-speech", "--data-dir", str(tmp_path / "data"))
    assert missing.returncode == 1 and "mww-packs fetch test-speech" in missing.stderr


# --- voice packs: piper voices for mww-synth, never negatives ----------------------------


def _voice_files(name: str = "en_US-tiny-medium") -> dict[str, bytes]:
    return {f"{name}.onnx": b"not really an onnx model" * 100, f"{name}.onnx.json": b"{}"}


def test_a_voice_pack_installs_its_models_apart_from_the_speech_packs(server, archive, tmp_path):
    catalog = parse_catalog(
        {
            "format": 1,
            "packs": [
                voice_pack_entry("test-voices", server, _voice_files()),
                catalog_entry("test-speech", server.add(ARCHIVE, archive), archive),
            ],
        },
        source="test",
    )
    cache = PackCache.for_data_dir(tmp_path / "data")
    voices = fetch_pack(catalog.get("test-voices"), cache, options=FAST)
    speech = fetch_pack(catalog.get("test-speech"), cache, options=FAST)

    assert voices.role == "voices" and voices.audio_files == 1  # one model
    assert voices.audio_dir == tmp_path / "data/packs/test-voices"
    assert sorted(p.name for p in voices.audio_dir.glob("*.onnx*")) == sorted(_voice_files())
    assert cache.voice_dirs() == [voices.audio_dir]
    assert cache.audio_dirs() == [speech.audio_dir]  # what training reads: never the voices
    assert cache.verify("test-voices").ok


def test_a_voice_pack_without_a_model_and_its_config_is_not_installed(server, tmp_path):
    files = {"en_US-tiny-medium.onnx": b"model without its config"}
    pack = parse_catalog(
        {"format": 1, "packs": [voice_pack_entry("half-voice", server, files)]}, source="test"
    ).get("half-voice")
    cache = PackCache.for_data_dir(tmp_path)
    with pytest.raises(PackError, match=r"half-voice: no piper voice \(NAME\.onnx with"):
        fetch_pack(pack, cache, options=FAST)
    assert cache.installed("half-voice") is None and cache.voice_dirs() == []


def test_cli_fetches_a_voice_pack_and_prints_its_folder(server, tmp_path):
    entry = voice_pack_entry("test-voices", server, _voice_files())
    catalog = write_catalog(tmp_path / "catalog.json", entry)
    data = str(tmp_path / "data")
    listed = _cli("list", "--catalog", str(catalog), "--data-dir", data)
    assert listed.returncode == 0 and "voices" in listed.stdout
    fetched = _cli("fetch", "test-voices", "--catalog", str(catalog), "--data-dir", data, "--yes")
    assert fetched.returncode == 0, fetched.stderr
    assert "1 piper voice(s)" in fetched.stdout and "mww-synth --voice-packs" in fetched.stdout
    path = _cli("path", "test-voices", "--data-dir", data)
    assert Path(path.stdout.strip()) == tmp_path / "data/packs/test-voices"
