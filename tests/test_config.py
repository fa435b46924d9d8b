"""Config validation: defaults, and errors that name the key."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from more_ie.config import ConfigError, check_local_path, load_config, validate_config

MINIMAL = {"knowledge": {"kc": {"source": {"kind": "dump", "path": "x.xml"}}}}


def test_paper_config_holds_the_paper_setup() -> None:
    config = load_config(REPO / "config.yaml")
    source = config["knowledge"]["enwiki"]["source"]
    assert source["url"].endswith("pages-articles-multistream.xml.bz2")
    assert source["index_url"].endswith("pages-articles-multistream-index.txt.bz2")
    assert {"twitter2015", "twitter2017", "snap", "wikidiverse", "mnre"} <= set(config["datasets"])
    assert config["experts"]["encoder"] == "xlm-roberta-large"
    image = config["retrieval"]["image"]
    assert (image["clip_arch"], image["clip_pretrained"]) == ("ViT-B-32", "openai")
    assert config["retrieval"]["text"]["k"] == image["k"] == 10


def test_demo_config_is_valid() -> None:
    config = load_config(REPO / "config.demo.yaml")
    assert config["knowledge"]["demowiki"]["shards"] >= 2


def test_defaults_are_filled_inside_named_blocks() -> None:
    config = validate_config(copy.deepcopy(MINIMAL))
    kc = config["knowledge"]["kc"]
    assert kc["shards"] == 1 and kc["images"]["thumb_width"] == 320
    assert config["retrieval"]["text"]["k"] == 10


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["knowledge"]["kc"].update(shardz=2), r"knowledge\.kc: Additional properties.*'shardz'"),
        (lambda c: c["knowledge"]["kc"].update(shards="two"), r"knowledge\.kc\.shards: 'two' is not of type"),
        (lambda c: c.update(retrieval={"text": {"k": 0}}), r"retrieval\.text\.k: 0 is less than the minimum"),
        (lambda c: c.update(experts={"views": ["none", "video"]}), r"experts\.views\.1: 'video' is not one of"),
        (lambda c: c["knowledge"]["kc"]["source"].pop("path"), r"knowledge\.kc\.source: give a path or a url"),
        (lambda c: c.update(retrieval={"text": {"kc": "nope"}}), r"retrieval\.text\.kc: 'nope' is not one of"),
        (lambda c: c.update(typo_block={}), r"Additional properties.*'typo_block'"),
    ],
)
def test_errors_name_the_key(edit, message: str) -> None:
    config = copy.deepcopy(MINIMAL)
    edit(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config, where="my.yaml")


def test_missing_local_path_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"knowledge\.kc\.source\.path: file not found: nowhere\.xml"):
        check_local_path("knowledge.kc.source.path", "nowhere.xml", base_dir=tmp_path)
    assert check_local_path("k", "results/made/by/a/stage.parquet", base_dir=tmp_path)


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("knowledge: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)


def test_schema_keys_carry_descriptions() -> None:
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())

    def walk(node, path):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert "description" in sub, f"{path}.{name} has no description"
                walk(sub, f"{path}.{name}")
            for key in ("additionalProperties", "items"):
                if isinstance(node.get(key), dict):
                    walk(node[key], path)

    walk(schema, "")
    for name, definition in schema["definitions"].items():
        walk(definition, name)


def test_variants_need_their_views_and_two_seeds() -> None:
    config = copy.deepcopy(MINIMAL)
    config["experts"] = {"seeds": [1]}
    with pytest.raises(ConfigError, match=r"moe\.variants: text\+text combines two seeds"):
        validate_config(config)
    config = copy.deepcopy(MINIMAL)
    config["experts"] = {"views": ["none", "text"]}
    config["moe"] = {"variants": ["text+image"]}
    with pytest.raises(ConfigError, match=r"moe\.variants: text\+image needs experts\.views to include \['image'\]"):
        validate_config(config)
