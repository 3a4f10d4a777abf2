"""Other web pages cannot drive the panel: the exact requests a browser sends for them.

Each request carries the headers Chromium adds when a page of another origin submits a form,
calls fetch(..., {mode: "no-cors"}) or opens a websocket, or when a DNS-rebinding page
reaches the panel under its own domain name.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from addon.app import create_app
from addon.settings import INGRESS_REMOTE, Settings

pytestmark = pytest.mark.asyncio
EVIL = "http://evil.example"
TOKEN = "s3cret-token-0123456789"
# fetch(url, {method: "POST", mode: "no-cors", body: JSON.stringify(...)}) from EVIL
NO_CORS_FETCH = {
    "Origin": EVIL,
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "no-cors",
    "Sec-Fetch-Dest": "empty",
    "Content-Type": "text/plain;charset=UTF-8",
}
# <form method="post" action="http://127.0.0.1:8099/..."> submitted by a page of EVIL
FORM_POST = {
    "Origin": EVIL,
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Content-Type": "application/x-www-form-urlencoded",
}


def same_origin_fetch(client, content_type: str | None = "application/json") -> dict:
    """What the panel's own fetch() sends."""
    headers = {
        "Origin": f"http://{client.host}:{client.port}",
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
    }
    return headers | ({"Content-Type": content_type} if content_type else {})


@pytest_asyncio.fixture
async def client(aiohttp_client, tmp_path: Path):
    client = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data")))
    created = await client.post("/api/projects", json={"phrase": "hey computer"})
    assert created.status == 201
    return client


async def _projects(client) -> list[str]:
    listed = await (await client.get("/api/projects")).json()
    return [p["slug"] for p in listed["projects"]]


async def test_a_text_plain_fetch_from_another_site_changes_nothing(client):
    body = json.dumps({"phrase": "pwned"})
    refused = await client.post("/api/projects", data=body, headers=NO_CORS_FETCH)
    assert refused.status == 403
    assert "cross-site" in (await refused.json())["error"]
    # An older browser sends the Origin but no Sec-Fetch-* headers.
    old = {k: v for k, v in NO_CORS_FETCH.items() if not k.startswith("Sec-")}
    assert (await client.post("/api/projects", data=body, headers=old)).status == 403
    train = json.dumps({"preset": "fast_test"})
    path = "/api/projects/hey_computer/train"
    assert (await client.post(path, data=train, headers=NO_CORS_FETCH)).status == 403
    deploy = json.dumps({"device": "kitchen", "confirm": True})
    path = "/api/jobs/1/esphome/deploy"
    assert (await client.post(path, data=deploy, headers=NO_CORS_FETCH)).status == 403
    assert await _projects(client) == ["hey_computer"]
    assert (await (await client.get("/api/jobs")).json())["jobs"] == []


async def test_form_posts_and_multipart_uploads_from_another_site_are_refused(client, tone_wav):
    delete = "/api/projects/hey_computer?confirm=hey_computer"
    assert (await client.delete(delete, headers=FORM_POST)).status == 403
    assert (await client.post("/api/jobs/1/cancel", data=b"", headers=FORM_POST)).status == 403
    form = aiohttp.FormData()
    form.add_field("label", "positive")
    form.add_field("file", tone_wav.read_bytes(), filename="x.wav")
    upload_headers = {k: v for k, v in FORM_POST.items() if k != "Content-Type"}
    upload = await client.post(
        "/api/projects/hey_computer/samples", data=form, headers=upload_headers
    )
    assert upload.status == 403
    listed = await (await client.get("/api/projects/hey_computer/samples")).json()
    assert listed["samples"] == [] and await _projects(client) == ["hey_computer"]


async def test_a_websocket_from_another_site_is_refused(client):
    headers = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "websocket"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/ws", headers=headers)
    assert refused.value.status == 403
    own = {"Origin": f"http://{client.host}:{client.port}", "Sec-Fetch-Site": "same-origin"}
    async with client.ws_connect("/api/ws", headers=own) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"


async def test_a_dns_rebinding_page_cannot_read_or_write(client):
    rebound = f"rebind.evil.example:{client.port}"
    export = await client.get(
        "/api/projects/hey_computer/export",
        headers={"Host": rebound, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"},
    )
    assert export.status == 403
    assert "DNS-rebinding" in (await export.json())["error"]
    headers = same_origin_fetch(client) | {"Host": rebound, "Origin": f"http://{rebound}"}
    created = await client.post("/api/projects", json={"phrase": "pwned"}, headers=headers)
    assert created.status == 403
    assert await _projects(client) == ["hey_computer"]


async def test_the_panel_itself_and_scripts_still_work(client):
    own = same_origin_fetch(client)
    created = await client.post("/api/projects", data=json.dumps({"phrase": "hi"}), headers=own)
    assert created.status == 201
    # The panel posts without a body to cancel; a script (curl) sends no Origin at all.
    cancel = await client.post("/api/jobs/99/cancel", headers=same_origin_fetch(client, None))
    assert cancel.status == 404
    for host in ("localhost", f"localhost:{client.port}", "[::1]:8099", "127.0.0.1"):
        assert (await client.get("/api/projects", headers={"Host": host})).status == 200
    assert await _projects(client) == ["hey_computer", "hi"]
    # Same origin, but a body type a page may send without asking: refused, naming it.
    wrong = await client.post(
        "/api/projects", data="{}", headers=same_origin_fetch(client, "text/plain")
    )
    assert wrong.status == 415
    assert "'text/plain' is not accepted" in (await wrong.json())["error"]


async def test_token_mode_takes_any_host_name_but_not_other_sites(aiohttp_client, tmp_path):
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", token=TOKEN)
    client = await aiohttp_client(create_app(settings))
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    lan = {"Host": "mww.lan:8099", "Origin": "http://mww.lan:8099", "Sec-Fetch-Site": "same-origin"}
    created = await client.post("/api/projects", json={"phrase": "hey"}, headers=bearer | lan)
    assert created.status == 201
    refused = await client.post("/api/projects", data="{}", headers=bearer | NO_CORS_FETCH)
    assert refused.status == 403


async def test_ingress_requests_pass_and_foreign_pages_do_not(aiohttp_client, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, host="0.0.0.0", supervisor=True))

    @web.middleware
    async def from_ingress_proxy(request: web.Request, handler):
        return await handler(request.clone(remote=INGRESS_REMOTE))

    app.middlewares.insert(0, from_ingress_proxy)
    client = await aiohttp_client(app)
    # The Supervisor passes the browser's headers on; Home Assistant adds X-Forwarded-Host.
    home = {
        "Host": "172.30.33.7:8099",
        "X-Forwarded-Host": "homeassistant.local:8123",
        "Origin": "http://homeassistant.local:8123",
        "Sec-Fetch-Site": "same-origin",
        "X-Ingress-Path": "/api/hassio_ingress/abc",
    }
    created = await client.post("/api/projects", json={"phrase": "hey"}, headers=home)
    assert created.status == 201
    foreign = home | {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    assert (await client.post("/api/projects", json={"phrase": "x"}, headers=foreign)).status == 403
