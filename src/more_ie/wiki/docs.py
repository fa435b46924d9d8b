"""Bring-your-own knowledge source: a file of ``{title, text[, images]}`` documents.

Formats: JSON Lines (one document per line), Parquet, or a JSON file holding either a list of
documents or a mapping key -> document (as ``wiki_vital``'s ``summaries_en-us.json``). Field
names are configurable. Paragraphs are the text's blank-line (or line) separated blocks, all in
the introduction section, so a document's whole text is its "introduction" for the image KC.
Sharding is by document order modulo the shard count.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq

from more_ie.utils import ParquetBatchWriter
from more_ie.wiki.pages import PAGES_SCHEMA, PageRow, stats_metadata
from more_ie.wiki.settings import DocFields  # noqa: F401 - re-exported
from more_ie.wiki.titles import is_image_file, normalize_filename

logger = logging.getLogger(__name__)


class DocsError(ValueError):
    """A document file is malformed; the message names the file and line or key."""


def iter_documents(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(location, document)``; ``location`` names the line/row/key for error messages."""
    path = Path(path)
    if not path.exists():
        raise DocsError(f"{path}: document file not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        parquet = pq.ParquetFile(path)
        row = 0
        for batch in parquet.iter_batches(batch_size=4096):
            for doc in batch.to_pylist():
                row += 1
                yield f"{path}: row {row}", doc
    elif suffix in (".jsonl", ".ndjson"):
        with open(path, encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DocsError(f"{path}:{line_no}: not a JSON object: {err}") from err
                yield f"{path}:{line_no}", doc
    elif suffix == ".json":
        with open(path, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except json.JSONDecodeError as err:
                raise DocsError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from err
        items = data.items() if isinstance(data, dict) else enumerate(data)
        for key, doc in items:
            yield f"{path}: key {key!r}", doc
    else:
        raise DocsError(f"{path}: unknown document format {suffix!r} (use .jsonl, .json or .parquet)")


def _paragraphs(text: str) -> list[str]:
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
    if len(blocks) == 1:  # no blank lines: treat each line as a paragraph
        blocks = [b.strip() for b in text.split("\n")]
    return [" ".join(b.split()) for b in blocks if b.strip()]


def _image_refs(value: Any, where: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DocsError(f"{where}: 'images' must be a list of file names or URLs")
    refs: list[tuple[str, str]] = []
    for item in value:
        if "://" in item:
            refs.append((item, "doc_url"))
        elif is_image_file(item):
            refs.append((normalize_filename(item), "doc"))
    return refs


def document_page_id(title: str) -> int:
    """A stable id for a document without one: crc32 of the title, above the range of real page ids."""
    return (1 << 40) + zlib.crc32(title.encode("utf-8"))


def build_docs_shard(
    path: str | Path, shard: int, n_shards: int, out: str | Path, fields: DocFields = DocFields()
) -> Counter:
    stats: Counter = Counter()
    with ParquetBatchWriter(out, PAGES_SCHEMA, rows_per_batch=1000) as writer:
        for row in _document_rows(path, shard, n_shards, fields, stats):
            writer.append(row.as_record())
        writer.metadata = stats_metadata(dict(stats))
    logger.info("docs shard %d/%d of %s: %s", shard, n_shards, path, dict(stats))
    return stats


def _document_rows(
    path: str | Path, shard: int, n_shards: int, fields: DocFields, stats: Counter
) -> Iterator[PageRow]:
    seen_titles: set[str] = set()
    for position, (where, doc) in enumerate(iter_documents(path)):
        if not isinstance(doc, dict):
            raise DocsError(f"{where}: a document must be an object, got {type(doc).__name__}")
        title, text = doc.get(fields.title_field), doc.get(fields.text_field)
        if not isinstance(title, str) or not title.strip():
            raise DocsError(f"{where}: missing or empty {fields.title_field!r} field")
        if title in seen_titles:
            raise DocsError(f"{where}: duplicate title {title!r}")
        seen_titles.add(title)
        if position % n_shards != shard:
            continue
        stats["documents"] += 1
        if not isinstance(text, str) or not text.strip():
            logger.warning("%s: document %r has no %r text: skipped", where, title, fields.text_field)
            stats["skipped_empty_text"] += 1
            continue
        page_id = doc.get("page_id") if isinstance(doc.get("page_id"), int) else document_page_id(title)
        stats["articles"] += 1
        yield PageRow(
            page_id,
            title,
            paragraphs=[("", p) for p in _paragraphs(text)],
            images=_image_refs(doc.get(fields.images_field), where),
        )
