"""Download one pack file: resume a `.partial` with an HTTP Range request, try the mirrors,
report bytes and rate, and check the size and checksums before the file gets its real name.

A dropped connection is retried from where it stopped; a file that cannot be reached from
any of its URLs raises PackUnavailable and keeps the partial file for the next try.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mww_trainer.packs.catalog import USER_AGENT, PackFile
from mww_trainer.packs.errors import ChecksumMismatch, PackCancelled, PackError, PackUnavailable
from mww_trainer.progress import ProgressCallback, ProgressEvent, ignore_progress

CHUNK_BYTES = 1 << 20
PARTIAL_SUFFIX = ".partial"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")
# Worth another try: the connection dropped or timed out, or the server had a bad moment.
_TRANSIENT = (OSError, http.client.HTTPException, TimeoutError)
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True, kw_only=True)
class DownloadOptions:
    timeout_s: float = 30.0  # per connect and per read
    attempts: int = 6  # connections in all, over the file's URLs in turn
    retry_wait_s: float = 2.0  # doubled after each failed attempt, at most 60 s
    progress_interval_s: float = 0.5


DEFAULT_OPTIONS = DownloadOptions()


class _Restart(Exception):
    """The server ignored or refused our Range: start the file again from byte 0."""


class _Incomplete(Exception):
    """The connection ended before the whole file arrived."""


class _Meter:
    """Turns byte counts into throttled ProgressEvents with a rate."""

    def __init__(self, file: PackFile, on_progress: ProgressCallback, interval_s: float):
        self.file, self.on_progress, self.interval_s = file, on_progress, interval_s
        self.start: tuple[float, int] | None = None
        self.last_s = 0.0

    def __call__(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.start is None:
            self.start = (now, done)
        if not force and now - self.last_s < self.interval_s:
            return
        self.last_s = now
        started_s, first = self.start
        rate = (done - first) / (now - started_s) if now > started_s else 0.0
        self.on_progress(
            ProgressEvent(
                "download",
                done,
                self.file.size_bytes,
                self.file.name,
                metrics={"rate_bytes_per_s": round(rate, 1)},
            )
        )


class _Digests:
    def __init__(self, file: PackFile):
        self.file = file
        self.reset()

    def reset(self) -> None:
        self.hashes = {name: hashlib.new(name) for name in self.file.checksums}

    def update(self, data: bytes) -> None:
        for digest in self.hashes.values():
            digest.update(data)

    def check(self, path: Path) -> None:
        for name, expected in self.file.checksums.items():
            got = self.hashes[name].hexdigest()
            if got != expected:
                path.unlink(missing_ok=True)
                raise ChecksumMismatch(self.file.name, name, expected, got)


def download_file(
    file: PackFile,
    folder: Path,
    *,
    on_progress: ProgressCallback = ignore_progress,
    cancel: threading.Event | None = None,
    options: DownloadOptions = DEFAULT_OPTIONS,
) -> Path:
    """folder/<name>, complete and checked; resumes folder/<name>.partial when there is one."""
    folder.mkdir(parents=True, exist_ok=True)
    meter = _Meter(file, on_progress, options.progress_interval_s)
    partial = _Partial(file, folder / (file.name + PARTIAL_SUFFIX), meter, cancel)
    last_error, wait_s, complete = "no attempt was made", options.retry_wait_s, False
    for attempt in range(max(options.attempts, 1)):
        url = file.urls[attempt % len(file.urls)]
        try:
            partial.transfer(url, options.timeout_s)
            complete = True
            break
        except _Restart:
            partial.restart()
            last_error = f"{url} would not resume the download; starting again"
        except urllib.error.HTTPError as exc:
            last_error = f"{url}: HTTP {exc.code} {exc.reason}"
            if exc.code not in _TRANSIENT_STATUS and len(file.urls) == 1:
                break  # 404 and friends: asking again will not help
        except (_Incomplete, *_TRANSIENT) as exc:
            reason = getattr(exc, "reason", None) or exc or type(exc).__name__
            last_error = f"{url}: {reason}"
        if attempt + 1 < options.attempts:
            _sleep(wait_s, cancel)
            wait_s = min(wait_s * 2, 60.0)
    if not complete:
        kept = partial.offset
        note = f"; {kept} bytes kept, the next fetch resumes from there" if kept else ""
        raise PackUnavailable(file.name, f"{last_error}{note}")
    return partial.finish(folder / file.name)


class _Partial:
    """The .partial file of one download, with the digests of the bytes it holds."""

    def __init__(self, file: PackFile, path: Path, meter: _Meter, cancel: threading.Event | None):
        self.file, self.path, self.meter, self.cancel = file, path, meter, cancel
        self.digests = _Digests(file)
        if path.exists() and path.stat().st_size > file.size_bytes:
            path.unlink()
        if path.exists():
            with path.open("rb") as handle:
                while block := handle.read(CHUNK_BYTES):
                    self.digests.update(block)

    @property
    def offset(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def restart(self) -> None:
        self.path.unlink(missing_ok=True)
        self.digests.reset()

    def transfer(self, url: str, timeout_s: float) -> None:
        """Appends what `url` sends from our offset on; _Restart if it will not resume."""
        offset = self.offset
        if offset == self.file.size_bytes:
            return
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:
                raise _Restart from None
            raise
        with response:
            if offset and response.status != 206:
                raise _Restart
            if response.status == 206:
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if not match or int(match.group(1)) != offset:
                    raise _Restart
            self._append(response, offset)

    def _append(self, response, offset: int) -> None:
        size = self.file.size_bytes
        with self.path.open("ab") as out:
            while chunk := response.read(CHUNK_BYTES):
                if self.cancel is not None and self.cancel.is_set():
                    raise PackCancelled(
                        f"{self.file.name}: cancelled after {offset} of {size} bytes; "
                        "the next fetch resumes from there"
                    )
                if offset + len(chunk) > size:
                    out.close()
                    self.path.unlink()
                    raise PackError(
                        f"{self.file.name}: the server sent more than the catalog's {size} "
                        "bytes; the download was deleted (is the catalog out of date?)"
                    )
                out.write(chunk)
                self.digests.update(chunk)
                offset += len(chunk)
                self.meter(offset)
        if offset < size:
            raise _Incomplete(f"the connection ended after {offset} of {size} bytes")

    def finish(self, final: Path) -> Path:
        """Checks the complete file's checksums (deleting it if wrong) and renames it."""
        self.meter(self.file.size_bytes, force=True)
        self.digests.check(self.path)
        os.replace(self.path, final)
        return final


def _sleep(seconds: float, cancel: threading.Event | None) -> None:
    if cancel is None:
        time.sleep(seconds)
    elif cancel.wait(seconds):
        raise PackCancelled("cancelled while waiting to retry; the next fetch resumes")
