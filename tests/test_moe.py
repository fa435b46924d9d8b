"""The gate: it learns which expert to trust, mixtures are distributions, and moe_f1.json keeps its schema."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.parquet  # noqa: F401  (pa.parquet)
import pytest
import torch
import yaml

from conftest import REPO
from more_ie.datasets.readers import NER_SCHEMA
from more_ie.experts.metrics import ner_scores
from more_ie.moe import Gate, MoeConfig, average, mix, run_moe
from more_ie.utils import write_json, write_parquet

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_mixture_is_a_distribution() -> None:
    torch.manual_seed(0)
    p_a = torch.softmax(torch.randn(4, 6, 5), -1)
    p_b = torch.softmax(torch.randn(4, 6, 5), -1)
    for kind in ("per_label", "scalar"):
        gate = Gate(8, 5, kind)
        torch.nn.init.normal_(gate.linear.weight)
        mixed = mix(gate(torch.randn(4, 8)), p_a, p_b)
        assert torch.allclose(mixed.sum(-1), torch.ones(4, 6), atol=1e-6)
        assert (mixed >= 0).all()
    assert torch.allclose(average(p_a, p_b).sum(-1), torch.ones(4, 6))


def _fixture(tmp_path: Path, n: int, split: str, rng: np.random.Generator) -> tuple[Path, Path]:
    """Half the samples are 'image-like' (feature[0]=1): expert A is right on them, B wrong; and vice versa."""
    rows, feats, dist_a, dist_b = [], [], [], []
    for i in range(n):
        length = int(rng.integers(3, 7))
        tags = [LABELS[j] for j in rng.integers(0, 5, size=length)]
        image_like = i % 2 == 0
        rows.append({"sample_id": i, "tokens": ["w"] * length, "image": None, "tags": tags})
        feats.append(np.array([1.0 if image_like else 0.0, 0.0 if image_like else 1.0, *rng.normal(0, 0.1, 4)],
                              dtype=np.float32))
        for dists, right in ((dist_a, image_like), (dist_b, not image_like)):
            d = []
            for tag in tags:
                row = np.full(5, 0.05)
                gold = LABELS.index(tag)
                row[gold if right else (gold + 1) % 5] = 0.8
                d.append((row / row.sum()).tolist())
            dists.append(d)
    folder = tmp_path / split
    folder.mkdir(exist_ok=True)
    write_parquet(pa.Table.from_pylist(rows, schema=NER_SCHEMA), folder / "data.parquet")
    write_parquet(pa.table({"sample_id": list(range(n)), "features": feats}), folder / "features.parquet")
    for name, dists in (("a", dist_a), ("b", dist_b)):
        expert = tmp_path / f"expert_{name}"
        expert.mkdir(exist_ok=True)
        write_parquet(pa.table({"sample_id": list(range(n)), "marginals": dists, "viterbi": [r["tags"] for r in rows]}),
                      expert / f"{split}.marginals.parquet", metadata={"more_ie.labels": json.dumps(LABELS)})
        # run_moe copies the experts' own scores into moe_f1.json; a placeholder suffices here
        micro = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "n_pred": 0, "n_gold": 0}
        write_json(expert / "metrics.json", {"dev": {"micro": micro}, "test": {"micro": micro, "per_label": {}}})
    return folder / "data.parquet", folder / "features.parquet"


def test_gate_learns_to_prefer_the_right_expert(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    dev_split, dev_features = _fixture(tmp_path, 200, "dev", rng)
    test_split, test_features = _fixture(tmp_path, 100, "test", rng)
    experts = {"a": tmp_path / "expert_a", "b": tmp_path / "expert_b"}
    result = run_moe("ner", experts, {"text+image": ("a", "b")}, {"dev": dev_split, "test": test_split},
                     {"dev": dev_features, "test": test_features}, tmp_path / "moe_f1.json",
                     MoeConfig(epochs=60, lr=0.05), "abc123", "fixture")
    variant = result["variants"]["text+image"]
    moe_f1, average_f1 = variant["moe"]["test"]["f1"], variant["average"]["test"]["f1"]
    assert moe_f1 > 0.95
    assert moe_f1 > average_f1 + 0.1
    for name in ("a", "b"):  # each expert alone is right on only half of the samples
        table = pa.parquet.read_table(tmp_path / f"expert_{name}" / "test.marginals.parquet")
        pred = [[LABELS[int(np.argmax(row))] for row in sample] for sample in table.column("marginals").to_pylist()]
        gold = pa.parquet.read_table(test_split).column("tags").to_pylist()
        assert moe_f1 > ner_scores(gold, pred)["micro"].f1 + 0.3
    weights = np.array(variant["moe"]["test_gate_weights"])
    assert weights[::2].mean() > 0.8 and weights[1::2].mean() < 0.2  # image-like samples trust expert a

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "moe_f1.schema.yaml").read_text())
    written = json.loads((tmp_path / "moe_f1.json").read_text())
    jsonschema.validate(written, schema)
    assert written["config_hash"] == "abc123" and set(written["experts"]) == {"a", "b"}


def test_schema_rejects_a_broken_result() -> None:
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "moe_f1.schema.yaml").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": 1, "dataset": "x"}, schema)
