"""A real mosquitto broker on loopback, started and stopped by the tests, and a subscriber."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

MOSQUITTO_MISSING = "mosquitto is not installed (apt-get install -y mosquitto)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mosquitto_available() -> bool:
    return shutil.which("mosquitto") is not None and shutil.which("mosquitto_passwd") is not None


class Mosquitto:
    """One broker process on 127.0.0.1:port; stop() and start() again keep the port."""

    def __init__(
        self, workdir: Path, *, port: int | None = None, users: dict[str, str] | None = None
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self._process: subprocess.Popen | None = None
        # Run as whoever runs the tests: as root, mosquitto would otherwise drop to the user
        # "mosquitto", which cannot read files under pytest's private temporary folder.
        me = pwd.getpwuid(os.geteuid()).pw_name
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", f"user {me}"]
        if users:
            password_file = self.workdir / "passwords"
            password_file.touch(mode=0o600)
            for user, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(password_file), user, password], check=True
                )
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        self.config = self.workdir / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.log = self.workdir / "mosquitto.log"

    def start(self, timeout_s: float = 10.0) -> Mosquitto:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                ["mosquitto", "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class Subscriber:
    """A plain paho client that records every message on the given topic filters."""

    def __init__(
        self,
        port: int,
        topics: list[str],
        *,
        username: str | None = None,
        password: str | None = None,
    ):
        kwargs = {}
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
            kwargs["callback_api_version"] = mqtt.CallbackAPIVersion.VERSION2
        self._client = mqtt.Client(client_id=f"test-subscriber-{port}-{id(self)}", **kwargs)
        if username:
            self._client.username_pw_set(username, password)
        self._cond = threading.Condition()
        self.messages: list[Received] = []
        self._subscribed = threading.Event()
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._topics = topics
        self._port = port

    def __enter__(self) -> Subscriber:
        self._client.connect("127.0.0.1", self._port, keepalive=30)
        self._client.loop_start()
        self._client.subscribe([(topic, 1) for topic in self._topics])
        if not self._subscribed.wait(5):
            raise RuntimeError("the test subscriber could not subscribe")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _client, _userdata, message) -> None:
        with self._cond:
            self.messages.append(Received(message.topic, message.payload, bool(message.retain)))
            self._cond.notify_all()

    def wait_for(self, topic: str, timeout_s: float = 10.0, *, count: int = 1) -> list[Received]:
        """The messages on topic, once at least count of them have arrived."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                found = [m for m in self.messages if m.topic == topic]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({m.topic for m in self.messages})
                    raise AssertionError(f"no message on {topic} in {timeout_s} s; seen: {seen}")
                self._cond.wait(left)


def wait_until(predicate, timeout_s: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)
