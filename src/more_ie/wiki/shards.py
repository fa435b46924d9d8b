"""Dump shard -> corpus-shard table (:data:`more_ie.wiki.pages.PAGES_SCHEMA`).

Keeps namespace-0 pages. Articles go through :func:`more_ie.wiki.wikitext.parse_wikitext`;
redirects keep only their normalized target. Pages that cannot be used are skipped and counted,
never silently: the counts go to the log and into the Parquet metadata (``more_ie.stats``).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Iterator

from more_ie.utils import ParquetBatchWriter, ProgressLog
from more_ie.wiki.dump import DumpShard, iter_pages, make_shard
from more_ie.wiki.pages import PAGES_SCHEMA, PageRow, stats_metadata
from more_ie.wiki.settings import ShardOptions  # noqa: F401 - re-exported
from more_ie.wiki.titles import normalize_title
from more_ie.wiki.wikitext import parse_wikitext

logger = logging.getLogger(__name__)


def parse_dump_shard(
    shard: DumpShard, stats: Counter, options: ShardOptions = ShardOptions()
) -> Iterator[PageRow]:
    """Yield the shard's page rows one at a time, counting what is kept and skipped in ``stats``."""
    progress = ProgressLog(logger, f"shard {shard.index}: pages", every=options.log_every)
    for page in iter_pages(shard):
        progress.update()
        stats["pages_seen"] += 1
        if page.ns != 0:
            stats["skipped_not_article_namespace"] += 1
            continue
        if page.redirect is not None:
            target = normalize_title(page.redirect)
            if not target:
                stats["skipped_redirect_without_target"] += 1
                continue
            yield PageRow(page.page_id, page.title, redirect=target)
            stats["redirects"] += 1
            continue
        if not page.text.strip():
            logger.warning("page %d %r has no text: skipped", page.page_id, page.title)
            stats["skipped_empty_text"] += 1
            continue
        if len(page.text) > options.max_page_chars:
            logger.warning(
                "page %d %r has %d chars (> max_page_chars=%d): skipped",
                page.page_id,
                page.title,
                len(page.text),
                options.max_page_chars,
            )
            stats["skipped_too_large"] += 1
            continue
        parsed = parse_wikitext(page.text)
        stats["articles"] += 1
        stats["disambiguation_pages"] += parsed.is_disambiguation
        stats["paragraphs"] += len(parsed.paragraphs)
        stats["image_refs"] += len(parsed.images)
        yield PageRow(
            page.page_id,
            page.title,
            is_disambiguation=parsed.is_disambiguation,
            paragraphs=[(p.section, p.text) for p in parsed.paragraphs],
            images=[(img.file, img.source) for img in parsed.images],
        )
    progress.close()


def build_dump_shard(
    dump: str | Path,
    index: str | Path | None,
    shard: int,
    n_shards: int,
    out: str | Path,
    options: ShardOptions = ShardOptions(),
) -> Counter:
    dump_shard = make_shard(dump, index, shard, n_shards)
    stats: Counter = Counter()
    with ParquetBatchWriter(out, PAGES_SCHEMA, rows_per_batch=500) as writer:
        for row in parse_dump_shard(dump_shard, stats, options):
            writer.append(row.as_record())
        writer.metadata = stats_metadata(dict(stats))
    logger.info("shard %d/%d of %s: %s", shard, n_shards, dump, dict(stats))
    return stats
