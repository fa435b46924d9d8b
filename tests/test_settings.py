"""Settings dataclasses are the single source of defaults: the schema must agree with them."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
import yaml

from conftest import REPO
from more_ie.demo.settings import DemoScale
from more_ie.experts.settings import TrainConfig
from more_ie.moe.settings import MoeConfig
from more_ie.search.settings import Bm25Settings
from more_ie.utils.settings import add_dataclass_arguments, defaults, settings_from_args, settings_from_json

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


@pytest.mark.parametrize(
    "block, cls, selection",
    [("experts", TrainConfig, {"seed"}), ("moe", MoeConfig, set()), ("demo", DemoScale, set())],
)
def test_schema_defaults_equal_dataclass_defaults(block: str, cls: type, selection: set[str]) -> None:
    properties = SCHEMA["properties"][block]["properties"]
    fields = defaults(cls)
    for name, default in fields.items():
        if name in selection:
            continue
        assert name in properties, f"{block}.{name} is a {cls.__name__} setting but not in the schema"
        default = list(default) if isinstance(default, tuple) else default  # YAML has lists
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
        "demo": {"out_dir", "seed"},
    }
    extra = set(properties) - set(fields) - selection_keys[block]
    assert not extra, f"schema keys without a {cls.__name__} field: {sorted(extra)}"
    if block == "experts":
        overridable = set(SCHEMA["definitions"]["dataset"]["properties"]["experts"]["propertyNames"]["enum"])
        assert overridable == set(fields) - selection


def test_text_retrieval_schema_defaults_equal_bm25_settings() -> None:
    """retrieval.text names k1 and b bm25_k1 and bm25_b; threads and batch are run settings (the
    rule's threads; a batch size), not config."""
    properties = SCHEMA["properties"]["retrieval"]["properties"]["text"]["properties"]
    names = {"k": "k", "k1": "bm25_k1", "b": "bm25_b"}
    fields = defaults(Bm25Settings)
    assert set(fields) == set(names) | {"threads", "batch"}
    for field_name, key in names.items():
        assert properties[key]["default"] == fields[field_name], key
        assert (
            properties[key]["description"] == Bm25Settings.__dataclass_fields__[field_name].metadata["help"]
        )


def test_tuple_settings_take_a_fixed_number_of_values() -> None:
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, DemoScale)
    scale = settings_from_args(DemoScale, parser.parse_args(["--ner-sizes", "10", "5", "5"]))
    assert scale.ner_sizes == (10, 5, 5) and scale == dataclasses.replace(DemoScale(), ner_sizes=(10, 5, 5))
    with pytest.raises(SystemExit):
        parser.parse_args(["--ner-sizes", "10", "5"])
    assert settings_from_json(DemoScale, '{"re_sizes": [1, 2, 3]}', "x").re_sizes == (1, 2, 3)
    with pytest.raises(ValueError, match=r"re_sizes must be a list of 3 int"):
        settings_from_json(DemoScale, '{"re_sizes": [1, 2]}', "x")


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
