"""The knowledge-corpus stage's settings (import-light: the corpus-shard, text-kc and image-kc
commands build their flags from them).

Each dataclass is the single source of its defaults; the schema's ``knowledge.<name>`` block
(``max_page_chars``, ``source.title_field``, ``min_sentence_chars``, ``images.upload_base``...)
agrees with them, which tests/test_settings.py checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from more_ie.utils.settings import setting

DEFAULT_UPLOAD_BASE = "https://upload.wikimedia.org/wikipedia/commons"


@dataclass(frozen=True)
class SourceKind:
    """What a corpus-shard source is (the config names it always: the schema requires source.kind;
    the default serves commands typed by hand)."""

    kind: str = setting(
        "dump",
        "dump: a MediaWiki XML dump; docs: a JSONL/JSON/Parquet file of {title, text[, images]} documents.",
        choices=("dump", "docs"),
    )


@dataclass(frozen=True)
class ShardOptions:
    """Parsing a dump shard into page rows."""

    # the largest real enwiki article is ~1.3M chars; beyond is junk (or an attack on the parser)
    max_page_chars: int = setting(5_000_000, "Pages with more wikitext are skipped and counted.")
    log_every: int = setting(1000, "Log parsing progress every this many pages.")


@dataclass(frozen=True)
class DocFields:
    """Field names of a bring-your-own document file (kind: docs)."""

    title_field: str = setting("title", "docs: the title field.")
    text_field: str = setting("text", "docs: the text field.")
    images_field: str = setting("images", "docs: the optional image list field.")


@dataclass(frozen=True)
class KcOptions:
    """Building one text-KC shard (sentence -> paragraph)."""

    include_disambiguation: bool = setting(
        False, "Keep disambiguation pages in the KCs (they are always flagged)."
    )
    # drops fragments such as "See also." left by removed markup
    min_sentence_chars: int = setting(10, "Shorter sentences are dropped from the text KC.")
    log_every: int = setting(10_000, "Log progress every this many articles.")


@dataclass(frozen=True)
class ImageKcOptions:
    """Building the image KC (image -> title + introduction)."""

    include_disambiguation: bool = setting(
        False, "Keep disambiguation pages in the KCs (they are always flagged)."
    )
    upload_base: str = setting(
        DEFAULT_UPLOAD_BASE, "Base of the md5-hashed upload URLs (commons, or a file:// mirror)."
    )
    # originals are ~20x the bytes of a 320px thumbnail
    thumb_width: int | None = setting(
        320, "Thumbnail width in pixels; null fetches originals (~20x the bytes)."
    )
    max_intro_chars: int = setting(
        4000, "An image's value (title + introduction) is cut to this many characters."
    )
