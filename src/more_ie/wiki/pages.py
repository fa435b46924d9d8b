"""The corpus-shard table: one row per page, the common input of the text and image KCs.

Both knowledge sources produce it: a MediaWiki dump (:mod:`more_ie.wiki.shards`) and a
bring-your-own document file (:mod:`more_ie.wiki.docs`). Redirect pages are rows too, with an
empty body and ``redirect`` set, so the redirect map can be collected from all shards at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

import pyarrow as pa

PAGES_SCHEMA = pa.schema(
    [
        pa.field("page_id", pa.int64(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("redirect", pa.string()),  # normalized target title; null for articles
        pa.field("is_disambiguation", pa.bool_(), nullable=False),
        pa.field(
            "paragraphs",
            pa.list_(pa.struct([pa.field("section", pa.string()), pa.field("text", pa.string())])),
        ),
        pa.field(
            "images", pa.list_(pa.struct([pa.field("file", pa.string()), pa.field("source", pa.string())]))
        ),
    ]
)
STATS_KEY = "more_ie.stats"


@dataclass
class PageRow:
    page_id: int
    title: str
    redirect: str | None = None
    is_disambiguation: bool = False
    paragraphs: list[tuple[str, str]] = field(default_factory=list)  # (section, text)
    images: list[tuple[str, str]] = field(default_factory=list)  # (file, source)

    def as_record(self) -> dict:
        return {
            "page_id": self.page_id,
            "title": self.title,
            "redirect": self.redirect,
            "is_disambiguation": self.is_disambiguation,
            "paragraphs": [{"section": s, "text": t} for s, t in self.paragraphs],
            "images": [{"file": f, "source": s} for f, s in self.images],
        }


def pages_table(rows: Iterable[PageRow]) -> pa.Table:
    return pa.Table.from_pylist([row.as_record() for row in rows], schema=PAGES_SCHEMA)


def stats_metadata(stats: dict[str, int]) -> dict[str, str]:
    return {STATS_KEY: json.dumps(stats, sort_keys=True)}
