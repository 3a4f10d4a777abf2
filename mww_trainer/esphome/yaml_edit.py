"""The one edit we make to a user's device YAML: add (or remove) a `packages:` entry.

ruamel.yaml's round-trip loader finds where the entry goes, the entry is inserted as
text, and the result is parsed again and compared with the original plus the entry.
Every other byte stays as the user wrote it. (Dumping the whole tree with ruamel would
re-indent sequences to one style and re-align comments: a diff the user never asked for.)
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mww_trainer.esphome import yamlio
from mww_trainer.esphome.errors import DeployError, EsphomeBridgeError

ANCHOR_KEYS = ("substitutions", "esphome")  # a new packages: block goes after the later one
DEFAULT_INDENT = 2
_DASH = re.compile(r"^(\s*)-(\s|$)")


@dataclass(frozen=True)
class PackageEntry:
    key: str  # the name under packages: (mww_<slug>)
    include: str  # the !include target, relative to the device YAML

    def matches(self, node: Any) -> bool:
        return yamlio.tag_of(node) == "!include" and yamlio.scalar_value(node) == self.include


def add_package(text: str, entry: PackageEntry, *, source: str) -> str:
    """`text` with `entry` under packages:; `text` itself when it is already there."""
    tree = _parse_mapping(text, source)
    lines = yamlio.split_lines(text)
    nl = yamlio.newline_of(text)
    packages = tree.get("packages")
    expected = yamlio.to_plain(tree)
    include = ("!include", entry.include)
    if "packages" not in tree:
        expected["packages"] = {entry.key: include}
        return _new_packages_block(tree, lines, nl, entry, expected, source)
    if yamlio.tag_of(packages) or not isinstance(packages, CommentedMap | CommentedSeq | None):
        raise DeployError(_manual(source, entry, "its packages: is not a plain list or mapping"))
    elif packages is None:
        row = tree.lc.key("packages")[0]
        lines[row + 1 : row + 1] = [f"{' ' * _indent(tree)}{_line(entry)}{nl}"]
        expected["packages"] = {entry.key: include}
    elif _flow(packages):
        raise DeployError(_manual(source, entry, "its packages: is written in flow style"))
    elif isinstance(packages, CommentedMap):
        if entry.key in packages:
            if entry.matches(packages[entry.key]):
                return text
            raise DeployError(
                f"{source}: packages.{entry.key} already exists and includes something else;"
                f" rename or remove it, then deploy again"
            )
        column = packages.lc.key(next(iter(packages)))[1]
        lines = _append_to_block(tree, lines, nl, f"{' ' * column}{_line(entry)}")
        expected["packages"][entry.key] = include
    else:
        if any(entry.matches(item) for item in packages):
            return text
        dash = _dash_indent(lines, packages)
        lines = _append_to_block(tree, lines, nl, f"{dash}- !include {entry.include}")
        expected["packages"].append(include)
    return _checked("".join(lines), expected, source)


def remove_package(text: str, entry: PackageEntry, *, source: str) -> str:
    """`text` without `entry` (and without packages: if that leaves it empty)."""
    tree = _parse_mapping(text, source)
    packages = tree.get("packages")
    expected = yamlio.to_plain(tree)
    if isinstance(packages, CommentedMap) and entry.key in packages:
        if not entry.matches(packages[entry.key]):
            return text
        row = packages.lc.key(entry.key)[0]
        del expected["packages"][entry.key]
    elif isinstance(packages, CommentedSeq) and any(entry.matches(i) for i in packages):
        index = next(i for i, item in enumerate(packages) if entry.matches(item))
        row = packages.lc.item(index)[0]
        del expected["packages"][index]
    else:
        return text
    lines = yamlio.split_lines(text)
    del lines[row]
    if not expected["packages"]:
        del expected["packages"]
        lines = _drop_empty_packages(lines, tree.lc.key("packages")[0])
    return _checked("".join(lines), expected, source)


def unified_diff(old: str, new: str, name: str) -> str:
    """A unified diff of a file's text; empty when nothing changes."""
    old_lines = [_ensure_newline(x) for x in yamlio.split_lines(old)]
    new_lines = [_ensure_newline(x) for x in yamlio.split_lines(new)]
    return "".join(
        difflib.unified_diff(old_lines, new_lines, f"a/{name}" if old else "/dev/null", f"b/{name}")
    )


def _parse_mapping(text: str, source: str) -> CommentedMap:
    tree = yamlio.parse_text(text, source=source)
    if not isinstance(tree, CommentedMap):
        raise DeployError(f"{source}: the top level is not a mapping; is this an ESPHome config?")
    return tree


def _new_packages_block(tree, lines, nl, entry, expected, source: str) -> str:
    """A packages: block after substitutions:/esphome:, else at the end, else at the top:
    the first place where the file still means what it meant, plus the entry."""
    anchors = [k for k in ANCHOR_KEYS if k in tree]
    rows = [len(lines), 0]
    if anchors:
        anchor = max(anchors, key=lambda k: tree.lc.key(k)[0])
        rows.insert(0, _block_end(tree, lines, anchor))
    error: DeployError | None = None
    for row in rows:
        block = [nl, f"packages:{nl}", f"{' ' * _indent(tree)}{_line(entry)}{nl}"]
        if row == 0:
            block = block[1:]
        if row < len(lines) and lines[row].strip():
            block.append(nl)
        try:
            return _checked("".join(_insert(lines, row, block, nl)), expected, source)
        except DeployError as err:
            error = error or err
    raise error or DeployError(source)


def _append_to_block(tree: CommentedMap, lines: list[str], nl: str, line: str) -> list[str]:
    row = _block_end(tree, lines, "packages")
    return _insert(lines, row, [f"{line}{nl}"], nl)


def _insert(lines: list[str], row: int, new: list[str], nl: str) -> list[str]:
    lines = list(lines)
    if row > 0 and not lines[row - 1].endswith(("\n", "\r")):
        lines[row - 1] += nl  # the file ended without a line break
    lines[row:row] = new
    return lines


def _block_end(tree: CommentedMap, lines: list[str], key: str) -> int:
    """The row after a top-level block's last line, before blank lines and column-0
    comments that introduce the next block."""
    keys = list(tree)
    start = tree.lc.key(key)[0]
    index = keys.index(key)
    end = tree.lc.key(keys[index + 1])[0] if index + 1 < len(keys) else len(lines)
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return end


def _drop_empty_packages(lines: list[str], row: int) -> list[str]:
    del lines[row]  # the packages: line
    blank_before = row > 0 and not lines[row - 1].strip()
    blank_after = row >= len(lines) or not lines[row].strip()
    if blank_before and blank_after:
        del lines[row - 1]  # the separating blank line deploy added
    return lines


def _indent(tree: CommentedMap) -> int:
    """The document's mapping indentation, from its first nested block mapping."""
    for value in tree.values():
        if isinstance(value, CommentedMap) and value and not _flow(value):
            return value.lc.key(next(iter(value)))[1]
    return DEFAULT_INDENT


def _dash_indent(lines: list[str], seq: CommentedSeq) -> str:
    row, column = seq.lc.item(0)
    match = _DASH.match(lines[row])
    return match.group(1) if match else " " * max(column - 2, 0)


def _flow(node: Any) -> bool:
    return bool(getattr(getattr(node, "fa", None), "flow_style", lambda: False)())


def _line(entry: PackageEntry) -> str:
    return f"{entry.key}: !include {entry.include}"


def _checked(new_text: str, expected: Any, source: str) -> str:
    """Parse the edited text and require it to mean the original plus our one change."""
    try:
        actual = yamlio.to_plain(yamlio.parse_text(new_text, source=source))
    except EsphomeBridgeError as err:
        raise DeployError(
            f"{source}: the edit would break the file ({err}); nothing changed"
        ) from err
    if actual != copy.deepcopy(expected):
        raise DeployError(
            f"{source}: the file's layout defeated a safe one-line edit; nothing changed."
            " Add the package entry by hand (mww-esphome snippet shows it)"
        )
    return new_text


def _manual(source: str, entry: PackageEntry, why: str) -> str:
    return (
        f"{source}: cannot add the package automatically: {why}. Add this entry to the"
        f" packages it includes, by hand:\n  {_line(entry)}"
    )


def _ensure_newline(line: str) -> str:
    return line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
