"""Speech packs served from 127.0.0.1 for the tests: a Range-capable HTTP server that can drop
a connection part-way or ignore Range, and small packs of generated FLAC/WAV speech stand-ins.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import socket
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

RATE_HZ = 16000


@dataclass
class PackServer:
    """Files by URL path; `requests` records (path, Range header) of every GET."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes, on the next GET
    ignore_range: bool = False
    url: str = ""

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return f"{self.url}{path}"

    def ranges(self, path: str) -> list[str | None]:
        return [r for p, r in self.requests if p == path]


def _handler(server: PackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            path, given = self.path, self.headers.get("Range")
            server.requests.append((path, given))
            data = server.files.get(path)
            if data is None:
                self.send_error(404)
                return
            start = 0
            if given and not server.ignore_range:
                start = int(given.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            cut = server.drop_after.pop(path, None)
            if cut is not None:  # send part, then drop the connection mid-file
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def serve() -> Iterator[PackServer]:
    state = PackServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def speech_like(seconds: float, seed: int) -> np.ndarray:
    """Noise shaped in syllable-rate bursts: incompressible enough to make a real download."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE_HZ)
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * np.arange(n) / RATE_HZ)
    return (0.2 * envelope * rng.standard_normal(n)).clip(-1, 1)


def audio_bytes(kind: str, seconds: float, seed: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, speech_like(seconds, seed), RATE_HZ, format=kind.upper())
    return buffer.getvalue()


def tar_gz(members: dict[str, bytes], *, links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def speech_members(speakers: int = 2, clips: int = 2, seconds: float = 1.5) -> dict[str, bytes]:
    """Corpus/speech/<speaker>/<n>.flac (and one WAV), plus a README the install keeps."""
    members = {"Corpus/README.txt": b"generated for the tests\n"}
    for s in range(speakers):
        for c in range(clips):
            kind = "wav" if (s, c) == (0, 0) else "flac"
            members[f"Corpus/speech/spk{s}/{c}.{kind}"] = audio_bytes(kind, seconds, 10 * s + c)
    return members


def catalog_entry(pack_id: str, url: str, data: bytes, **changes: Any) -> dict[str, Any]:
    file = {
        "url": url,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "archive": "tar.gz",
    }
    file.update(changes.pop("file", {}))
    return {
        "id": pack_id,
        "title": f"Test pack {pack_id}",
        "description": "generated speech stand-ins",
        "role": "negative",
        "licence": "CC0 1.0",
        "attribution": "made by the mww-trainer tests",
        "audio_dir": "Corpus/speech",
        "files": [file],
        **changes,
    }


def write_catalog(path: Path, *packs: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"format": 1, "packs": list(packs)}), encoding="utf-8")
    return path


def voice_pack_entry(pack_id: str, server: PackServer, files: dict[str, bytes]) -> dict[str, Any]:
    """A voice pack (role "voices") of plain files served by `server`, e.g. NAME.onnx and
    NAME.onnx.json, as the built-in catalog lists piper voices."""
    entries = [
        {
            "url": server.add(f"/voices/{pack_id}/{name}", data),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "md5": hashlib.md5(data).hexdigest(),
            "archive": "file",
        }
        for name, data in files.items()
    ]
    return {
        "id": pack_id,
        "title": f"Test voices {pack_id}",
        "description": "a tiny piper voice made by the tests",
        "role": "voices",
        "licence": "CC0 1.0",
        "attribution": "made by the mww-trainer tests",
        "files": entries,
    }
