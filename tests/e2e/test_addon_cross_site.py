"""In headless Chromium: another site's page cannot drive the panel; the panel itself can,
standalone, in token mode and behind a Home Assistant-like ingress proxy."""

from __future__ import annotations

import pytest
from aiohttp import web

from addon.app import create_app
from addon.keys import STORE
from addon.settings import INGRESS_REMOTE, Settings

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]
PREFIX = "/api/hassio_ingress/e2e_token/"
TOKEN = "e2e-token-0123456789abcdef"

# Everything a page may do to another origin without asking it first.
ATTACK = """
<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="form" method="post" enctype="text/plain" target="sink" action="{panel}api/projects">
  <input name='{{"phrase": "pwned form", "x": "' value='"}}'>
</form>
<script>
  window.results = {{}};
  fetch('{panel}api/projects', {{method: 'POST', mode: 'no-cors',
    body: JSON.stringify({{phrase: 'pwned fetch'}})}})
    .then(() => results.fetch = 'sent', (e) => results.fetch = String(e));
  const body = new FormData();
  body.append('label', 'positive');
  body.append('file', new Blob(['RIFF'], {{type: 'audio/wav'}}), 'x.wav');
  fetch('{panel}api/projects/hey_computer/samples', {{method: 'POST', mode: 'no-cors', body}})
    .then(() => results.upload = 'sent', (e) => results.upload = String(e));
  const ws = new WebSocket('{panel_ws}api/ws');
  ws.onopen = () => results.ws = 'open';
  ws.onclose = () => results.ws = results.ws || 'refused';
  document.getElementById('form').submit();
</script></body></html>
"""


def recording(app: web.Application, seen: list[tuple[str, str, int]]) -> web.Application:
    """Notes (method, path, status) of every request that reaches the panel."""

    @web.middleware
    async def note(request: web.Request, handler):
        response = await handler(request)
        seen.append((request.method, request.path, response.status))
        return response

    app.middlewares.insert(0, note)
    return app


async def test_a_page_of_another_site_cannot_drive_the_panel(aiohttp_server, browser, tmp_path):
    seen: list[tuple[str, str, int]] = []
    app = recording(create_app(Settings(data_dir=tmp_path / "data")), seen)
    panel = await aiohttp_server(app, host="127.0.0.1")
    panel_url = f"http://127.0.0.1:{panel.port}/"
    page_html = ATTACK.format(panel=panel_url, panel_ws=panel_url.replace("http", "ws", 1))

    async def attack_page(_: web.Request) -> web.Response:
        return web.Response(text=page_html, content_type="text/html")

    evil = web.Application()
    evil.router.add_get("/", attack_page)
    evil_server = await aiohttp_server(evil, host="localhost")  # another site than 127.0.0.1

    await browser.open(panel_url)  # the panel works from its own origin
    await browser.wait("document.querySelector('#connection').textContent === 'live'")
    await browser.type("#phrase", "hey computer")
    await browser.click("#create")
    await browser.wait("location.hash === '#/p/hey_computer/record'")

    await browser.open(f"http://localhost:{evil_server.port}/")
    await browser.wait("results.fetch && results.upload && results.ws", timeout=20)
    assert (await browser.evaluate("results.ws")) == "refused"
    refused = {(method, path) for method, path, status in seen if status == 403}
    assert ("POST", "/api/projects") in refused  # the fetch and the form arrived, and were refused
    assert ("POST", "/api/projects/hey_computer/samples") in refused
    assert ("GET", "/api/ws") in refused
    read = f"fetch('{panel_url}api/projects', {{mode: 'no-cors'}}).then(r => r.type)"
    assert await browser.evaluate(read) == "opaque"  # nor can it read the panel's answers
    assert await _slugs(app) == ["hey_computer"]


async def _slugs(app: web.Application) -> list[str]:
    return [p.slug for p in await app[STORE].list_projects()]


async def test_token_mode_panel_works_in_the_browser(aiohttp_server, browser, tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "data", token=TOKEN))
    server = await aiohttp_server(app, host="127.0.0.1")
    url = f"http://127.0.0.1:{server.port}/"
    await browser.open(url)
    assert "access token" in await browser.evaluate("document.body.textContent")
    await browser.open(f"{url}?token={TOKEN}")
    await browser.wait("document.querySelector('#connection').textContent === 'live'")
    await browser.type("#phrase", "hey token")
    await browser.click("#create")
    await browser.wait("location.hash === '#/p/hey_token/record'")
    assert await _slugs(app) == ["hey_token"]


async def test_ingress_panel_works_in_the_browser(aiohttp_server, browser, tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "data", host="0.0.0.0", supervisor=True))

    @web.middleware
    async def as_the_ingress_proxy(request: web.Request, handler):
        # What Home Assistant's proxy adds: its own address as the peer, the ingress path.
        proxied = request.clone(
            remote=INGRESS_REMOTE,
            headers={**request.headers, "X-Ingress-Path": PREFIX.rstrip("/")},
        )
        return await handler(proxied)

    root = web.Application(middlewares=[as_the_ingress_proxy])
    root.add_subapp(PREFIX, app)
    server = await aiohttp_server(root, host="127.0.0.1")
    await browser.open(str(server.make_url(PREFIX)))
    await browser.wait("document.querySelector('#connection').textContent === 'live'")
    await browser.type("#phrase", "hey ingress")
    await browser.click("#create")
    await browser.wait("location.hash === '#/p/hey_ingress/record'")
    assert await _slugs(app) == ["hey_ingress"]
