"""Settings dataclasses are the single source of defaults: the schema must agree with them."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
import yaml

from conftest import REPO
from more_ie.experts.settings import TrainConfig
from more_ie.moe.settings import MoeConfig
from more_ie.utils.settings import add_dataclass_arguments, defaults, settings_from_args, settings_from_json

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


@pytest.mark.parametrize(
    "block, cls, selection", [("experts", TrainConfig, {"seed"}), ("moe", MoeConfig, set())]
)
def test_schema_defaults_equal_dataclass_defaults(block: str, cls: type, selection: set[str]) -> None:
    properties = SCHEMA["properties"][block]["properties"]
    fields = defaults(cls)
    for name, default in fields.items():
        if name in selection:
            continue
        assert name in properties, f"{block}.{name} is a {cls.__name__} setting but not in the schema"
        assert (
            properties[name]["default"] == default
        ), f"{block}.{name}: schema {properties[name]['default']!r} != {default!r}"
        assert (
            properties[name]["description"].rstrip(".") in cls.__dataclass_fields__[name].metadata["help"]
            or cls.__dataclass_fields__[name].metadata["help"].rstrip(".") in properties[name]["description"]
        )
    selection_keys = {
        "experts": {"seeds", "views"},
        "moe": {"variants", "gate_text_encoder", "gate_image_features"},
    }
    extra = set(properties) - set(fields) - selection_keys[block]
    assert not extra, f"schema keys without a {cls.__name__} field: {sorted(extra)}"
    if block == "experts":
        overridable = set(SCHEMA["definitions"]["dataset"]["properties"]["experts"]["propertyNames"]["enum"])
        assert overridable == set(fields) - selection


def test_flags_and_json_round_trip() -> None:
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, TrainConfig)
    args = parser.parse_args(["--max-subtokens", "64", "--head-lr", "null", "--cva", "false"])
    config = settings_from_args(TrainConfig, args)
    assert config.max_subtokens == 64 and config.head_lr is None and config.cva is False
    assert dataclasses.replace(config, max_subtokens=512, cva=True) == TrainConfig()
    from_json = settings_from_json(TrainConfig, '{"lr": 1, "max_train_samples": null}', "x")
    assert from_json.lr == 1.0 and isinstance(from_json.lr, float)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"lrr": 1}', "unknown TrainConfig keys ['lrr']"),
        ('{"epochs": 2.0}', "epochs must be int"),
        ('{"cva": 1}', "cva must be bool"),
        ("[1]", "must be a JSON object"),
    ],
)
def test_json_settings_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        settings_from_json(TrainConfig, text, "--settings")
