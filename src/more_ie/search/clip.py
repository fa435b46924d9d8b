"""CLIP encoders (open_clip) for images and texts, with batched, parallel image decoding.

The config names an open_clip architecture plus a pretrained tag (``openai``), a local checkpoint
path, or nothing. Without weights (the offline demo: no CLIP weights can be downloaded there)
the model is initialized randomly *from a fixed seed*, so the KC images and the queries, encoded
in different jobs, still share one embedding space; this is logged loudly as it is useless for
real retrieval. Embeddings are L2-normalized float32, so inner product is cosine similarity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from more_ie.utils.precision import autocast, setup_precision

logger = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).with_name("clip_configs")
RANDOM_WEIGHTS_SEED = 20240101


@dataclass(frozen=True)
class ClipSpec:
    """Which CLIP to load, and where (defaults and help: ``search.settings.ClipSettings``)."""

    arch: str
    pretrained: str | None  # tag, local checkpoint path, or None for seeded random weights
    device: str
    precision: str = "auto"  # see more_ie.utils.precision; auto: bf16 on a CUDA GPU that has it, else fp32


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class ClipEncoder:
    def __init__(self, spec: ClipSpec):
        import open_clip

        open_clip.add_model_config(CONFIG_DIR)  # the tiny demo architecture ships with the package
        self.spec = spec
        self.device = resolve_device(spec.device)
        if spec.pretrained is None:
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            logger.warning(
                "CLIP %s has RANDOM WEIGHTS (no pretrained tag or checkpoint configured): image retrieval "
                "and gate features are meaningless beyond exercising the pipeline. Use this only for the demo.",
                spec.arch,
            )
        model, _, preprocess = open_clip.create_model_and_transforms(spec.arch, pretrained=spec.pretrained)
        self.model = model.eval().to(self.device)
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(spec.arch)
        logger.info("CLIP %s (%s) on %s", spec.arch, spec.pretrained or "random weights", self.device)
        self.precision = setup_precision(spec.precision, self.device, f"CLIP {spec.arch}")

    @property
    def dim(self) -> int:
        """Embedding size: read from the model's output of one token (valid for every open_clip model)."""
        if not hasattr(self, "_dim"):
            self._dim = int(self.encode_texts(["x"]).shape[1])
        return self._dim

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            tokens = self.tokenizer(list(texts[start : start + batch_size])).to(self.device)
            with autocast(self.precision, self.device):
                features = self.model.encode_text(tokens)
            features = features.float()  # normalised and stored in fp32 whatever the precision
            out.append(torch.nn.functional.normalize(features, dim=-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    @torch.inference_mode()
    def encode_image_tensors(self, batch: torch.Tensor) -> np.ndarray:
        with autocast(self.precision, self.device):
            features = self.model.encode_image(batch.to(self.device))
        features = features.float()
        return torch.nn.functional.normalize(features, dim=-1).cpu().numpy()

    def encode_image_files(
        self, paths: Sequence[str | Path], batch_size: int, workers: int
    ) -> Iterator[tuple[list[int], np.ndarray, list[int]]]:
        """Yield ``(indices, embeddings, unreadable_indices)`` per batch, in input order.

        Decoding and preprocessing run in ``workers`` DataLoader processes; an unreadable file is
        skipped and reported, never fatal.
        """
        dataset = _ImageFiles(list(paths), self.preprocess)
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=batch_size,
            num_workers=workers,
            collate_fn=_collate,
            persistent_workers=False,
            pin_memory=self.device.type == "cuda",
        )
        for indices, tensors, bad in loader:
            embeddings = (
                self.encode_image_tensors(torch.stack(tensors))
                if tensors
                else np.zeros((0, 0), dtype=np.float32)
            )
            yield indices, embeddings, bad


def _input_size(preprocess) -> int:  # type: ignore[no-untyped-def]
    for step in getattr(preprocess, "transforms", []):
        size = getattr(step, "size", None)
        if size is not None:
            return int(size if isinstance(size, int) else max(size))
    return 224


class _ImageFiles(torch.utils.data.Dataset):
    def __init__(self, paths: list[str | Path], preprocess):  # type: ignore[no-untyped-def]
        self.paths = paths
        self.preprocess = preprocess
        self.size = _input_size(preprocess)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None]:
        try:
            with Image.open(self.paths[index]) as image:
                # JPEG: decode at a reduced scale (DCT scaling) that still covers the model's input
                # size; a 1200px photo then decodes ~4-8x faster, and the resize that follows is the same.
                image.draft("RGB", (self.size, self.size))
                return index, self.preprocess(image.convert("RGB"))
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
            logger.warning("unreadable image %s: %s", self.paths[index], err)
            return index, None


def _collate(items: list[tuple[int, torch.Tensor | None]]) -> tuple[list[int], list[torch.Tensor], list[int]]:
    good = [(i, t) for i, t in items if t is not None]
    return [i for i, _ in good], [t for _, t in good], [i for i, t in items if t is None]
