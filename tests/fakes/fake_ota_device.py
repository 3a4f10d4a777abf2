"""A device on 127.0.0.1 that speaks the receiving side of ESPHome's OTA protocol.

Written from the client in esphome/espota2.py: magic bytes → version → feature flags →
(optional) SHA-256 challenge auth → OTA type → size → MD5 → 8 KiB chunks, each acked
(protocol v2) → receive/end acks. It keeps the image it received (gunzipped if the client
compressed it) so a test can compare bytes. `behaviour` makes it misbehave on purpose.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import secrets
import socket
import threading
from dataclasses import dataclass, field

MAGIC = bytes([0x6C, 0x26, 0xF7, 0x5C, 0x45])
OK, REQUEST_SHA256_AUTH = 0x00, 0x02
AUTH_OK, PREPARE_OK, MD5_OK, RECEIVE_OK, END_OK, CHUNK_OK, FEATURE_FLAGS = (
    0x41,
    0x42,
    0x43,
    0x44,
    0x45,
    0x47,
    0x48,
)
ERROR_AUTH_INVALID, ERROR_WRITING_FLASH = 0x82, 0x83
SERVER_SUPPORTS_COMPRESSION = 0x01
CLIENT_EXTENDED_PROTOCOL = 0x04
CHUNK_BYTES = 8192

BEHAVIOURS = ("ok", "close_after_magic", "flash_error")


@dataclass
class Received:
    images: list[bytes] = field(default_factory=list)  # every complete, verified image
    auth_failures: int = 0
    connections: int = 0


class FakeOtaDevice:
    """Run with `with FakeOtaDevice(password=...) as device:`; `device.port` to connect."""

    def __init__(self, *, password: str | None = None, behaviour: str = "ok", compress=False):
        if behaviour not in BEHAVIOURS:
            raise ValueError(behaviour)
        self.password = password
        self.behaviour = behaviour
        self.compress = compress
        self.received = Received()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeOtaDevice:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self.received.connections += 1
            with conn, contextlib.suppress(OSError, ConnectionError):
                conn.settimeout(10)
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        if _exactly(conn, len(MAGIC)) != MAGIC:
            return
        if self.behaviour == "close_after_magic":
            return  # the client sees the connection closed without a response
        conn.sendall(bytes([OK, 2]))  # OK, protocol version 2
        client_features = _exactly(conn, 1)[0]
        flags = SERVER_SUPPORTS_COMPRESSION if self.compress else 0
        conn.sendall(bytes([FEATURE_FLAGS, flags]))
        if self.password is not None and not self._authenticate(conn):
            return
        if client_features & CLIENT_EXTENDED_PROTOCOL:
            _exactly(conn, 1)  # OTA type (0: application)
        size = int.from_bytes(_exactly(conn, 4), "big")
        conn.sendall(bytes([PREPARE_OK]))
        md5 = _exactly(conn, 32).decode()
        conn.sendall(bytes([MD5_OK]))
        data = self._chunks(conn, size)
        if data is None:
            return
        conn.sendall(bytes([RECEIVE_OK, END_OK]))
        _exactly(conn, 1)  # the client's final OK
        if hashlib.md5(data).hexdigest() == md5:
            self.received.images.append(gzip.decompress(data) if self.compress else data)

    def _authenticate(self, conn: socket.socket) -> bool:
        nonce = secrets.token_hex(32)  # 64 characters, as a real device sends
        conn.sendall(bytes([REQUEST_SHA256_AUTH]) + nonce.encode())
        cnonce = _exactly(conn, 64).decode()
        result = _exactly(conn, 64).decode()
        expected = hashlib.sha256((self.password + nonce + cnonce).encode()).hexdigest()
        if result != expected:
            self.received.auth_failures += 1
            conn.sendall(bytes([ERROR_AUTH_INVALID]))
            return False
        conn.sendall(bytes([AUTH_OK]))
        return True

    def _chunks(self, conn: socket.socket, size: int) -> bytes | None:
        data = bytearray()
        while len(data) < size:
            chunk = _exactly(conn, min(CHUNK_BYTES, size - len(data)))
            data += chunk
            if self.behaviour == "flash_error":
                conn.sendall(bytes([ERROR_WRITING_FLASH]))
                return None
            conn.sendall(bytes([CHUNK_OK]))
        return bytes(data)


def _exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        part = conn.recv(n - len(data))
        if not part:
            raise ConnectionError("client closed the connection")
        data += part
    return data
