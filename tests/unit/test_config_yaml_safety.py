"""YAML configurations and overrides are checked before they are built: no alias bombs."""

from __future__ import annotations

import time

import pytest

from mww_trainer.config import load_config
from mww_trainer.config.loader import MAX_YAML_CHARS, parse_yaml_text
from mww_trainer.errors import ConfigError
from tests.fakes.hostile import alias_bomb


def test_an_alias_bomb_override_is_refused_at_once(tmp_path):
    override = tmp_path / "bomb.yaml"
    override.write_text(alias_bomb())
    started = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        load_config("fast_test", override)
    assert time.monotonic() - started < 1
    message = str(refused.value)
    assert message.startswith(f"{override}, line 1: anchors and aliases")
    assert len(message) < 200


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {batch_size: 8}\ntraining: {<<: *b}\n",  # a merge key needs an alias
        "training: &t {batch_size: 8}\n",  # an anchor alone is refused too
    ],
)
def test_anchors_and_merge_keys_are_refused(text):
    with pytest.raises(ConfigError, match="anchors and aliases"):
        parse_yaml_text(text, "overrides")


def test_deep_nesting_and_huge_texts_are_refused_before_building():
    with pytest.raises(ConfigError, match="nested more than 16 levels deep"):
        parse_yaml_text("[" * 19000, "overrides")
    with pytest.raises(ConfigError, match=f"at most {MAX_YAML_CHARS}"):
        parse_yaml_text("#" * (MAX_YAML_CHARS + 1), "overrides")


def test_errors_quote_only_an_excerpt_of_a_long_value(tmp_path):
    override = tmp_path / "long.yaml"
    override.write_text("training:\n  batch_size: [" + ", ".join(["123456789"] * 2000) + "]\n")
    with pytest.raises(ConfigError) as refused:
        load_config("fast_test", override)
    message = str(refused.value)
    assert "training.batch_size: [123456789, 123456789" in message
    assert "… (22000 characters)" in message
    assert len(message) < 400
