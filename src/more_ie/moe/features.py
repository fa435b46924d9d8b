"""Gate features: r_T = CLIP text feature of the sentence, r_I = CLIP image feature of its image.

Both come from the same CLIP as image retrieval and are computed once per dataset split. A
sample without an image file gets r_I = 0 and an indicator feature 0 (1 when the image exists),
so the gate can learn to trust the text-side expert for it. The feature vector is
``[r_T; r_I; has_image]``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from more_ie.search.bm25 import clean_query
from more_ie.search.clip import ClipEncoder, ClipSpec
from more_ie.utils import write_parquet

logger = logging.getLogger(__name__)


def compute_gate_features(
    split: str | Path, images_dir: str | Path | None, out: str | Path, spec: ClipSpec, batch_size: int = 64,
    workers: int = 2,
) -> dict[str, int]:
    table = pq.read_table(split, columns=["sample_id", "tokens", "image"]).to_pylist()
    encoder = ClipEncoder(spec)
    text = encoder.encode_texts([clean_query(row["tokens"]) or " ".join(row["tokens"]) for row in table])
    image = np.zeros_like(text)
    has_image = np.zeros(len(table), dtype=np.float32)
    root = Path(images_dir) if images_dir else None
    wanted = [(i, root / row["image"]) for i, row in enumerate(table)
              if root is not None and row["image"] and (root / row["image"]).is_file()]
    for indices, embeddings, _bad in encoder.encode_image_files([p for _, p in wanted], batch_size, workers):
        for j, vector in zip(indices, embeddings):
            image[wanted[j][0]] = vector
            has_image[wanted[j][0]] = 1.0
    features = np.concatenate([text, image, has_image[:, None]], axis=1).astype(np.float32)
    write_parquet(
        pa.table({"sample_id": [row["sample_id"] for row in table], "features": list(features)}),
        out, metadata={"more_ie.clip": f"{spec.arch}/{spec.pretrained}", "more_ie.dim": str(features.shape[1])},
    )
    stats = {"samples": len(table), "with_image": int(has_image.sum())}
    logger.info("gate features %s: %s (dim %d)", split, stats, features.shape[1])
    return stats


def read_gate_features(path: str | Path) -> tuple[list[int], np.ndarray]:
    table = pq.read_table(path)
    return table.column("sample_id").to_pylist(), np.stack(table.column("features").to_numpy(zero_copy_only=False))
