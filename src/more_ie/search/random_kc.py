"""Random-retrieval caches (the paper's Table 5): KC rows drawn at random under a fixed seed.

Same columns as the real caches, so experts train on them unchanged. ``random_text`` draws text-KC
rows (value: the paragraph); ``random_image`` draws image-KC rows (value: title + introduction).
Scores are 0.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from more_ie.search.bm25 import RETRIEVAL_SCHEMA
from more_ie.search.settings import RandomRetrievalSettings
from more_ie.utils import write_parquet

logger = logging.getLogger(__name__)


def retrieve_random(
    split_path: str | Path,
    kc_paths: Sequence[str | Path],
    out: str | Path,
    view: str = "random_text",
    settings: RandomRetrievalSettings = RandomRetrievalSettings(),
) -> None:
    k, seed = settings.k, settings.seed
    id_column, text_column = ("kc_id", "paragraph") if view == "random_text" else ("image_id", "value")
    # Row counts come from the footers; only the drawn rows are read, shard by shard, so a
    # 200M-row text KC is never loaded whole.
    sizes = np.array([pq.read_metadata(p).num_rows for p in kc_paths], dtype=np.int64)
    total = int(sizes.sum())
    if total == 0:
        raise ValueError(f"{', '.join(map(str, kc_paths))}: the knowledge corpus is empty")
    sample_ids = pq.read_table(split_path, columns=["sample_id"]).column("sample_id").to_pylist()
    rng = np.random.default_rng(seed)
    picks = [rng.choice(total, size=min(k, total), replace=False) for _ in sample_ids]
    flat = np.concatenate(picks) if picks else np.array([], dtype=np.int64)
    taken = _take_rows(kc_paths, sizes, flat, [id_column, text_column])
    table = pa.table(
        {
            "sample_id": np.repeat(sample_ids, [len(p) for p in picks]).astype(np.int64),
            "rank": np.concatenate([np.arange(1, len(p) + 1) for p in picks]).astype(np.int32)
            if picks
            else [],
            "kc_id": taken.column(id_column).cast(pa.int64()),
            "score": np.zeros(len(flat), dtype=np.float32),
            "text": taken.column(text_column),
        },
        schema=RETRIEVAL_SCHEMA,
    )
    write_parquet(table, out, metadata={"more_ie.view": view, "more_ie.k": str(k), "more_ie.seed": str(seed)})
    logger.info(
        "%s retrieval %s: %d samples x %d random rows (seed %d)", view, split_path, len(sample_ids), k, seed
    )


def _take_rows(
    paths: Sequence[str | Path], sizes: np.ndarray, rows: np.ndarray, columns: list[str]
) -> pa.Table:
    """Global row numbers over the concatenated files -> those rows, in the order given."""
    starts = np.concatenate([[0], np.cumsum(sizes)])
    shard_of = np.searchsorted(starts, rows, side="right") - 1
    parts, order = [], []
    for shard in np.unique(shard_of):
        chosen = np.flatnonzero(shard_of == shard)
        table = pq.read_table(paths[shard], columns=columns, memory_map=True)
        parts.append(table.take(pa.array(rows[chosen] - starts[shard])))
        order.append(chosen)
    if not parts:
        return pq.read_table(paths[0], columns=columns).slice(0, 0)
    merged = pa.concat_tables(parts)
    return merged.take(pa.array(np.argsort(np.concatenate(order), kind="stable")))
