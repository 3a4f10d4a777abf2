"""The pack catalog: which speech packs exist, where their files are and how to check them.

A catalog is JSON: {"format": 1, "packs": [{id, title, description, role, licence,
licence_url, attribution, source_url, language, hours, audio_dir, files: [{url, mirrors,
size, sha256 and/or md5, archive}]}]}. One ships with the package (default_catalog.json);
another can be given as a file or an http(s) URL, whose relative file URLs resolve against it.

`role` says what a pack is for: "negative" (people talking, trained on as negatives) or
"voices" (piper voice models, NAME.onnx with NAME.onnx.json, that speak positives and hard
negatives in mww-synth; never trained on as audio).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from mww_trainer.packs.errors import PackError, PackUnavailable

FORMAT = 1
# "audio": one plain audio file; "file": any other file kept as it is (a piper model)
ARCHIVE_KINDS = ("tar.gz", "tar", "zip", "audio", "file")
NEGATIVE, VOICES = "negative", "voices"
ROLES = (NEGATIVE, VOICES)  # what the content serves as: negatives, or voices for mww-synth
BUILTIN = "built-in catalog"
USER_AGENT = "mww-trainer-packs/1"
PACK_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HEX = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "md5": re.compile(r"^[0-9a-f]{32}$")}


@dataclass(frozen=True, kw_only=True)
class PackFile:
    url: str
    size_bytes: int
    archive: str
    sha256: str | None = None
    md5: str | None = None  # where only an md5 is published
    mirrors: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return unquote(PurePosixPath(urlsplit(self.url).path).name)

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.mirrors)

    @property
    def checksums(self) -> dict[str, str]:
        return {k: v for k, v in (("sha256", self.sha256), ("md5", self.md5)) if v}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "size": self.size_bytes,
            "archive": self.archive,
            **self.checksums,
        }


@dataclass(frozen=True, kw_only=True)
class Pack:
    id: str
    title: str
    description: str
    role: str
    licence: str
    attribution: str
    files: tuple[PackFile, ...]
    licence_url: str = ""
    source_url: str = ""
    language: str = ""
    hours: float | None = None
    audio_dir: str = ""  # the folder of audio inside the unpacked files ("" = all of it)

    @property
    def size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "role": self.role,
            "licence": self.licence,
            "licence_url": self.licence_url,
            "attribution": self.attribution,
            "source_url": self.source_url,
            "language": self.language,
            "hours": self.hours,
            "size_bytes": self.size_bytes,
            "files": [f.to_dict() for f in self.files],
        }


@dataclass(frozen=True)
class Catalog:
    packs: tuple[Pack, ...]
    source: str = BUILTIN
    _by_id: dict[str, Pack] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {p.id: p for p in self.packs})

    def get(self, pack_id: str) -> Pack:
        try:
            return self._by_id[pack_id]
        except KeyError:
            known = ", ".join(self._by_id) or "none"
            raise PackError(
                f"{pack_id!r} is not a pack of the {self.source} (known: {known})"
            ) from None


def human_size(size_bytes: float) -> str:
    """337926286 -> '337.9 MB' (decimal units, as download sizes are usually given)."""
    for unit in ("B", "kB", "MB"):
        if size_bytes < 1000:
            return f"{size_bytes:.0f} {unit}" if unit == "B" else f"{size_bytes:.1f} {unit}"
        size_bytes /= 1000
    return f"{size_bytes:.1f} GB"


def load_catalog(source: str | Path | None = None, *, timeout_s: float = 30.0) -> Catalog:
    """The built-in catalog (None), a catalog file, or one fetched from an http(s) URL."""
    if source is None:
        text = resources.files("mww_trainer.packs").joinpath("default_catalog.json").read_text()
        return parse_catalog(json.loads(text), source=BUILTIN)
    source = str(source)
    if source.startswith(("http://", "https://")):
        return parse_catalog(_fetch_json(source, timeout_s), source=source, base_url=source)
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackError(f"catalog file {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError(f"catalog file {path} cannot be read as JSON ({exc})") from None
    return parse_catalog(data, source=str(path))


def _fetch_json(url: str, timeout_s: float) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read(16 << 20)
    except urllib.error.HTTPError as exc:
        raise PackUnavailable(f"the speech-pack catalog {url}", f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PackUnavailable(f"the speech-pack catalog {url}", str(reason)) from None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError(f"the speech-pack catalog {url} is not valid JSON ({exc})") from None


def parse_catalog(data: Any, *, source: str, base_url: str | None = None) -> Catalog:
    """Checks every field; an error names the catalog, the pack and the field."""
    where = f"catalog {source}"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PackError(f'{where}: expected a JSON object with "format": {FORMAT}')
    packs = data.get("packs")
    if not isinstance(packs, list):
        raise PackError(f'{where}: "packs" must be a list')
    parsed = [_pack(item, f"{where}: packs[{i}]", base_url) for i, item in enumerate(packs)]
    ids = [p.id for p in parsed]
    doubled = sorted({i for i in ids if ids.count(i) > 1})
    if doubled:
        raise PackError(f"{where}: pack id(s) {', '.join(doubled)} appear more than once")
    return Catalog(tuple(parsed), source)


def _pack(item: Any, where: str, base_url: str | None) -> Pack:
    if not isinstance(item, dict):
        raise PackError(f"{where}: expected an object")
    pack_id = _text(item, "id", where)
    if not PACK_ID.match(pack_id):
        raise PackError(f"{where}.id: {pack_id!r} is not allowed (a-z, 0-9, '.', '_', '-')")
    where = f"{where} ({pack_id})"
    role = _text(item, "role", where)
    if role not in ROLES:
        raise PackError(f"{where}.role: {role!r} is not one of {', '.join(ROLES)}")
    files = item.get("files")
    if not isinstance(files, list) or not files:
        raise PackError(f"{where}.files: expected a non-empty list")
    parsed = tuple(_file(f, f"{where}.files[{i}]", base_url) for i, f in enumerate(files))
    names = [f.name for f in parsed]
    if len(set(names)) != len(names):
        raise PackError(f"{where}.files: two files share a name ({', '.join(names)})")
    hours = item.get("hours")
    if hours is not None and (not isinstance(hours, int | float) or hours < 0):
        raise PackError(f"{where}.hours: {hours!r} is not allowed (a number of hours)")
    return Pack(
        id=pack_id,
        title=_text(item, "title", where),
        description=_text(item, "description", where, required=False),
        role=role,
        licence=_text(item, "licence", where),
        attribution=_text(item, "attribution", where),
        licence_url=_text(item, "licence_url", where, required=False),
        source_url=_text(item, "source_url", where, required=False),
        language=_text(item, "language", where, required=False),
        hours=hours,
        audio_dir=_relative_dir(item.get("audio_dir", ""), f"{where}.audio_dir"),
        files=parsed,
    )


def _file(item: Any, where: str, base_url: str | None) -> PackFile:
    if not isinstance(item, dict):
        raise PackError(f"{where}: expected an object")
    mirrors = item.get("mirrors", [])
    if not isinstance(mirrors, list):
        raise PackError(f"{where}.mirrors: expected a list of URLs")
    url, *mirrors = (_url(u, where, base_url) for u in [_text(item, "url", where), *mirrors])
    size = item.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise PackError(f"{where}.size: {size!r} is not allowed (the file's size in bytes)")
    archive = _text(item, "archive", where)
    if archive not in ARCHIVE_KINDS:
        raise PackError(f"{where}.archive: {archive!r} is not one of {', '.join(ARCHIVE_KINDS)}")
    sums = {}
    for algorithm, pattern in _HEX.items():
        value = item.get(algorithm)
        if value is None:
            continue
        if not isinstance(value, str) or not pattern.match(value.lower()):
            raise PackError(f"{where}.{algorithm}: {value!r} is not a hex {algorithm} digest")
        sums[algorithm] = value.lower()
    if not sums:
        raise PackError(f"{where}: give a sha256 (or the md5 where only that is published)")
    file = PackFile(url=url, mirrors=tuple(mirrors), size_bytes=size, archive=archive, **sums)
    if not file.name or file.name.startswith(".") or "\\" in file.name:
        raise PackError(f"{where}.url: {url} does not end in a usable file name")
    return file


def _text(item: dict, key: str, where: str, *, required: bool = True) -> str:
    value = item.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise PackError(f"{where}.{key}: expected {'a non-empty' if required else 'a'} string")
    return value


def _url(value: Any, where: str, base_url: str | None) -> str:
    if not isinstance(value, str) or not value:
        raise PackError(f"{where}: expected URL strings")
    url = urljoin(base_url, value) if base_url else value
    if urlsplit(url).scheme not in ("http", "https"):
        raise PackError(f"{where}: {value!r} is not an http(s) URL")
    return url


def _relative_dir(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PackError(f"{where}: expected a relative folder path")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value:
        raise PackError(f"{where}: {value!r} must stay inside the pack (relative, no '..')")
    return "" if str(path) == "." else str(path)
