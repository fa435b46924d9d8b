"""Gate features of new posts, built as the saved gate's feature spec says they were in training.

The spec (``more_ie.moe.features.FeatureSpec``, saved with each gate) names the text feature
(``clip:ARCH/PRETRAINED`` or ``encoder:NAME``), whether the CLIP image feature and the
``has_image`` flag follow, and the total size. A gate saved without a spec takes the original
``[CLIP text; CLIP image; has_image]``. The text encoder is loaded once and kept (the feature
stage's ``PooledTextEncoder``, held here so that one-post-at-a-time use does not reload it).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from more_ie.moe.features import PooledTextEncoder
from more_ie.predict.layout import RunError
from more_ie.search.bm25 import clean_query


class GateFeaturizer:
    def __init__(self, spec: dict | None, clip, feature_dim: int, where: str):  # type: ignore[no-untyped-def]
        self.spec = spec or {"text": "clip", "image": "clip", "has_image": True, "dim": feature_dim}
        self.clip = clip
        self.where = where
        self.dim = feature_dim
        text = str(self.spec["text"])
        self.encoder = PooledTextEncoder(text.split(":", 1)[1]) if text.startswith("encoder:") else None
        if self.encoder is None and clip is None:
            raise RunError(f"{where}: the gate's text feature is CLIP but the run has no CLIP settings")
        clip_name = (
            f"clip:{clip.spec.arch}/{clip.spec.pretrained or 'RANDOM-WEIGHTS'}" if clip is not None else None
        )
        for part in ("text", "image"):
            value = self.spec.get(part)
            if isinstance(value, str) and value.startswith("clip:") and value != clip_name:
                raise RunError(
                    f"{where}: the gate's {part} feature came from {value}, the run's CLIP is {clip_name}"
                )

    @property
    def uses_images(self) -> bool:
        return bool(self.spec.get("image"))

    def features(
        self, token_lists: Sequence[Sequence[str]], image_vectors: dict[int, np.ndarray]
    ) -> np.ndarray:
        texts = [clean_query(tokens) or " ".join(tokens) for tokens in token_lists]
        text = self.encoder.encode(texts) if self.encoder is not None else self.clip.encode_texts(texts)
        parts = [text]
        if self.uses_images:
            image = np.zeros((len(texts), self.clip.dim), dtype=np.float32)
            for i, vector in image_vectors.items():
                image[i] = vector
            parts.append(image)
            if self.spec.get("has_image", True):
                flags = np.zeros((len(texts), 1), dtype=np.float32)
                flags[list(image_vectors)] = 1.0
                parts.append(flags)
        features = np.concatenate(parts, axis=1).astype(np.float32)
        if features.shape[1] != self.dim:
            raise RunError(
                f"{self.where}: the gate takes {self.dim} features; the spec {self.spec} gives "
                f"{features.shape[1]}"
            )
        return features
