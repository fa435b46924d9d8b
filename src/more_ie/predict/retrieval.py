"""Retrieval for new posts: BM25 over the text KC and CLIP + Faiss over the image KC, in batches.

The same searchers, settings and CLIP as the run's retrieval stage (read from its manifest), but
for posts held in memory rather than a dataset split. KC rows are read by Parquet row group, so
a hit costs one row group of one shard, not a whole shard column (the cache stage reads whole
columns; that is fine once per split but not per post).
"""

from __future__ import annotations

import logging
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from more_ie.predict.layout import RunError, RunLayout
from more_ie.search.bm25 import Bm25Settings, clean_query
from more_ie.search.image_index import set_search_parameters
from more_ie.wiki.kc import KC_ID_SHARD_BITS

logger = logging.getLogger(__name__)


@dataclass
class Hit:
    kc_id: int
    score: float
    title: str
    text: str  # the retrieved value (text KC: the paragraph; image KC: title + introduction)

    def summary(self) -> dict:
        return {"kc_id": self.kc_id, "score": round(self.score, 4), "title": self.title}


class KcRowReader:
    """``kc_id`` -> (title, paragraph) from the text-KC shards, reading only the row groups hit."""

    def __init__(self, kc_dir: Path, cache_groups: int = 64):
        self.kc_dir = kc_dir
        self._files: dict[int, tuple[pq.ParquetFile, np.ndarray]] = {}
        self._groups: OrderedDict[tuple[int, int], pa.Table] = OrderedDict()
        self.cache_groups = cache_groups

    def _file(self, shard: int) -> tuple[pq.ParquetFile, np.ndarray]:
        if shard not in self._files:
            path = self.kc_dir / f"{shard:05d}.parquet"
            if not path.is_file():
                raise RunError(f"{path}: the BM25 index points to this text-KC shard, which is missing")
            handle = pq.ParquetFile(path)
            sizes = [handle.metadata.row_group(i).num_rows for i in range(handle.num_row_groups)]
            self._files[shard] = (handle, np.cumsum([0] + sizes))
        return self._files[shard]

    def _group(self, shard: int, group: int) -> pa.Table:
        key = (shard, group)
        if key in self._groups:
            self._groups.move_to_end(key)
            return self._groups[key]
        handle, _ = self._file(shard)
        table = handle.read_row_group(group, columns=["kc_id", "title", "paragraph"])
        self._groups[key] = table
        if len(self._groups) > self.cache_groups:
            self._groups.popitem(last=False)
        return table

    def fetch(self, kc_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        mask = (1 << KC_ID_SHARD_BITS) - 1
        wanted: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for kc_id in set(kc_ids):
            shard, row = kc_id >> KC_ID_SHARD_BITS, kc_id & mask
            _, starts = self._file(shard)
            group = int(np.searchsorted(starts, row, side="right")) - 1
            if not 0 <= group < len(starts) - 1:
                raise RunError(
                    f"{self.kc_dir}: shard {shard} has {starts[-1]} rows; the index points to row {row}: "
                    "stale index?"
                )
            wanted[(shard, group)].append((kc_id, row - int(starts[group])))
        out: dict[int, tuple[str, str]] = {}
        for (shard, group), items in wanted.items():
            table = self._group(shard, group)
            taken = table.take(pa.array([offset for _, offset in items]))
            for (kc_id, _), got, title, paragraph in zip(
                items,
                taken.column("kc_id").to_pylist(),
                taken.column("title").to_pylist(),
                taken.column("paragraph").to_pylist(),
            ):
                if got != kc_id:
                    raise RunError(f"{self.kc_dir}: row of kc_id {kc_id} holds {got}: stale index?")
                out[kc_id] = (title, paragraph)
        return out


class TextRetriever:
    def __init__(self, layout: RunLayout, threads: int = 1):
        from more_ie.search.bm25 import Bm25Searcher

        spec = layout.manifest["text"]
        index = layout.path(spec["index"])
        if not index.is_dir():
            raise RunError(f"{index}: the run's BM25 index is missing")
        self.settings = Bm25Settings(
            k=int(spec["k"]), k1=float(spec["k1"]), b=float(spec["b"]), threads=threads
        )
        self.searcher = Bm25Searcher(index, self.settings)
        self.rows = KcRowReader(layout.path(spec["kc_dir"]))

    def search(self, token_lists: Sequence[Sequence[str]]) -> list[list[Hit]]:
        queries = [clean_query(tokens) for tokens in token_lists]
        asked = [i for i, q in enumerate(queries) if q]  # a post of handles and URLs only has no query
        found = self.searcher.search([queries[i] for i in asked]) if asked else []
        hits: list[list[tuple[int, float]]] = [[] for _ in queries]
        for i, row in zip(asked, found):
            hits[i] = row
        rows = self.rows.fetch(kc for row in hits for kc, _ in row)
        return [[Hit(kc, score, *rows[kc]) for kc, score in row] for row in hits]


class ImageRetriever:
    """Faiss over the image KC's CLIP vectors; queries are CLIP image embeddings."""

    def __init__(self, layout: RunLayout):
        import faiss

        spec = layout.manifest["image"]
        index_path, ids_path, kc_path = (layout.path(spec[key]) for key in ("index", "ids", "image_kc"))
        for path in (index_path, ids_path, kc_path):
            if not path.is_file():
                raise RunError(f"{path}: the run's image index or image KC is missing")
        self.k = int(spec["k"])
        self.index = faiss.read_index(str(index_path))
        set_search_parameters(self.index, spec.get("faiss_search", ""))
        self.row_to_image = pq.read_table(ids_path).column("image_id").to_numpy()
        kc = pq.read_table(kc_path, columns=["image_id", "title", "value"])
        self.values = {
            i: (t, v)
            for i, t, v in zip(
                kc.column("image_id").to_pylist(),
                kc.column("title").to_pylist(),
                kc.column("value").to_pylist(),
            )
        }

    def search(self, embeddings: np.ndarray) -> list[list[Hit]]:
        if len(embeddings) == 0:
            return []
        scores, rows = self.index.search(
            np.ascontiguousarray(embeddings, dtype=np.float32), min(self.k, self.index.ntotal)
        )
        out = []
        for score_row, hit_row in zip(scores, rows):
            hits = []
            for score, row in zip(score_row, hit_row):
                if row >= 0:
                    image_id = int(self.row_to_image[row])
                    hits.append(Hit(image_id, float(score), *self.values[image_id]))
            out.append(hits)
        return out


def clip_spec_of(layout: RunLayout, device: str, precision: str = "auto"):  # type: ignore[no-untyped-def]
    from more_ie.search.clip import ClipSpec

    spec = layout.manifest["image"]
    return ClipSpec(
        arch=spec["clip_arch"], pretrained=spec.get("clip_pretrained"), device=device, precision=precision
    )


def load_images(paths: Sequence[Path | None], preprocess) -> tuple[list[str], dict[int, object]]:  # type: ignore[no-untyped-def]
    """Per post: ``none`` (no image named), ``missing``, ``unreadable`` or ``ok``; and the ok tensors."""
    from PIL import Image, UnidentifiedImageError

    status: list[str] = []
    tensors: dict[int, object] = {}
    for i, path in enumerate(paths):
        if path is None:
            status.append("none")
        elif not path.is_file():
            status.append("missing")
        else:
            try:
                with Image.open(path) as image:
                    tensors[i] = preprocess(image.convert("RGB"))
                status.append("ok")
            except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
                logger.warning("unreadable image %s: %s (the post gets the text view only)", path, err)
                status.append("unreadable")
    return status, tensors
