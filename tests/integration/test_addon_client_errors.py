"""A client's mistakes are 4xx answers with a sentence naming the field or the file; a full
disk is 507. None of these may be a 500 "internal error"."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from addon.app import create_app
from addon.settings import Settings

pytestmark = pytest.mark.asyncio
JSON = {"Content-Type": "application/json"}


@pytest_asyncio.fixture
async def client(aiohttp_client, tmp_path: Path):
    client = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data")))
    assert (await client.post("/api/projects", json={"phrase": "hey"})).status == 201
    job = await client.post("/api/projects/hey/synth", json={"rirs": 1})
    assert (await client.post(f"/api/jobs/{(await job.json())['id']}/cancel")).status == 200
    return client


def multipart(file_part_headers: bytes, *, boundary: bytes = b"XyZ", end: bool = True) -> bytes:
    body = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="label"\r\n\r\npositive\r\n'
    )
    body += b"--" + boundary + b"\r\n" + file_part_headers + b"\r\n\r\nRIFF....\r\n"
    return body + (b"--" + boundary + b"--\r\n" if end else b"")


def file_part(filename: bytes) -> bytes:
    return b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"'


def bad_crc_zip(wav: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("alice/take.wav", wav)
    data = bytearray(buffer.getvalue())
    data[data.find(b"RIFF") + 100] ^= 0xFF  # one flipped byte: the CRC no longer matches
    return bytes(data)


FORM = {"Content-Type": "multipart/form-data; boundary=XyZ"}
CASES = [
    # (method, path, body, headers, status, what the message must say)
    ("POST", "/api/projects", b'{"phrase": "a b", "slug": 5}', JSON, 400, "slug: give text"),
    ("POST", "/api/projects", b'{"phrase": "a b", "language": [1]}', JSON, 400, "language:"),
    ("POST", "/api/projects", b'{"phrase": "a b", "website": 3}', JSON, 400, "website:"),
    ("POST", "/api/projects", b"[" * 100_000, JSON, 400, "nested 100000 levels deep"),
    (
        "POST",
        "/api/projects/hey/synth",
        b'{"rirs": ' + b"9" * 5000 + b"}",
        JSON,
        400,
        "5000 digits",
    ),
    ("POST", "/api/projects/hey/synth", b'{"rirs": ' + b"9" * 400 + b"}", JSON, 400, "400 digits"),
    ("POST", "/api/projects/hey/synth", b'{"rirs": NaN}', JSON, 400, "NaN"),
    ("POST", "/api/projects/hey/train", b'{"seed": 99999999999}', JSON, 400, "seed:"),
    ("GET", "/api/jobs/" + "9" * 30, None, None, 400, "id: '9999"),
    ("GET", "/api/projects/hey/samples/" + "9" * 30 + "/audio", None, None, 400, "id:"),
    ("GET", "/api/jobs/1/events?after=abc", None, None, 400, "after: 'abc'"),
    ("GET", "/api/jobs?project=" + "x" * 5000, None, None, 404, "x' not found"),
    (
        "POST",
        "/api/projects/hey/samples",
        multipart(file_part(b"a\x00b.wav")),
        FORM,
        400,
        "multipart",
    ),
    (
        "POST",
        "/api/projects/hey/samples",
        multipart(file_part(b"a" * 10_000)),
        FORM,
        400,
        "multipart",
    ),
    (
        "POST",
        "/api/projects/hey/samples",
        multipart(file_part(b"x.wav"), end=False),
        FORM,
        400,
        "multipart",
    ),
    (
        "POST",
        "/api/projects/hey/samples",
        multipart(file_part(b"x.wav")),
        {"Content-Type": "multipart/form-data"},
        400,
        "boundary",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "says"), CASES)
async def test_client_mistakes_are_4xx_naming_the_field(
    client, method, path, body, headers, status, says
):
    response = await client.request(method, path, data=body, headers=headers)
    error = (await response.json())["error"]
    assert response.status == status, error
    assert says in error and len(error) < 400


async def test_a_zip_member_with_a_bad_crc_is_named(client, tone_wav):
    form = aiohttp.FormData()
    form.add_field("label", "positive")
    form.add_field("file", bad_crc_zip(tone_wav.read_bytes()), filename="takes.zip")
    response = await client.post("/api/projects/hey/samples", data=form)
    assert response.status == 415
    assert "alice/take.wav: damaged inside the zip (Bad CRC-32" in (await response.json())["error"]


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 16 MiB tmpfs (needs root and CAP_SYS_ADMIN): a disk that really fills up."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_an_upload_onto_a_full_disk_is_a_507(aiohttp_client, small_disk, tone_wav):
    settings = Settings(data_dir=small_disk / "data", max_upload_mb=64)
    client = await aiohttp_client(create_app(settings))
    assert (await client.post("/api/projects", json={"phrase": "hey"})).status == 201
    form = aiohttp.FormData()
    form.add_field("label", "background")
    form.add_field("file", b"\0" * (24 * 2**20), filename="huge.wav")
    response = await client.post("/api/projects/hey/samples", data=form)
    assert response.status == 507
    assert "disk is full" in (await response.json())["error"]
    assert list((settings.data_dir / "tmp").iterdir()) == []  # the partial upload is gone
    form = aiohttp.FormData()
    form.add_field("label", "positive")
    form.add_field("file", tone_wav.read_bytes(), filename="tone.wav")
    assert (await client.post("/api/projects/hey/samples", data=form)).status == 201


async def test_errors_name_the_users_file_never_a_temporary_copy(client):
    form = aiohttp.FormData()
    form.add_field("label", "positive")
    form.add_field("file", b"these are notes, not audio\n" * 40, filename="notes.wav")
    response = await client.post("/api/projects/hey/samples", data=form)
    error = (await response.json())["error"]
    assert response.status == 415 and error.startswith("notes.wav: not a readable audio file")
    assert "file_0" not in error and "member_" not in error


async def test_speaker_names_may_use_any_script(client, tone_wav):
    for speaker in ("Jürgen", "Zoë Ødegaard", "李雷"):
        form = aiohttp.FormData()
        form.add_field("label", "positive")
        form.add_field("speaker", speaker)
        form.add_field("file", tone_wav.read_bytes() + speaker.encode(), filename="t.wav")
        response = await client.post("/api/projects/hey/samples", data=form)
        assert response.status in (201, 409), await response.text()
    samples = (await (await client.get("/api/projects/hey/samples")).json())["samples"]
    assert samples[0]["speaker"] == "Jürgen"
    form = aiohttp.FormData()
    form.add_field("label", "positive")
    form.add_field("speaker", "bad\nname")
    form.add_field("file", tone_wav.read_bytes(), filename="t.wav")
    assert (await client.post("/api/projects/hey/samples", data=form)).status == 400


async def test_a_huge_metadata_json_is_refused_before_it_is_read(client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", b" " * (17 * 2**20) + b"{}")
    assert len(buffer.getvalue()) < 100_000
    form = aiohttp.FormData()
    form.add_field("file", buffer.getvalue(), filename="project.zip")
    response = await client.post("/api/projects/import", data=form)
    assert response.status == 400
    assert "metadata.json unpacks to 17 MiB" in (await response.json())["error"]
