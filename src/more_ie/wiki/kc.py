"""Corpus shards -> the two knowledge corpora (KCs) and the redirect map.

* **redirect map**: ``title -> target`` from every shard, chains followed, so each shard's anchors
  can be resolved without reading the others.
* **text KC** (one file per shard): one row per sentence; the key is the sentence and the value
  the paragraph it stands in, both with anchors tagged ``<e: Target> surface </e>``.
  ``kc_id = shard << 32 | row`` is unique across shards without any shard knowing the others.
* **image KC** (one file): one row per (article, image); the value is the title plus the
  introduction (the text before the first heading).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from more_ie.utils import ParquetBatchWriter, ProgressLog, write_parquet
from more_ie.wiki.pages import STATS_KEY, stats_metadata
from more_ie.wiki.sentences import resolve_anchors, split_sentences
from more_ie.wiki.settings import ImageKcOptions, KcOptions  # noqa: F401 - re-exported
from more_ie.wiki.titles import display_title, normalize_title, upload_url

logger = logging.getLogger(__name__)

KC_ID_SHARD_BITS = 32
MAX_REDIRECT_HOPS = 5

REDIRECTS_SCHEMA = pa.schema(
    [pa.field("title", pa.string(), nullable=False), pa.field("target", pa.string(), nullable=False)]
)
TEXT_KC_SCHEMA = pa.schema(
    [
        pa.field("kc_id", pa.int64(), nullable=False),
        pa.field("page_id", pa.int64(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("section", pa.string(), nullable=False),
        pa.field("paragraph_idx", pa.int32(), nullable=False),
        pa.field("sentence", pa.string(), nullable=False),
        pa.field("paragraph", pa.string(), nullable=False),
    ]
)
IMAGE_KC_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.int64(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("page_id", pa.int64(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("value", pa.string(), nullable=False),
        pa.field("local_path", pa.string()),
    ]
)


def kc_id(shard: int, row: int) -> int:
    if row >= 1 << KC_ID_SHARD_BITS:
        raise ValueError(f"shard {shard} has more than 2^{KC_ID_SHARD_BITS} sentences; use more shards")
    return (shard << KC_ID_SHARD_BITS) | row


# ---------------------------------------------------------------------------------------------
# Redirects
# ---------------------------------------------------------------------------------------------


def collapse_redirects(pairs: Mapping[str, str]) -> dict[str, str]:
    """Follow chains (A -> B -> C becomes A -> C), up to a few hops; cycles are dropped."""
    resolved: dict[str, str] = {}
    for title, target in pairs.items():
        seen = {title}
        hops = 0
        while target in pairs and hops < MAX_REDIRECT_HOPS:
            if target in seen:
                break
            seen.add(target)
            target = pairs[target]
            hops += 1
        if target in seen:
            logger.warning("redirect cycle through %r: dropped", title)
            continue
        resolved[title] = target
    return resolved


def build_redirects(shard_paths: Iterable[str | Path], out: str | Path) -> int:
    pairs: dict[str, str] = {}
    for path in shard_paths:
        table = pq.read_table(path, columns=["title", "redirect"]).filter(pc.is_valid(pc.field("redirect")))
        for title, target in zip(table.column("title").to_pylist(), table.column("redirect").to_pylist()):
            pairs[normalize_title(title)] = target
    resolved = collapse_redirects(pairs)
    titles = sorted(resolved)
    write_parquet(
        pa.table({"title": titles, "target": [resolved[t] for t in titles]}, schema=REDIRECTS_SCHEMA), out
    )
    logger.info("redirect map: %d redirects (%d after dropping cycles)", len(pairs), len(resolved))
    return len(resolved)


def read_redirects(path: str | Path) -> dict[str, str]:
    table = pq.read_table(path)
    return dict(zip(table.column("title").to_pylist(), table.column("target").to_pylist()))


# ---------------------------------------------------------------------------------------------
# Text KC
# ---------------------------------------------------------------------------------------------


def _articles(shard_path: str | Path, include_disambiguation: bool) -> Iterable[dict]:
    """Article rows of a corpus shard, read batch by batch (memory holds one batch)."""
    for batch in pq.ParquetFile(shard_path).iter_batches(batch_size=512):
        for row in batch.to_pylist():
            if row["redirect"] is not None:
                continue
            if row["is_disambiguation"] and not include_disambiguation:
                continue
            yield row


def build_text_kc(
    shard_path: str | Path,
    redirects_path: str | Path,
    shard: int,
    out: str | Path,
    options: KcOptions = KcOptions(),
) -> Counter:
    redirects = read_redirects(redirects_path)
    stats: Counter = Counter()
    progress = ProgressLog(logger, f"text KC shard {shard}: articles", every=options.log_every)
    with ParquetBatchWriter(out, TEXT_KC_SCHEMA, rows_per_batch=8192) as writer:
        for article in _articles(shard_path, options.include_disambiguation):
            progress.update()
            stats["articles"] += 1
            for paragraph_idx, paragraph in enumerate(article["paragraphs"]):
                text = resolve_anchors(paragraph["text"], redirects)
                for sentence in split_sentences(text):
                    if len(sentence) < options.min_sentence_chars:
                        stats["short_sentences_dropped"] += 1
                        continue
                    writer.append(
                        {
                            "kc_id": kc_id(shard, stats["sentences"]),
                            "page_id": article["page_id"],
                            "title": article["title"],
                            "section": paragraph["section"],
                            "paragraph_idx": paragraph_idx,
                            "sentence": sentence,
                            "paragraph": text,
                        }
                    )
                    stats["sentences"] += 1
        progress.close()
        writer.metadata = stats_metadata(dict(stats))
    logger.info("text KC shard %d: %s", shard, dict(stats))
    return stats


# ---------------------------------------------------------------------------------------------
# Image KC
# ---------------------------------------------------------------------------------------------


def image_value(title: str, intro: str, max_chars: int) -> str:
    value = f"{display_title(title)}. {intro}".strip() if intro else display_title(title)
    return value[:max_chars]


def build_image_kc(
    shard_paths: Iterable[str | Path],
    redirects_path: str | Path,
    out: str | Path,
    options: ImageKcOptions = ImageKcOptions(),
) -> Counter:
    redirects = read_redirects(redirects_path)
    stats: Counter = Counter()
    with ParquetBatchWriter(out, IMAGE_KC_SCHEMA, rows_per_batch=8192) as writer:
        for path in shard_paths:
            for article in _articles(path, options.include_disambiguation):
                if not article["images"]:
                    continue
                intro = "\n".join(p["text"] for p in article["paragraphs"] if p["section"] == "")
                value = image_value(
                    article["title"], resolve_anchors(intro, redirects), options.max_intro_chars
                )
                stats["articles_with_images"] += 1
                for image in article["images"]:
                    is_url = "://" in image["file"]
                    writer.append(
                        {
                            "image_id": stats["images"],
                            "file": image["file"].rsplit("/", 1)[-1] if is_url else image["file"],
                            "url": image["file"]
                            if is_url
                            else upload_url(image["file"], options.thumb_width, options.upload_base),
                            "source": image["source"],
                            "page_id": article["page_id"],
                            "title": article["title"],
                            "value": value,
                            "local_path": None,
                        }
                    )
                    stats["images"] += 1
        writer.metadata = stats_metadata(dict(stats))
    logger.info("image KC: %s", dict(stats))
    return stats


def read_stats(path: str | Path) -> dict:
    meta = pq.read_metadata(path).metadata or {}
    raw = meta.get(STATS_KEY.encode())
    return json.loads(raw) if raw else {}
