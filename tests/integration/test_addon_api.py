"""The add-on's API through aiohttp's test client and the real create_app factory."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from addon.app import create_app
from addon.keys import STORE
from addon.routes.system import STATIC_DIR
from addon.settings import Settings
from tests.fakes.hostile import alias_bomb

pytestmark = pytest.mark.asyncio
INGRESS = "/api/hassio_ingress/Xy12_ab"
USER_HEADERS = {
    "X-Remote-User-Id": "8f3c",
    "X-Remote-User-Name": "alice",
    "X-Remote-User-Display-Name": "Alice Example",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", max_upload_mb=2)


@pytest_asyncio.fixture
async def client(aiohttp_client, settings: Settings):
    return await aiohttp_client(create_app(settings))


async def _project(client, phrase: str = "hey computer", headers=None) -> dict:
    response = await client.post("/api/projects", json={"phrase": phrase}, headers=headers)
    assert response.status == 201, await response.text()
    return await response.json()


def _form(path_or_bytes, *, label="positive", name="clip.wav", **fields) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("label", label)
    for key, value in fields.items():
        form.add_field(key, value)
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


async def test_health_reports_versions_and_the_cpu(client, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    response = await client.get("/api/health")
    assert response.status == 200
    health = await response.json()
    assert health["status"] == "ok"
    assert health["python"].startswith("3.11")
    assert health["tensorflow"] and health["tensorflow"][0].isdigit()
    assert health["device"] == "CPU"


async def test_health_names_the_gpu_from_nvidia_smi(client, monkeypatch, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0a1b2c3d)'\n"
        'echo "$1" >> "$(dirname "$0")/calls"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    for _ in range(2):
        health = await (await client.get("/api/health")).json()
        assert health["device"] == "NVIDIA H100 80GB HBM3"
    assert (tmp_path / "calls").read_text().split() == ["-L"]  # asked once, then cached


async def test_the_page_uses_relative_links_and_honours_the_ingress_path(client):
    response = await client.get("/", headers={"X-Ingress-Path": INGRESS})
    page = await response.text()
    assert response.status == 200
    assert f'<base href="{INGRESS}/">' in page
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert links and all(
        not link.startswith(("/", "http:", "https:", "//"))
        for link in links
        if link != f"{INGRESS}/"
    )
    for script in STATIC_DIR.glob("*.js"):
        text = script.read_text()
        assert not re.search(r"""['"`]/(api|static)""", text), f"{script.name} has an absolute URL"
        assert "fetch('/" not in text
    assert "new URL('api/ws', document.baseURI)" in (STATIC_DIR / "api.js").read_text()
    for name in [f"static/{p.name}" for p in STATIC_DIR.iterdir()]:
        assert (await client.get(f"/{name}", headers={"X-Ingress-Path": INGRESS})).status == 200
    bad = await client.get("/", headers={"X-Ingress-Path": '"><script>'})
    assert '<script>"' not in await bad.text() and "<base" not in await bad.text()


async def test_websocket_pushes_library_changes(client, speech_wav: Path):
    project = await _project(client)
    async with client.ws_connect("/api/ws", headers={"X-Ingress-Path": INGRESS}) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        response = await client.post(
            f"/api/projects/{project['slug']}/samples", data=_form(speech_wav)
        )
        assert response.status == 201
        message = await ws.receive_json(timeout=5)
        assert message == {"type": "samples", "project": "hey_computer"}


async def test_only_the_ingress_proxy_is_served_under_the_supervisor(aiohttp_client, tmp_path):
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", supervisor=True)
    app = create_app(settings)

    @web.middleware
    async def fake_remote(request: web.Request, handler):
        remote = request.headers.get("X-Test-Remote")
        return await handler(request.clone(remote=remote) if remote else request)

    app.middlewares.insert(0, fake_remote)
    client = await aiohttp_client(app)
    refused = await client.get("/api/projects")
    assert refused.status == 403
    assert "ingress" in (await refused.json())["error"]
    assert (await client.get("/", headers={"X-Test-Remote": "172.30.32.3"})).status == 403
    allowed = await client.get("/api/projects", headers={"X-Test-Remote": "172.30.32.2"})
    assert allowed.status == 200


async def test_token_is_required_off_loopback(aiohttp_client, tmp_path):
    token = "s3cret-token-0123456789"
    client = await aiohttp_client(
        create_app(Settings(data_dir=tmp_path, host="0.0.0.0", token=token))
    )
    assert (await client.get("/api/projects")).status == 401
    assert (await client.get("/api/health")).status == 200
    bearer = await client.get("/api/projects", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status == 200
    assert (
        await client.get("/api/projects", headers={"Authorization": "Bearer nope"})
    ).status == 401
    page = await client.get(f"/?token={token}")
    assert page.status == 200
    assert page.cookies["mww_token"].value == token
    assert (await client.get("/api/projects")).status == 200  # the cookie now


async def test_the_home_assistant_user_is_recorded(client, speech_wav: Path):
    project = await _project(client, headers=USER_HEADERS)
    assert project["created_by"] == "Alice Example"
    assert project["author"] == "Alice Example"
    response = await client.post(
        "/api/projects/hey_computer/samples",
        data=_form(speech_wav, source="browser"),
        headers=USER_HEADERS,
    )
    [sample] = (await response.json())["added"]
    assert sample["created_by"] == "Alice Example"
    assert sample["speaker"] == "Alice Example"  # no speaker given: the user's name
    job = await client.post(
        "/api/projects/hey_computer/synth", json={"rirs": 1}, headers=USER_HEADERS
    )
    assert (await job.json())["created_by"] == "Alice Example"
    await client.post(f"/api/jobs/{(await job.json())['id']}/cancel")


async def test_upload_list_play_and_delete_a_sample(client, settings, speech_wav: Path):
    await _project(client)
    form = _form(speech_wav, speaker="Bob", source="browser")
    response = await client.post("/api/projects/hey_computer/samples", data=form)
    assert response.status == 201
    [sample] = (await response.json())["added"]
    assert sample["label"] == "positive" and sample["source"] == "browser"
    assert sample["path"].startswith("dataset/positive/bob/browser_")
    assert 0.3 < sample["duration_s"] < 1.5  # trimmed
    again = await client.post(
        "/api/projects/hey_computer/samples", data=_form(speech_wav, source="browser")
    )
    assert again.status == 409 and "already sample" in (await again.json())["error"]

    listed = await (await client.get("/api/projects/hey_computer/samples?label=positive")).json()
    assert [s["id"] for s in listed["samples"]] == [sample["id"]]
    audio = await client.get(f"/api/projects/hey_computer/samples/{sample['id']}/audio")
    assert audio.status == 200 and (await audio.read())[:4] == b"RIFF"

    url = f"/api/projects/hey_computer/samples/{sample['id']}"
    unconfirmed = await client.delete(url)
    assert unconfirmed.status == 400 and "confirm" in (await unconfirmed.json())["error"]
    assert (settings.projects_dir / "hey_computer" / sample["path"]).is_file()
    assert (await client.delete(f"{url}?confirm={sample['id']}")).status == 200
    assert not (settings.projects_dir / "hey_computer" / sample["path"]).exists()


async def test_a_non_audio_upload_is_a_clear_error(client, settings, bad_audio_files):
    await _project(client)
    for name in ("text", "mp3_as_wav", "empty"):
        response = await client.post(
            "/api/projects/hey_computer/samples", data=_form(bad_audio_files[name], name="x.wav")
        )
        assert response.status == 415, name
        assert "x.wav" in (await response.json())["error"]
    assert _files_under(settings.projects_dir / "hey_computer" / "dataset") == []
    assert _files_under(settings.data_dir / "tmp") == []


async def test_a_2gb_upload_is_refused_before_it_is_read(client, settings):
    await _project(client)
    sent = 0

    async def body():
        nonlocal sent
        chunk = b"\0" * 2**20
        for _ in range(2048):
            sent += len(chunk)
            yield chunk

    started = time.monotonic()
    headers = {"Content-Length": str(2 * 2**30), "Content-Type": "multipart/form-data; boundary=b"}
    response = await client.post("/api/projects/hey_computer/samples", data=body(), headers=headers)
    assert response.status == 413
    assert "2 MiB limit" in (await response.json())["error"]
    response.release()
    assert time.monotonic() - started < 10
    assert sent < 256 * 2**20  # nowhere near the 2 GB
    assert _files_under(settings.data_dir / "tmp") == []


async def test_a_streamed_upload_without_length_is_cut_off_at_the_limit(client, settings):
    await _project(client)
    sent = 0

    async def body():
        nonlocal sent
        head = (
            b'--b\r\nContent-Disposition: form-data; name="label"\r\n\r\npositive\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n"
        )
        yield head
        for _ in range(64):  # 64 MiB if it were all read
            sent += 2**20
            yield b"\1" * 2**20

    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    response = await client.post("/api/projects/hey_computer/samples", data=body(), headers=headers)
    assert response.status == 413
    response.release()
    assert sent < 64 * 2**20
    assert _files_under(settings.data_dir / "tmp") == []
    assert _files_under(settings.projects_dir / "hey_computer" / "dataset") == []


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


async def test_a_zip_with_parent_paths_is_refused_and_nothing_extracted(
    client, settings, speech_wav: Path, tone_wav: Path
):
    await _project(client)
    evil = _zip({"ok.wav": tone_wav.read_bytes(), "../../evil.wav": speech_wav.read_bytes()})
    response = await client.post(
        "/api/projects/hey_computer/samples", data=_form(evil, name="x.zip", label="negative")
    )
    assert response.status == 400
    assert "zip refused, nothing was extracted" in (await response.json())["error"]
    assert "../../evil.wav" in (await response.json())["error"]
    assert _files_under(settings.data_dir / "projects") == []
    assert not list(settings.data_dir.parent.rglob("evil.wav"))
    samples = await (await client.get("/api/projects/hey_computer/samples")).json()
    assert samples["samples"] == []


async def test_a_zip_of_clips_lands_in_one_label_by_speaker(
    client, speech_wav, noise_wav, tmp_path
):
    await _project(client)
    archive = _zip(
        {
            "carol/one.wav": speech_wav.read_bytes(),
            "dave/two.wav": noise_wav.read_bytes(),
            "notes.txt": b"not audio",
            "__MACOSX/._one.wav": b"junk",
        }
    )
    response = await client.post(
        "/api/projects/hey_computer/samples", data=_form(archive, name="clips.zip")
    )
    assert response.status == 201
    result = await response.json()
    assert sorted(s["speaker"] for s in result["added"]) == ["carol", "dave"]
    assert len(result["skipped"]) == 1 and "notes.txt" in result["skipped"][0]


async def test_bad_wake_word_names_are_clear_errors_and_change_nothing(client):
    await _project(client)
    for phrase, text in (
        ("hey/computer", "'/' is not allowed"),
        ("hey 🤖", "is not allowed"),
        ("../../etc", "'/' is not allowed"),
        ("...", "phrase: '...' has no letters or digits"),
    ):
        response = await client.post("/api/projects", json={"phrase": phrase})
        assert response.status == 400
        assert text in (await response.json())["error"]
    clash = await client.post("/api/projects", json={"phrase": "Hey, computer!"})
    assert clash.status == 409
    listed = await (await client.get("/api/projects")).json()
    assert [p["slug"] for p in listed["projects"]] == ["hey_computer"]
    as_json = {"Content-Type": "application/json"}
    assert (await client.post("/api/projects", data=b"{not json", headers=as_json)).status == 400
    assert (await client.post("/api/projects", data=b"{not json")).status == 415


async def test_training_requests_show_the_config_loaders_messages(client, speech_wav):
    await _project(client)
    url = "/api/projects/hey_computer/train"
    response = await client.post(
        url, json={"preset": "fast_test", "overrides": "training:\n  batch_size: -3\n"}
    )
    assert response.status == 400
    assert "training.batch_size: -3 is not allowed" in (await response.json())["error"]
    response = await client.post(url, json={"overrides": "training: [1,"})
    assert "invalid YAML" in (await response.json())["error"]
    response = await client.post(url, json={"preset": "fast_test"})
    assert response.status == 400
    assert "no wake-word clips and no other speech yet" in (await response.json())["error"]
    jobs = await (await client.get("/api/jobs")).json()
    assert jobs["jobs"] == []


async def test_deleting_a_project_must_be_confirmed(client, settings, speech_wav):
    await _project(client)
    await client.post("/api/projects/hey_computer/samples", data=_form(speech_wav))
    response = await client.delete("/api/projects/hey_computer")
    error = (await response.json())["error"]
    assert response.status == 400 and "type its name, hey_computer, to confirm" in error
    assert "?confirm" not in error  # the panel's user never sees the API's parameter
    assert (await client.delete("/api/projects/hey_computer?confirm=hey")).status == 400
    assert _files_under(settings.projects_dir / "hey_computer")
    response = await client.delete("/api/projects/hey_computer", json={"confirm": "hey_computer"})
    assert response.status == 200
    assert not (settings.projects_dir / "hey_computer").exists()
    assert (await client.get("/api/projects/hey_computer")).status == 404


async def test_project_export_and_import_round_trip(client, settings, speech_wav, noise_wav):
    await _project(client, headers=USER_HEADERS)
    await client.post("/api/projects/hey_computer/samples", data=_form(speech_wav, speaker="Eve"))
    await client.post(
        "/api/projects/hey_computer/samples", data=_form(noise_wav, label="background")
    )
    response = await client.get("/api/projects/hey_computer/export")
    assert response.status == 200
    exported = await response.read()
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:
        metadata = json.loads(archive.read("metadata.json"))
        assert len(metadata["samples"]) == 2
        assert all(name.startswith("dataset/") for name in archive.namelist()[1:])
    assert _files_under(settings.data_dir / "tmp") == []

    form = aiohttp.FormData()
    form.add_field("slug", "hey_computer_copy")
    form.add_field("file", exported, filename="p.zip")
    response = await client.post("/api/projects/import", data=form)
    assert response.status == 201, await response.text()
    copy = await response.json()
    assert copy["phrase"] == "hey computer" and copy["created_by"] == "Alice Example"
    assert copy["counts"]["positive"]["count"] == 1
    assert copy["counts"]["background"]["count"] == 1
    samples = await (await client.get("/api/projects/hey_computer_copy/samples")).json()
    for sample in samples["samples"]:
        assert (settings.projects_dir / "hey_computer_copy" / sample["path"]).is_file()

    again = aiohttp.FormData()
    again.add_field("file", exported, filename="p.zip")
    response = await client.post("/api/projects/import", data=again)
    assert response.status == 409  # hey_computer exists


async def test_a_project_zip_with_traversal_or_junk_is_refused(client, settings, speech_wav):
    metadata = {
        "format": "mww-trainer-project",
        "version": 1,
        "project": {"slug": "evil", "phrase": "evil", "language": "en", "author": "x"},
        "samples": [
            {
                "path": "dataset/positive/x/../../../../evil.wav",
                "label": "positive",
                "speaker": "x",
                "source": "upload",
            }
        ],
    }
    cases = {
        "traversal": _zip(
            {
                "metadata.json": json.dumps(metadata).encode(),
                "dataset/positive/x/../../../../evil.wav": speech_wav.read_bytes(),
            }
        ),
        "not audio": _zip(
            {
                "metadata.json": json.dumps(
                    {
                        **metadata,
                        "samples": [{**metadata["samples"][0], "path": "dataset/positive/x/a.wav"}],
                    }
                ).encode(),
                "dataset/positive/x/a.wav": b"hello",
            }
        ),
        "no metadata": _zip({"a.wav": speech_wav.read_bytes()}),
    }
    for name, data in cases.items():
        form = aiohttp.FormData()
        form.add_field("file", data, filename="p.zip")
        response = await client.post("/api/projects/import", data=form)
        assert response.status == 400, name
        assert "refused" in (await response.json())["error"], name
    assert (await client.get("/api/projects/evil")).status == 404
    assert _files_under(settings.data_dir / "projects") == []
    assert _files_under(settings.data_dir / "tmp") == []


async def test_job_routes_answer_for_unknown_jobs(client):
    assert (await client.get("/api/jobs/999")).status == 404
    assert (await client.post("/api/jobs/999/cancel")).status == 404
    assert (await client.get("/api/nothing")).status == 404
    assert "error" in await (await client.get("/api/nothing")).json()


async def test_queued_synthesis_can_be_cancelled(client):
    await _project(client)
    app = client.server.app
    # Hold the slot: a running synth job keeps the next one queued.
    first = await (await client.post("/api/projects/hey_computer/synth", json={"rirs": 1})).json()
    second = await (await client.post("/api/projects/hey_computer/synth", json={"rirs": 1})).json()
    response = await client.post(f"/api/jobs/{second['id']}/cancel")
    job = await response.json()
    assert job["state"] == "cancelled"
    assert (await client.post(f"/api/jobs/{second['id']}/cancel")).status == 409
    assert (await app[STORE].get_job(first["id"])).state in ("queued", "running", "succeeded")


async def test_an_alias_bomb_in_training_overrides_is_a_short_400(client):
    await _project(client)
    started = time.monotonic()
    response = await client.post(
        "/api/projects/hey_computer/train", json={"preset": "fast_test", "overrides": alias_bomb()}
    )
    assert time.monotonic() - started < 2
    assert response.status == 400
    error = (await response.json())["error"]
    assert error.startswith("overrides, line 1: anchors and aliases") and len(error) < 200
