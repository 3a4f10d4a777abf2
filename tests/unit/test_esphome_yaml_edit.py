"""The one-line packages: edit: byte-exact against golden files, reversible, and refusing
layouts it cannot edit safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from mww_trainer.esphome import yamlio
from mww_trainer.esphome.errors import DeployError, EsphomeBridgeError
from mww_trainer.esphome.yaml_edit import (
    PackageEntry,
    add_package,
    remove_package,
    unified_diff,
)

GOLDEN = Path(__file__).parents[1] / "data" / "esphome" / "golden"
ENTRY = PackageEntry("mww_hey_computer", "wake_words/hey_computer/hey_computer.package.yaml")
CASES = ("no_packages", "packages_map", "packages_list")


@pytest.mark.parametrize("case", CASES)
def test_golden_files_byte_for_byte(case):
    source = (GOLDEN / f"{case}.yaml").read_bytes()
    expected = (GOLDEN / f"{case}.expected.yaml").read_bytes()

    edited = add_package(source.decode(), ENTRY, source=case).encode()

    assert edited == expected


@pytest.mark.parametrize("case", CASES)
def test_only_added_lines_and_everything_else_kept(case):
    source = (GOLDEN / f"{case}.yaml").read_text()
    edited = add_package(source, ENTRY, source=case)

    diff = unified_diff(source, edited, case).splitlines()
    changed = [x for x in diff[2:] if x[:1] in "+-" and not x.startswith("@@")]
    assert all(x.startswith("+") for x in changed)  # nothing removed or rewritten
    assert any(ENTRY.include in x for x in changed)
    # tags, comments and quotes survive: every original line is still there, in order
    old_lines, new_lines = source.splitlines(), edited.splitlines()
    it = iter(new_lines)
    assert all(any(line == n for n in it) for line in old_lines)
    for marker in ("!secret", "!include", "# ", "'", '"', "lambda"):
        assert edited.count(marker) >= source.count(marker)


@pytest.mark.parametrize("case", CASES)
def test_adding_twice_changes_nothing_and_remove_restores(case):
    source = (GOLDEN / f"{case}.yaml").read_text()
    edited = add_package(source, ENTRY, source=case)

    assert add_package(edited, ENTRY, source=case) == edited
    assert remove_package(edited, ENTRY, source=case) == source
    assert remove_package(source, ENTRY, source=case) == source


def test_tags_parse_back_unchanged():
    source = (GOLDEN / "no_packages.yaml").read_text()
    before = yamlio.to_plain(yamlio.parse_text(source, source="t"))
    after = yamlio.to_plain(yamlio.parse_text(add_package(source, ENTRY, source="t"), source="t"))

    assert after.pop("packages") == {ENTRY.key: ("!include", ENTRY.include)}
    assert after == before
    assert before["api"]["encryption"]["key"] == ("!secret", "api_key")
    assert before["binary_sensor"] == ("!include", "common/buttons.yaml")


def test_crlf_and_missing_final_newline_are_kept():
    source = (
        "esphome:\r\n    name: x\r\npackages:\r\n    base: !include b.yaml\r\nwifi:\r\n    ssid: a"
    )
    edited = add_package(source, ENTRY, source="t")

    assert edited == source.replace(
        "b.yaml\r\n", f"b.yaml\r\n    {ENTRY.key}: !include {ENTRY.include}\r\n"
    )
    assert remove_package(edited, ENTRY, source="t") == source


def test_at_end_of_file_without_newline():
    source = "esphome:\n  name: x\npackages:\n  a: !include a.yaml"
    assert add_package(source, ENTRY, source="t") == (
        f"esphome:\n  name: x\npackages:\n  a: !include a.yaml\n  {ENTRY.key}: !include"
        f" {ENTRY.include}\n"
    )


def test_empty_packages_key_gets_the_entry():
    source = "esphome:\n  name: x\npackages:\nwifi:\n  ssid: a\n"
    edited = add_package(source, ENTRY, source="t")
    assert (
        edited
        == f"esphome:\n  name: x\npackages:\n  {ENTRY.key}: !include {ENTRY.include}\n"
        + ("wifi:\n  ssid: a\n")
    )


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("esphome:\n  name: x\npackages: !include pk.yaml\n", "not a plain list"),
        ("esphome:\n  name: x\npackages: {a: !include a.yaml}\n", "flow style"),
        (f"esphome:\n  name: x\npackages:\n  {ENTRY.key}: !include other.yaml\n", "else"),
    ],
)
def test_layouts_we_do_not_edit_are_refused(source, why):
    with pytest.raises(DeployError, match=why):
        add_package(source, ENTRY, source="t")


def test_not_yaml_or_not_a_mapping_is_refused():
    with pytest.raises(DeployError):
        add_package("- just\n- a list\n", ENTRY, source="t")
    with pytest.raises(EsphomeBridgeError, match="not valid YAML"):
        add_package("esphome: [\n", ENTRY, source="t")


def test_a_block_scalar_keeping_its_blank_lines_is_not_cut_short():
    """Inserting after esphome: would move the blank lines a `|+` scalar keeps; the edit
    goes to the end of the file instead, and the scalar's value is unchanged."""
    source = "esphome:\n  name: x\n  on_boot:\n    - lambda: |+\n        x\n\n\nwifi: {}\n"
    edited = add_package(source, ENTRY, source="t")
    assert edited == source + f"\npackages:\n  {ENTRY.key}: !include {ENTRY.include}\n"
    assert remove_package(edited, ENTRY, source="t") == source
