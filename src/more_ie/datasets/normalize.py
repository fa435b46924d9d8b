"""A dataset split in its source format -> ``results/{dataset}/data/{split}.parquet``."""
from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Mapping

import pyarrow as pa

from more_ie.datasets.readers import NER_SCHEMA, RE_SCHEMA, DatasetError, read_conll_imgid, read_mnre
from more_ie.utils import write_parquet

logger = logging.getLogger(__name__)

FORMATS = {"conll_imgid": "ner", "mnre_dict": "re"}


def normalize_split(
    source: str | Path,
    out: str | Path,
    fmt: str,
    label_map: Mapping[str, str] | None = None,
) -> Counter:
    if fmt not in FORMATS:
        raise DatasetError(f"unknown dataset format {fmt!r}; known: {sorted(FORMATS)}")
    stats: Counter = Counter()
    if fmt == "conll_imgid":
        samples = list(read_conll_imgid(source, label_map, stats))
        table = pa.table(
            {
                "sample_id": list(range(len(samples))),
                "tokens": [s.tokens for s in samples],
                "image": [s.image for s in samples],
                "tags": [s.tags for s in samples],
            },
            schema=NER_SCHEMA,
        )
        labels = sorted({t[2:] for s in samples for t in s.tags if t != "O"})
        stats["entities"] = sum(t.startswith("B-") for s in samples for t in s.tags)
    else:
        samples_re = list(read_mnre(source, stats))
        table = pa.table(
            {
                "sample_id": list(range(len(samples_re))),
                "tokens": [s.tokens for s in samples_re],
                "image": [s.image for s in samples_re],
                "head": [list(s.head) for s in samples_re],
                "tail": [list(s.tail) for s in samples_re],
                "relation": [s.relation for s in samples_re],
            },
            schema=RE_SCHEMA,
        )
        labels = sorted({s.relation for s in samples_re})
    stats["samples"] = table.num_rows
    metadata = {"more_ie.task": FORMATS[fmt], "more_ie.labels": json.dumps(labels), "more_ie.source": str(source)}
    write_parquet(table, out, metadata=metadata)
    logger.info("%s -> %s: %s", source, out, dict(stats))
    return stats


def missing_images(split_paths: list[str | Path], images_dir: str | Path | None) -> tuple[int, list[str]]:
    """(samples with an image file, image names that are not in ``images_dir``)."""
    import pyarrow.parquet as pq

    names: list[str] = []
    for path in split_paths:
        names += [n for n in pq.read_table(path, columns=["image"]).column("image").to_pylist() if n]
    distinct = sorted(set(names))
    if images_dir is None:
        return len(names), distinct
    root = Path(images_dir)
    present = {p.name for p in root.iterdir()} if root.is_dir() else set()
    return len(names), [n for n in distinct if n not in present]
