"""Settings dataclasses are the single source of defaults: the schema must agree with them."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest
import yaml

from conftest import REPO
from more_ie.contexts.settings import ImportSettings, RandomContextSettings
from more_ie.datasets.settings import PrepareSettings
from more_ie.demo.settings import DEMO_SEED, DemoScale, DemoSeed
from more_ie.download.settings import DownloadSettings
from more_ie.experts.settings import TrainConfig
from more_ie.moe.settings import GateFeatureSettings, MoeConfig
from more_ie.search.settings import (
    Bm25Settings,
    ClipSettings,
    FaissIndexSettings,
    ImageSearchSettings,
    RandomRetrievalSettings,
)
from more_ie.student.settings import StudentSettings
from more_ie.utils.settings import add_dataclass_arguments, defaults, settings_from_args
from more_ie.wiki.settings import DocFields, ImageKcOptions, KcOptions, ShardOptions, SourceKind

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


@pytest.mark.parametrize(
    "block, cls, selection",
    [
        ("experts", TrainConfig, {"seed"}),
        ("moe", MoeConfig, set()),
        ("demo", DemoScale, set()),
        ("student", StudentSettings, set()),
    ],
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
        "student": {"enabled", "seeds", "train"},
    }
    extra = set(properties) - set(fields) - selection_keys[block]
    assert not extra, f"schema keys without a {cls.__name__} field: {sorted(extra)}"
    if block == "experts":
        overridable = set(SCHEMA["definitions"]["dataset"]["properties"]["experts"]["propertyNames"]["enum"])
        # a dataset may override every TrainConfig field, and choose its own views
        assert overridable == (set(fields) - selection) | {"views"}


def _schema_block(path: str) -> dict:
    """The properties of a schema block: "retrieval.image", or "#knowledge_corpus.images" (a definition)."""
    parts = path.lstrip("#").split(".")
    node = SCHEMA["definitions"][parts.pop(0)] if path.startswith("#") else SCHEMA["properties"][parts.pop(0)]
    for part in parts:
        node = node["properties"][part]
    return node["properties"]


# (schema block, settings dataclass, {field: schema key}) for every stage whose config keys are
# settings fields under other names or spread over several blocks. Fields not named are run
# settings (threads, batch sizes of a search call, log intervals...), not config.
STAGE_SETTINGS = [
    ("retrieval.text", Bm25Settings, {"k": "k", "k1": "bm25_k1", "b": "bm25_b"}),
    (
        "retrieval.image",
        ImageSearchSettings,
        {"k": "k", "faiss_search": "faiss_search", "faiss_device": "faiss_device"},
    ),
    (
        "retrieval.image",
        FaissIndexSettings,
        {"faiss_factory": "faiss_factory", "faiss_device": "faiss_device"},
    ),
    (
        "retrieval.image",
        ClipSettings,
        {
            "clip_arch": "clip_arch",
            "clip_pretrained": "clip_pretrained",
            "batch_size": "batch_size",
            "precision": "precision",
        },
    ),
    ("retrieval.image", DownloadSettings, {"max_in_flight": "max_in_flight"}),
    ("retrieval", RandomRetrievalSettings, {"seed": "seed"}),
    ("retrieval", RandomContextSettings, {"seed": "seed"}),
    (
        "#imported_context",
        ImportSettings,
        {"max_missing_share": "max_missing_share", "source": "source"},
    ),
    (
        "moe",
        GateFeatureSettings,
        {"gate_text_encoder": "gate_text_encoder", "gate_image_features": "gate_image_features"},
    ),
    ("#knowledge_corpus", ShardOptions, {"max_page_chars": "max_page_chars"}),
    (
        "#knowledge_corpus",
        KcOptions,
        {"include_disambiguation": "include_disambiguation", "min_sentence_chars": "min_sentence_chars"},
    ),
    ("#knowledge_corpus", ImageKcOptions, {"include_disambiguation": "include_disambiguation"}),
    (
        "#knowledge_corpus.images",
        ImageKcOptions,
        {"upload_base": "upload_base", "thumb_width": "thumb_width"},
    ),
    (
        "#knowledge_corpus.source",
        DocFields,
        {"title_field": "title_field", "text_field": "text_field", "images_field": "images_field"},
    ),
    (
        "#dataset",
        PrepareSettings,
        {"label_map": "label_map", "no_relation_labels": "no_relation_labels"},
    ),
    ("demo", DemoSeed, {"seed": "seed"}),
]


@pytest.mark.parametrize("block, cls, names", STAGE_SETTINGS, ids=lambda x: getattr(x, "__name__", None))
def test_stage_schema_defaults_equal_their_settings(block: str, cls: type, names: dict[str, str]) -> None:
    properties = _schema_block(block)
    fields = defaults(cls)
    for field_name, key in names.items():
        assert (
            properties[key]["default"] == fields[field_name]
        ), f"{block}.{key} != {cls.__name__}.{field_name}"
        help_text = cls.__dataclass_fields__[field_name].metadata["help"]
        assert properties[key]["description"] == help_text, f"{block}.{key}: description != help"


def test_every_stage_setting_of_the_schema_has_its_dataclass_field() -> None:
    """The blocks above hold no key with a default that no settings field carries, apart from the
    ones that choose what runs (kc, shards) rather than how a command runs."""
    structure = {
        "kc",
        "shards",
        "download_shards",
        "requests_per_second",
        "source",
        "extra_sources",
        "images",
    }
    structure |= {"kind", "path", "url", "sha256", "index_path", "index_url"}  # where a source comes from
    covered: dict[str, set[str]] = {}
    for block, _, names in STAGE_SETTINGS:
        covered.setdefault(block, set()).update(names.values())
    for block, keys in covered.items():
        properties = _schema_block(block)
        nested = {k for k, v in properties.items() if v.get("type") == "object" and "properties" in v}
        loose = set(properties) - keys - structure - nested
        if block == "retrieval":
            loose -= {"text", "image"}
        if block == "moe":
            loose -= set(defaults(MoeConfig)) | {"variants"}
        if block == "#imported_context":
            loose -= {"format"}  # required, so without a default: test_imported_context_format
        if block == "demo":
            loose -= set(defaults(DemoScale)) | {"out_dir"}  # test_schema_defaults_equal_dataclass_defaults
        if block == "#dataset":
            # what the dataset is and where its files are: the rules' inputs and wildcards, and
            # prepare-dataset's required --format; its experts/moe/student blocks are those stages'
            loose -= {"task", "format", "images_dir", "contexts"}
        assert not loose, f"{block}: schema keys without a settings field {sorted(loose)}"


def test_imported_context_format() -> None:
    """An imported view's format is required in the config (no silent default); its choices and
    help are ImportSettings'."""
    from more_ie.contexts.settings import FORMATS

    spec = SCHEMA["definitions"]["imported_context"]
    assert "format" in spec["required"] and "default" not in spec["properties"]["format"]
    assert spec["properties"]["format"]["enum"] == list(FORMATS)
    assert (
        spec["properties"]["format"]["description"]
        == ImportSettings.__dataclass_fields__["format"].metadata["help"]
    )


def test_corpus_source_kind() -> None:
    """A knowledge source's kind is required in the config; the flag's choices and help (its
    default serves commands typed by hand) are SourceKind's."""
    spec = SCHEMA["definitions"]["knowledge_corpus"]["properties"]["source"]
    assert "kind" in spec["required"] and "default" not in spec["properties"]["kind"]
    field = SourceKind.__dataclass_fields__["kind"]
    assert spec["properties"]["kind"]["enum"] == list(field.metadata["choices"])
    assert spec["properties"]["kind"]["description"] == field.metadata["help"]


def test_constant_defaults_equal_schema() -> None:
    """Defaults that are one constant in code (a flag's default and a function's) rather than a field."""
    from more_ie.datasets.readers import DEFAULT_NO_RELATION_LABELS

    assert SCHEMA["properties"]["demo"]["properties"]["seed"]["default"] == DEMO_SEED
    dataset = SCHEMA["definitions"]["dataset"]["properties"]
    assert dataset["no_relation_labels"]["default"] == list(DEFAULT_NO_RELATION_LABELS)


def test_rules_json_settings_override_flags_and_name_unknown_keys() -> None:
    """--settings (how the rules call a stage) reaches every settings class of the command."""
    from more_ie.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(
        ["retrieve-image", "--split", "s", "--index", "i", "--ids", "d", "--image-kc", "kc", "--out", "o"]
        + ["--k", "3", "--settings", '{"k": 5, "clip_pretrained": null, "faiss_search": "nprobe=8"}']
    )
    assert settings_from_args(ImageSearchSettings, args) == ImageSearchSettings(k=5, faiss_search="nprobe=8")
    clip = settings_from_args(ClipSettings, args)
    assert clip.clip_pretrained is None and clip.clip_arch == "ViT-B-32"
    args.settings = '{"k": 5, "kk": 1}'
    with pytest.raises(
        ValueError, match=r"--settings: unknown ImageSearchSettings/ClipSettings keys \['kk'\]"
    ):
        settings_from_args(ImageSearchSettings, args)
    args.settings = '{"device": "tpu"}'
    with pytest.raises(ValueError, match=r"device must be one of \['auto', 'cpu', 'cuda'\], got 'tpu'"):
        settings_from_args(ClipSettings, args)
    bare = parser.parse_args(
        ["text-kc", "--shard-file", "a", "--redirects", "r", "--shard", "0", "--out", "o"]
    )
    assert settings_from_args(KcOptions, bare) == KcOptions()
    bare = parser.parse_args(
        [
            "text-kc",
            "--shard-file",
            "a",
            "--redirects",
            "r",
            "--shard",
            "0",
            "--out",
            "o",
            "--include-disambiguation",
        ]
    )
    assert settings_from_args(KcOptions, bare).include_disambiguation is True  # a bare flag, as before


def settings_from_json(cls: type, text: str):  # type: ignore[no-untyped-def]
    """``cls`` from ``--settings TEXT`` alone, as a rule passes it."""
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, cls)
    return settings_from_args(cls, parser.parse_args(["--settings", text]))


def test_tuple_settings_take_a_fixed_number_of_values() -> None:
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, DemoScale)
    scale = settings_from_args(DemoScale, parser.parse_args(["--ner-sizes", "10", "5", "5"]))
    assert scale.ner_sizes == (10, 5, 5) and scale == dataclasses.replace(DemoScale(), ner_sizes=(10, 5, 5))
    with pytest.raises(SystemExit):
        parser.parse_args(["--ner-sizes", "10", "5"])
    assert settings_from_json(DemoScale, '{"re_sizes": [1, 2, 3]}').re_sizes == (1, 2, 3)
    with pytest.raises(ValueError, match=r"re_sizes must be a list of 3 int"):
        settings_from_json(DemoScale, '{"re_sizes": [1, 2]}')


@dataclasses.dataclass
class _Containers:
    names: list[str] = dataclasses.field(default_factory=lambda: ["a"], metadata={"help": "names"})
    sizes: list[int] = dataclasses.field(default_factory=lambda: [1, 2], metadata={"help": "sizes"})
    renames: dict[str, str] = dataclasses.field(default_factory=dict, metadata={"help": "renames"})
    weights: dict[str, float] = dataclasses.field(default_factory=dict, metadata={"help": "weights"})


def _containers(*argv: str) -> _Containers:
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, _Containers)
    return settings_from_args(_Containers, parser.parse_args(list(argv)))


def test_list_and_mapping_settings_from_flags_and_json() -> None:
    """A list[X] field: a flag of one or more values, a JSON list of any length; a dict[str, X]
    field: a flag of zero or more KEY=VALUE items, a JSON object. Defaults are never shared."""
    assert _containers() == _Containers()
    got = _containers("--names", "x", "y", "z", "--sizes", "3", "--renames", "OTHER=MISC", "a=b=c")
    assert got.names == ["x", "y", "z"] and got.sizes == [3]
    assert got.renames == {"OTHER": "MISC", "a": "b=c"}  # the first '=' splits
    assert _containers("--renames").renames == {}  # no items: an empty mapping (as the rule passes it)
    assert _containers("--weights", "text=1", "image=0.5").weights == {"text": 1.0, "image": 0.5}
    one, two = _containers(), _containers()
    one.names.append("changed")
    assert two.names == ["a"] and _Containers().names == ["a"]
    from_json = settings_from_json(
        _Containers, '{"names": [], "sizes": [4, 5, 6, 7], "renames": {"X": "Y"}, "weights": {"t": 2}}'
    )
    assert from_json == _Containers([], [4, 5, 6, 7], {"X": "Y"}, {"t": 2.0})
    assert isinstance(from_json.weights["t"], float)
    prepared = settings_from_json(PrepareSettings, '{"label_map": {"OTHER": "MISC"}}')
    assert prepared == PrepareSettings({"OTHER": "MISC"}, ["None", "NA", "no_relation"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--renames", "OTHER"], "argument --renames: expected KEY=VALUE, got 'OTHER'"),
        (["--renames", "=MISC"], "argument --renames: expected KEY=VALUE, got '=MISC'"),
        (["--sizes", "x"], "argument --sizes: invalid int value: 'x'"),
        (["--weights", "a=x"], "argument --weights: invalid KEY=float value: 'a=x'"),
        (["--names"], "argument --names: expected at least one argument"),
    ],
)
def test_list_and_mapping_flag_errors_name_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _containers(*argv)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"names": "a"}', "--settings: names must be a list of str, got 'a'"),
        ('{"names": ["a", 1]}', "--settings: names[1] must be str, got 1"),
        ('{"sizes": [1, true]}', "--settings: sizes[1] must be int, got True"),
        ('{"renames": ["A=B"]}', "--settings: renames must be an object of str to str, got ['A=B']"),
        ('{"renames": {"A": 1}}', "--settings: renames['A'] must be str, got 1"),
        ('{"weights": {"t": "x"}}', "--settings: weights['t'] must be float, got 'x'"),
        ('{"renamez": {}}', "--settings: unknown _Containers keys ['renamez']"),
    ],
)
def test_list_and_mapping_json_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        settings_from_json(_Containers, text)
    assert str(raised.value) == message


def test_a_mapping_key_given_twice_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"--renames: key 'A' is given twice"):
        _containers("--renames", "A=B", "A=C")


def test_flags_and_json_round_trip() -> None:
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, TrainConfig)
    args = parser.parse_args(["--max-subtokens", "64", "--head-lr", "null", "--cva", "false"])
    config = settings_from_args(TrainConfig, args)
    assert config.max_subtokens == 64 and config.head_lr is None and config.cva is False
    assert dataclasses.replace(config, max_subtokens=512, cva=True) == TrainConfig()
    from_json = settings_from_json(TrainConfig, '{"lr": 1, "max_train_samples": null}')
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
        settings_from_json(TrainConfig, text)


# Each rule's --settings JSON (more_ie.config.stage_settings) with the command it is passed to and
# that command's other required arguments (dummies: only parsing is tested).
def _rule_settings(config: dict) -> dict[str, tuple[list[str], str]]:
    from more_ie.config import stage_settings as stage

    kc, dataset = next(iter(config["knowledge"])), next(iter(config["datasets"]))
    source = config["knowledge"][kc]["source"]
    split = ["--split", "s.parquet"]
    # an imported view as a user configures one (these configs import none)
    imported = {"format": "per_image", "path": "c.txt", "source": "a captioner", "max_missing_share": 0.2}
    with_contexts = {
        **config,
        "datasets": {dataset: {**config["datasets"][dataset], "contexts": {"cap": imported}}},
    }
    return {
        "import_contexts": (
            ["import-contexts", *split, "--file", "f", "--view", "cap", "--out", "o"],
            stage.import_contexts(with_contexts, dataset, "cap"),
        ),
        "randomize_contexts": (
            ["randomize-contexts", "--cache", "c", "--view", "random_cap", "--out", "o"],
            stage.randomize_contexts(config),
        ),
        "demo_world": (["demo-world", "--out", "o"], stage.demo_world(config)),
        "corpus_shard": (
            ["corpus-shard", "--source", "s", "--shard", "0", "--shards", "1", "--out", "o"],
            stage.corpus_shard(config, kc, source),
        ),
        "text_kc": (
            ["text-kc", "--shard-file", "s", "--redirects", "r", "--shard", "0", "--out", "o"],
            stage.text_kc(config, kc),
        ),
        "image_kc": (["image-kc", "--redirects", "r", "--out", "o", "s"], stage.image_kc(config, kc)),
        "download_images": (
            ["download-images", "--image-kc", "k", "--images-dir", "i", "--manifest", "m"],
            stage.download_images(config, kc),
        ),
        "retrieve_text": (
            ["retrieve-text", *split, "--index", "i", "--kc-dir", "k", "--out", "o"],
            stage.retrieve_text(config),
        ),
        "retrieve_random": (
            ["retrieve-random", *split, "--view", "random_image", "--out", "o", "k"],
            stage.retrieve_random(config, "random_image"),
        ),
        "clip_encode_kc": (
            ["clip-encode-kc", "--image-kc", "k", "--shard", "0", "--shards", "1", "--emb-out", "e"]
            + ["--ids-out", "i"],
            stage.clip_encode_kc(config),
        ),
        "image_index": (
            ["image-index", "--out", "o", "--ids-out", "i", "--emb", "e", "--ids", "d"],
            stage.image_index(config),
        ),
        "retrieve_image": (
            ["retrieve-image", *split, "--index", "i", "--ids", "d", "--image-kc", "k", "--out", "o"],
            stage.retrieve_image(config),
        ),
        "gate_features": (["gate-features", *split, "--out", "o"], stage.gate_features(config)),
        "train_expert": (
            ["train-expert", "--task", "ner", "--view", "text", "--out-dir", "o"]
            + [arg for split_name in ("train", "dev", "test") for arg in (f"--{split_name}", "x")],
            stage.train_expert(config, dataset),
        ),
        "student_teacher": (
            ["student-teacher", "--task", "ner", "--variant", "a+b", "--pair", "0", "--expert", "a-s1=x"]
            + ["b-s1=y", "--train", "t", "--gate-dir", "g", "--features", "f", "--out", "o"],
            stage.student_teacher(config, dataset),
        ),
        "train_student": (
            ["train-student", "--task", "ner", "--variant", "a+b", "--teacher", "t", "--out-dir", "o"]
            + [arg for split_name in ("train", "dev", "test") for arg in (f"--{split_name}", "x")],
            stage.train_student(config, dataset),
        ),
        "moe": (
            ["moe", "--task", "ner", "--dataset", "d", "--expert", "a=x", "--variant", "v=a,a", "--dev", "d"]
            + ["--test", "t", "--dev-features", "f", "--test-features", "g", "--out", "o"],
            stage.moe(config),
        ),
    }


@pytest.mark.parametrize("config_file", ["config.yaml", "config.demo.yaml", "tests/config.tiny.yaml"])
def test_every_rule_settings_json_reaches_its_command(config_file: str) -> None:
    """What a rule passes as --settings parses with its command, and every value arrives."""
    from more_ie.cli import build_parser
    from more_ie.config import load_config, stage_settings

    config = load_config(REPO / config_file)
    calls = _rule_settings(config)
    public = {name for name in vars(stage_settings) if name.islower() and not name.startswith("_")}
    assert set(calls) == public - {
        "as_settings",
        "annotations",
        "json",
        "prepare_dataset",  # flags, not --settings: test_prepare_dataset_rule_flags_reach_its_settings
    }, "a stage_settings function is not tested"
    parser = build_parser()
    for name, (argv, text) in calls.items():
        args = parser.parse_args([*argv, "--settings", text])
        built = [settings_from_args(cls, args) for cls in args.settings_classes]
        for key, value in json.loads(text).items():
            value = tuple(value) if isinstance(value, list) else value
            assert any(getattr(s, key, object()) == value for s in built), f"{name}: {key} did not arrive"


@pytest.mark.parametrize("config_file", ["config.yaml", "config.demo.yaml", "tests/config.tiny.yaml"])
def test_prepare_dataset_rule_flags_reach_its_settings(config_file: str) -> None:
    """The prepare_dataset rule passes PrepareSettings as --label-map and --no-relation-labels (as
    its shell line does, an empty label map included); every dataset's values arrive."""
    from more_ie.cli import build_parser
    from more_ie.config import load_config
    from more_ie.config import stage_settings as stage

    config = load_config(REPO / config_file)
    name = next(iter(config["datasets"]))
    renamed = {**config["datasets"][name], "label_map": {"PER": "PERSON", "OTHER": "MISC"}}
    config["datasets"]["renamed"] = {**renamed, "no_relation_labels": ["Other", "NA"]}
    parser = build_parser()
    for dataset, spec in config["datasets"].items():
        flags = stage.prepare_dataset(config, dataset)
        args = parser.parse_args(
            ["prepare-dataset", "--source", "s", "--format", spec["format"], "--out", "o"]
            + ["--label-map", *flags["label_map"], "--no-relation-labels", *flags["no_relation_labels"]]
        )
        assert settings_from_args(PrepareSettings, args) == PrepareSettings(
            spec["label_map"], spec["no_relation_labels"]
        ), dataset
    assert stage.prepare_dataset(config, "renamed")["label_map"] == ["OTHER=MISC", "PER=PERSON"]


def test_keys_added_later_reach_the_rules_only_when_set() -> None:
    """precision and faiss_device (issue 22) at their default are left out of the rules' --settings,
    so runs made before they existed do not rerun; set, they reach the rules that use them."""
    from more_ie.config import load_config
    from more_ie.config import stage_settings as stage

    config = load_config(REPO / "tests" / "config.tiny.yaml")
    assert config["retrieval"]["image"]["precision"] == "auto"  # the schema fills the default in
    for text in (stage.clip_encode_kc(config), stage.retrieve_image(config), stage.image_index(config)):
        assert "precision" not in json.loads(text) and "faiss_device" not in json.loads(text)
    config["retrieval"]["image"].update(precision="bf16", faiss_device="cpu")
    assert json.loads(stage.clip_encode_kc(config))["precision"] == "bf16"
    assert json.loads(stage.gate_features(config))["precision"] == "bf16"
    assert json.loads(stage.image_index(config)) == {"faiss_factory": "Flat", "faiss_device": "cpu"}
    retrieve = json.loads(stage.retrieve_image(config))
    assert retrieve["precision"] == "bf16" and retrieve["faiss_device"] == "cpu"
