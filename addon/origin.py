"""The same-origin policy: only the panel's own pages may change anything.

A browser lets any web page send "simple" requests to any address (a form post, or a fetch
with a text/plain or multipart body) and open websockets anywhere; it only hides the answers.
A page on the internet could therefore drive a panel listening on the user's own machine. One
middleware applies three rules to every request:

1. Host allow-list (standalone without a token): the Host header must be an IP address or
   `localhost`. A DNS-rebinding page reaches us under its own domain name, so its requests
   carry that name; a name is accepted only with a token (the token cookie is not sent to a
   rebound name) or under Home Assistant (only the ingress proxy reaches us there).
2. Same origin for every state-changing request (anything but GET/HEAD/OPTIONS) and for the
   websocket: `Sec-Fetch-Site` must be `same-origin` (or `none`, typed by the user), and an
   `Origin` header must name this very host. Clients that send neither (curl, scripts) are
   not browsers, and a page cannot make a browser leave them out.
3. A body of a state-changing request must be JSON or a multipart form, declared as such:
   text/plain and url-encoded forms, the types a page may send without asking, are refused.
   (A request without a body is judged by rule 2 alone.)
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from addon.errors import error_response
from addon.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_TYPES = ("application/json", "multipart/form-data")
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def same_origin(settings: Settings):
    check_host = not settings.supervisor and not settings.token

    @web.middleware
    async def middleware(request: web.Request, handler):
        if check_host and not allowed_host(request.host):
            return error_response(
                403,
                f"refused a request for {request.host!r}: without a token this panel answers only "
                "at an IP address or localhost (this stops DNS-rebinding pages); open it as "
                f"http://127.0.0.1:{settings.port}/ or start it with --token",
            )
        if request.method in SAFE_METHODS and not _is_websocket(request):
            return await handler(request)
        if reason := cross_site_reason(request, settings):
            return error_response(
                403, f"refused a cross-site request: {reason}; use the panel's own page"
            )
        if not _is_websocket(request) and (reason := body_type_reason(request)):
            return error_response(415, reason)
        return await handler(request)

    return middleware


def allowed_host(host: str | None) -> bool:
    """An IP literal or localhost (with any port): names a rebinding page cannot bring."""
    if not host:
        return False
    try:
        name = urlsplit(f"//{host}").hostname
    except ValueError:
        return False
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def cross_site_reason(request: web.Request, settings: Settings) -> str | None:
    """Why a state-changing request comes from another site's page, or None."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in SAME_ORIGIN_FETCH:
        return f"the browser marked it {fetch_site} (Sec-Fetch-Site)"
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return None
    if not _same_authority(origin, _own_host(request, settings)):
        return f"it comes from a page of {origin!r}"
    return None


def body_type_reason(request: web.Request) -> str | None:
    declared = request.headers.get(hdrs.CONTENT_TYPE)
    if not request.body_exists or request.content_type in BODY_TYPES:
        return None
    shown = f"{declared!r}" if declared else "a body without a Content-Type"
    return (
        f"{request.method} {request.path}: {shown} is not accepted; send JSON "
        "(Content-Type: application/json) or a multipart/form-data upload"
    )


def _own_host(request: web.Request, settings: Settings) -> str:
    # Under Home Assistant the ingress proxies may pass the browser's host on as
    # X-Forwarded-Host; only the ingress proxy reaches us there, so it can be believed.
    if settings.supervisor:
        forwarded = request.headers.get(hdrs.X_FORWARDED_HOST, "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.host


def _same_authority(origin: str, host: str) -> bool:
    try:
        theirs, ours = urlsplit(origin), urlsplit(f"//{host}")
        their_port = theirs.port or _DEFAULT_PORTS.get(theirs.scheme)
        our_port = ours.port or _DEFAULT_PORTS.get(theirs.scheme)
    except ValueError:
        return False
    if theirs.scheme not in _DEFAULT_PORTS or not theirs.hostname:
        return False  # "null" (sandboxed frames, file://) and other odd origins
    return theirs.hostname == ours.hostname and their_port == our_port


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
