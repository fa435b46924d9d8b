"""Text retrieval's settings (import-light: the retrieve-text command builds its flags from them)."""

from __future__ import annotations

from dataclasses import dataclass

from more_ie.utils.precision import PRECISION_HELP, PRECISIONS
from more_ie.utils.settings import setting

FAISS_DEVICES = ["auto", "cpu", "cuda"]
FAISS_DEVICE_HELP = (
    "Where Faiss builds and searches the index: auto (the GPUs when the installed Faiss has GPU "
    "support, pip install .[gpu], and sees one), cpu or cuda (an error without them)."
)


@dataclass
class Bm25Settings:
    """Text retrieval's settings: the single source of their defaults (the schema's
    retrieval.text.k / bm25_k1 / bm25_b agree, tests/test_settings.py)."""

    k: int = setting(10, "Number of retrieved sentences per input (top-k).")
    k1: float = setting(0.9, "BM25 k1.")
    b: float = setting(0.4, "BM25 b.")
    threads: int = setting(1, "Search threads of Anserini's batch_search.")
    batch: int = setting(1000, "Queries per batch_search call.")


@dataclass
class ClipSettings:
    """The CLIP that embeds images (retrieval) and texts and images (gate features): one CLIP for
    both. The schema's retrieval.image.clip_arch / clip_pretrained / batch_size / precision agree."""

    clip_arch: str = setting("ViT-B-32", "open_clip architecture name.")
    clip_pretrained: str | None = setting(
        "openai",
        "open_clip pretrained tag, a local checkpoint path, or null for random weights (demo only: logged loudly).",
    )
    batch_size: int = setting(64, "Images per CLIP forward pass.")
    device: str = setting("auto", "auto uses CUDA when present.", choices=["auto", "cpu", "cuda"])
    workers: int = setting(2, "Image decoding processes.")
    precision: str = setting("auto", PRECISION_HELP, choices=PRECISIONS)

    def spec(self):  # type: ignore[no-untyped-def] - ClipSpec's module imports torch
        from more_ie.search.clip import ClipSpec

        return ClipSpec(
            arch=self.clip_arch, pretrained=self.clip_pretrained, device=self.device, precision=self.precision
        )


@dataclass
class FaissIndexSettings:
    """Building the Faiss index over the image KC's CLIP embeddings (the schema's
    retrieval.image.faiss_factory / faiss_device agree)."""

    faiss_factory: str = setting(
        "Flat",
        "Faiss index-factory string; Flat is exact inner product (the paper). IVF/HNSW/PQ for millions of images.",
    )
    faiss_device: str = setting("auto", FAISS_DEVICE_HELP, choices=FAISS_DEVICES)


@dataclass
class ImageSearchSettings:
    """Querying the Faiss index with a split's images. The schema's retrieval.image.k,
    faiss_search and faiss_device agree."""

    k: int = setting(10, "Number of retrieved images per input (top-k).")
    faiss_search: str = setting(
        "",
        "Faiss search-time parameters for faiss_factory, comma-separated as faiss.ParameterSpace reads them, "
        "e.g. nprobe=16 (IVF) or efSearch=128 (HNSW); empty = the index defaults (exact for Flat).",
    )
    faiss_device: str = setting("auto", FAISS_DEVICE_HELP, choices=FAISS_DEVICES)


@dataclass
class RandomRetrievalSettings:
    """Random KC rows per sample (the Table 5 ablation). The rule passes the view's own k
    (retrieval.text.k or retrieval.image.k); the schema's retrieval.seed agrees with seed."""

    k: int = setting(10, "Number of random KC rows per input.")
    seed: int = setting(0, "Seed of the random-retrieval caches (Table 5 ablation).")
