"""Config validation: defaults, and errors that name the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from more_ie.config import ConfigError, check_local_path, load_config, validate_config

MINIMAL = {"knowledge": {"kc": {"source": {"kind": "dump", "path": "x.xml"}}}}
DATASET = {
    "task": "re",
    "format": "mnre_dict",
    "splits": {s: {"path": f"{s}.txt"} for s in ("train", "dev", "test")},
}


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
        (
            lambda c: c.update(experts={"views": ["none", "video"]}),
            r"experts\.views: 'video' is neither built in",
        ),
        (
            lambda c: c["knowledge"]["kc"]["source"].pop("path"),
            r"knowledge\.kc\.source: give a path or a url",
        ),
        (
            lambda c: c.update(retrieval={"text": {"kc": "nope"}}),
            r"retrieval\.text\.kc: 'nope' is not one of",
        ),
        (lambda c: c.update(typo_block={}), r"Additional properties.*'typo_block'"),
        # draft-07 calls 2.0 an integer; range(2.0) then failed DAG building with a bare TypeError
        (
            lambda c: c["knowledge"]["kc"].update(shards=2.0),
            r"knowledge\.kc\.shards: 2\.0 is not of type 'integer'",
        ),
        (lambda c: c.update(experts={"epochs": 2.0}), r"experts\.epochs: 2\.0 is not of type 'integer'"),
        (
            lambda c: c.update(retrieval={"image": {"k": 3.0}}),
            r"retrieval\.image\.k: 3\.0 is not of type 'integer'",
        ),
        (
            lambda c: c.update(demo={"ner_sizes": [4, 4.0, 4]}),
            r"demo\.ner_sizes\.1: 4\.0 is not of type 'integer'",
        ),
        (lambda c: c.update(experts={"epochs": True}), r"experts\.epochs: True is not of type 'integer'"),
        # a label_map value is an entity-type name, never shell text
        (
            lambda c: c.update(datasets={"d": dict(DATASET, label_map={"OTHER": "MISC$(touch PWNED)"})}),
            r"datasets\.d\.label_map\.OTHER: 'MISC\$\(touch PWNED\)' does not match",
        ),
        (
            lambda c: c.update(datasets={"d": dict(DATASET, label_map={"O THER": "MISC"})}),
            r"datasets\.d\.label_map: 'O THER' does not match",
        ),
        (
            lambda c: c.update(datasets={"d": dict(DATASET, no_relation_labels=[])}),
            r"datasets\.d\.no_relation_labels: \[\] (is too short|should be non-empty)",
        ),
    ],
)
def test_errors_name_the_key(edit, message: str) -> None:
    config = copy.deepcopy(MINIMAL)
    edit(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config, where="my.yaml")


def test_integers_and_floats_stay_apart() -> None:
    config = copy.deepcopy(MINIMAL)
    config.update(experts={"epochs": 2, "lr": 1})  # an integer is a valid number
    validate_config(config)
    assert config["datasets"] == {} and config["experts"]["epochs"] == 2


def test_no_relation_labels_default() -> None:
    config = copy.deepcopy(MINIMAL)
    config.update(datasets={"d": copy.deepcopy(DATASET)})
    validate_config(config)
    assert config["datasets"]["d"]["no_relation_labels"] == ["None", "NA", "no_relation"]


def test_missing_local_path_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"knowledge\.kc\.source\.path: file not found: nowhere\.xml"):
        check_local_path("knowledge.kc.source.path", "nowhere.xml", base_dir=tmp_path)
    assert check_local_path("k", "results/made/by/a/stage.parquet", base_dir=tmp_path)


def test_a_path_under_another_results_dir_is_produced_by_a_stage(tmp_path: Path) -> None:
    """With `results_dir` moved (e.g. to scratch), stage outputs are under it, not under results/."""
    scratch = "/scratch/run1"
    assert check_local_path("k", f"{scratch}/demo/world/mner/train.txt", tmp_path, results_dir=scratch)
    with pytest.raises(ConfigError, match="k: file not found: results/x.parquet"):
        check_local_path("k", "results/x.parquet", tmp_path, results_dir=scratch)
    with pytest.raises(ConfigError, match="file not found: /scratch/run10/x"):  # a prefix is not a parent
        check_local_path("k", "/scratch/run10/x", tmp_path, results_dir=scratch)


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
    with pytest.raises(
        ConfigError, match=r"moe\.variants: text\+image needs experts\.views to include \['image'\]"
    ):
        validate_config(config)
