"""The device configurations in an ESPHome config folder, as written (nothing resolved).

A device is a top-level *.yaml/*.yml file (not secrets.yaml, not a dot file) with an
`esphome:` or `packages:` block, as ESPHome's dashboard lists them. Local `!include`
packages are read too; remote ones (github://, url:) are only named. `!secret` values are
never read: the listing says whether OTA has a password, never what it is.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mww_trainer.esphome import yamlio
from mww_trainer.esphome.errors import DeviceNotFoundError, EsphomeBridgeError
from mww_trainer.esphome.secrets import SECRETS_FILES

YAML_SUFFIXES = (".yaml", ".yml")
PLATFORMS = ("esp32", "esp8266", "rp2040", "bk72xx", "rtl87xx", "ln882x", "nrf52", "host")
DEFAULT_OTA_PORTS = {  # ESPHome's defaults per platform (components/esphome/ota)
    "esp32": 3232,
    "esp8266": 8266,
    "rp2040": 2040,
    "bk72xx": 8892,
    "ln882x": 8820,
    "rtl87xx": 8892,
    "host": 8082,
}
NETWORKS = ("wifi", "ethernet", "openthread")
MAX_PACKAGE_DEPTH = 5
_SUBSTITUTION = re.compile(r"\$\{\s*([A-Za-z_]\w*)\s*\}|\$([A-Za-z_]\w*)")


@dataclass(frozen=True)
class WakeWordRef:
    model: str  # as written: a model name, a local .json path, a URL or github:// shorthand
    id: str | None
    origin: str  # "main" or the name of the package that defines it


@dataclass(frozen=True)
class PackageRef:
    name: str  # its key under packages: ("#2" for the third entry of a list)
    source: str  # the !include path, URL or shorthand
    local: bool  # read and inspected (a local !include or an inline block)


@dataclass(frozen=True)
class Device:
    name: str  # esphome.name with substitutions applied
    yaml_path: Path
    friendly_name: str | None = None
    platform: str | None = None  # esp32, esp8266, rp2040, …
    board: str | None = None
    variant: str | None = None
    framework: str | None = None  # esp-idf / arduino (esp32 only)
    address: str | None = None  # where OTA connects; None when it is a secret or unknown
    address_source: str = "unknown"  # use_address, static_ip, mdns, secret, unknown
    ota_port: int | None = None
    ota_password: bool = False
    has_micro_wake_word: bool = False
    wake_words: tuple[WakeWordRef, ...] = ()
    packages: tuple[PackageRef, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None  # the file could not be read; other fields are empty

    @property
    def yaml_file(self) -> str:
        return self.yaml_path.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready. Holds no secret values: the Device never had any."""
        d = dataclasses.asdict(self)
        del d["yaml_path"]
        return {"name": self.name, "yaml_file": self.yaml_file, **d}


@dataclass
class _Layers:
    """The main file and its readable packages; lookups go main first, then later packages."""

    main: CommentedMap
    packages: list[tuple[PackageRef, Any]] = field(default_factory=list)
    substitutions: dict[str, str] = field(default_factory=dict)

    def by_priority(self) -> list[Any]:
        return [self.main, *(tree for _, tree in reversed(self.packages))]

    def in_merge_order(self) -> list[tuple[str, Any]]:
        """ESPHome appends list items package by package, then the main file's."""
        return [*((ref.name, tree) for ref, tree in self.packages), ("main", self.main)]

    def get(self, *keys: str) -> Any:
        for tree in self.by_priority():
            value = _dig(tree, keys)
            if value is not None:
                return value
        return None

    def text(self, *keys: str) -> str | None:
        value = self.get(*keys)
        if value is None or yamlio.tag_of(value) or isinstance(value, CommentedMap | list):
            return None
        return substitute(str(value), self.substitutions)


def list_devices(esphome_dir: str | Path) -> list[Device]:
    """Every device configuration in the folder, sorted by file name."""
    folder = Path(esphome_dir)
    if not folder.is_dir():
        raise EsphomeBridgeError(
            f"{folder}: not an ESPHome config folder (no such directory); pass --esphome-dir"
        )
    devices = []
    for path in sorted(folder.iterdir()):
        if _is_config_file(path):
            device = read_device(path)
            if device is not None:
                devices.append(device)
    return devices


def find_device(esphome_dir: str | Path, name_or_yaml: str) -> Device:
    """The device whose file, file stem, name or friendly name is `name_or_yaml`."""
    folder = Path(esphome_dir)
    wanted = name_or_yaml.strip()
    as_path = Path(wanted)
    if len(as_path.parts) > 1 and as_path.parent.resolve() != folder.resolve():
        raise DeviceNotFoundError(
            f"{wanted} is not at the top of {folder}: ESPHome lists only top-level YAML files"
            " (pass --esphome-dir for another folder)"
        )
    devices = list_devices(folder)
    matches = [d for d in devices if as_path.name in (d.yaml_file, d.yaml_path.stem)]
    if not matches:
        matches = [d for d in devices if wanted.casefold() in _names(d)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        found = ", ".join(d.yaml_file for d in matches)
        raise DeviceNotFoundError(f"'{wanted}' matches several devices ({found}): name the file")
    available = ", ".join(f"{d.name} ({d.yaml_file})" for d in devices) or "none"
    raise DeviceNotFoundError(f"no device '{wanted}' in {folder}; available: {available}")


def read_device(path: Path) -> Device | None:
    """The device in one file; None when the file is YAML but not a device configuration."""
    try:
        tree = yamlio.load_file(path)
    except EsphomeBridgeError as err:
        return Device(name=path.stem, yaml_path=path.resolve(), error=str(err))
    if not isinstance(tree, CommentedMap) or not ({"esphome", "packages"} & set(tree)):
        return None
    layers, notes = _read_layers(tree, path.parent)
    return _describe(layers, path.resolve(), notes)


def declared_ids(yaml_path: Path, *, skip_packages: Collection[str] = ()) -> dict[str, str]:
    """Every `id:` the file and its local packages declare, with where ("main" or a package)."""
    tree = yamlio.load_file(yaml_path)
    if not isinstance(tree, CommentedMap):
        return {}
    layers, _ = _read_layers(tree, yaml_path.parent)
    found: dict[str, str] = {}
    for origin, layer in layers.in_merge_order():
        if origin not in skip_packages:
            for value in _ids(layer):
                found.setdefault(substitute(value, layers.substitutions), origin)
    return found


def _ids(tree: Any) -> Iterator[str]:
    if isinstance(tree, CommentedMap):
        for key, value in tree.items():
            if key == "id" and isinstance(value, str | int) and not yamlio.tag_of(value):
                yield str(value)
            elif key != "packages":
                yield from _ids(value)
    elif isinstance(tree, CommentedSeq):
        for item in tree:
            yield from _ids(item)


def substitute(text: str, substitutions: dict[str, str], rounds: int = 5) -> str:
    """`${var}` and `$var` replaced from `substitutions`; unknown ones are left as written."""

    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return str(substitutions[name]) if name in substitutions else match.group(0)

    for _ in range(rounds):
        new = _SUBSTITUTION.sub(one, text)
        if new == text:
            break
        text = new
    return text


def _describe(layers: _Layers, path: Path, notes: list[str]) -> Device:
    name = layers.text("esphome", "name")
    if name is None:
        name = layers.substitutions.get("name") or path.stem
        notes.append(f"esphome.name not found in {path.name} or its local packages")
    if "$" in name:
        notes.append(f"name '{name}' uses a substitution defined elsewhere")
    platform = next((p for p in PLATFORMS if layers.get(p) is not None), None)
    address, source = _address(layers, name)
    port, password = _ota(layers, platform)
    wake_words = tuple(_wake_words(layers))
    return Device(
        name=name,
        yaml_path=path,
        friendly_name=layers.text("esphome", "friendly_name"),
        platform=platform,
        board=layers.text(platform, "board") if platform else None,
        variant=layers.text(platform, "variant") if platform else None,
        framework=_framework(layers, platform),
        address=address,
        address_source=source,
        ota_port=port,
        ota_password=password,
        has_micro_wake_word=layers.get("micro_wake_word") is not None,
        wake_words=wake_words,
        packages=tuple(ref for ref, _ in layers.packages),
        notes=tuple(notes),
    )


def _framework(layers: _Layers, platform: str | None) -> str | None:
    if platform != "esp32":
        return None
    framework = layers.text("esp32", "framework", "type")
    return framework or "esp-idf"  # ESPHome's default for ESP32 since 2025.x


def _address(layers: _Layers, name: str) -> tuple[str | None, str]:
    for network in NETWORKS:
        block = layers.get(network)
        if block is None:
            continue
        block = block if isinstance(block, CommentedMap) else CommentedMap()
        use = block.get("use_address")
        if use is not None:
            return _maybe_secret(use, layers, "use_address")
        static = _static_ips(block)
        if len(static) == 1:
            return _maybe_secret(static[0], layers, "static_ip")
        domain = block.get("domain", ".local")
        return substitute(f"{name}{domain}", layers.substitutions), "mdns"
    return None, "unknown"


def _static_ips(block: CommentedMap) -> list[Any]:
    ips = [_dig(block, ("manual_ip", "static_ip"))]
    networks = block.get("networks")
    if isinstance(networks, CommentedSeq):
        ips += [_dig(n, ("manual_ip", "static_ip")) for n in networks]
    return [ip for ip in ips if ip is not None]


def _maybe_secret(value: Any, layers: _Layers, source: str) -> tuple[str | None, str]:
    if yamlio.tag_of(value) == "!secret":
        return None, "secret"
    return substitute(str(yamlio.scalar_value(value)), layers.substitutions), source


def _ota(layers: _Layers, platform: str | None) -> tuple[int | None, bool]:
    """Port and password presence of the `platform: esphome` OTA entry, main file first."""
    for tree in layers.by_priority():
        ota = tree.get("ota") if isinstance(tree, CommentedMap) else None
        entries = ota if isinstance(ota, CommentedSeq) else [ota]  # a dict is the old style
        for entry in entries:
            if isinstance(entry, CommentedMap) and entry.get("platform", "esphome") == "esphome":
                port = entry.get("port")
                text = substitute(str(port), layers.substitutions) if port is not None else ""
                default = DEFAULT_OTA_PORTS.get(platform or "")
                return (int(text) if text.isdigit() else default), "password" in entry
    return None, False


def _wake_words(layers: _Layers) -> Iterator[WakeWordRef]:
    for origin, tree in layers.in_merge_order():
        models = _dig(tree, ("micro_wake_word", "models"))
        if not isinstance(models, CommentedSeq):
            continue
        for item in models:
            if isinstance(item, CommentedMap):
                model_id = item.get("id")
                yield WakeWordRef(_model_source(item.get("model")), _text(model_id), origin)
            elif item is not None:
                yield WakeWordRef(_model_source(item), None, origin)


def _model_source(model: Any) -> str:
    if isinstance(model, CommentedMap):
        for key in ("path", "url", "file"):
            if key in model:
                return str(yamlio.scalar_value(model[key]))
        return "?"
    return "?" if model is None else str(yamlio.scalar_value(model))


def _read_layers(tree: CommentedMap, folder: Path) -> tuple[_Layers, list[str]]:
    layers = _Layers(main=tree)
    notes: list[str] = []
    _collect_packages(tree, folder, layers, notes, depth=0)
    subs: dict[str, str] = {}
    for layer in reversed(layers.by_priority()):  # lowest priority first, main last
        block = layer.get("substitutions") if isinstance(layer, CommentedMap) else None
        if isinstance(block, CommentedMap):
            subs.update({str(k): str(v) for k, v in block.items() if not yamlio.tag_of(v)})
    layers.substitutions = subs
    return layers, notes


def _collect_packages(tree: Any, folder: Path, layers: _Layers, notes: list[str], depth: int):
    if depth >= MAX_PACKAGE_DEPTH or not isinstance(tree, CommentedMap):
        return
    for name, entry in _package_entries(tree.get("packages")):
        ref, content = _open_package(name, entry, folder)
        if content is None:
            if not ref.local:
                notes.append(f"package {name} ({ref.source}) is remote and was not inspected")
            else:
                notes.append(f"package {name}: cannot read {ref.source}")
            layers.packages.append((ref, CommentedMap()))
            continue
        _collect_packages(content, folder, layers, notes, depth + 1)
        layers.packages.append((ref, content))


def _package_entries(packages: Any) -> list[tuple[str, Any]]:
    if isinstance(packages, CommentedMap):
        return [(str(k), v) for k, v in packages.items()]
    if isinstance(packages, CommentedSeq):
        return [(f"#{i}", v) for i, v in enumerate(packages)]
    return []


def _open_package(name: str, entry: Any, folder: Path) -> tuple[PackageRef, Any]:
    tag = yamlio.tag_of(entry)
    if tag == "!include":
        target = entry.get("file") if isinstance(entry, CommentedMap) else entry.value
        source = str(yamlio.scalar_value(target))
        try:
            return PackageRef(name, source, True), yamlio.load_file(folder / source)
        except EsphomeBridgeError:
            return PackageRef(name, source, True), None
    if isinstance(entry, CommentedMap) and "url" not in entry and tag is None:
        return PackageRef(name, "(inline)", True), entry
    source = entry.get("url") if isinstance(entry, CommentedMap) else entry
    return PackageRef(name, str(yamlio.scalar_value(source)), False), None


def _dig(tree: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(tree, CommentedMap) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _text(value: Any) -> str | None:
    return None if value is None else str(yamlio.scalar_value(value))


def _names(device: Device) -> set[str]:
    names = {device.name.casefold()}
    if device.friendly_name:
        names.add(device.friendly_name.casefold())
    return names


def _is_config_file(path: Path) -> bool:
    return (
        path.is_file()
        and path.suffix in YAML_SUFFIXES
        and not path.name.startswith(".")
        and path.name not in SECRETS_FILES
    )


__all__ = [
    "Device",
    "PackageRef",
    "WakeWordRef",
    "declared_ids",
    "find_device",
    "list_devices",
    "read_device",
    "substitute",
]
