"""Knowledge corpora from a MediaWiki dump or a bring-your-own document file."""

from more_ie.wiki.docs import DocFields, DocsError, build_docs_shard
from more_ie.wiki.dump import (
    DumpError,
    DumpShard,
    RawPage,
    iter_pages,
    make_shard,
    plan_shards,
    read_stream_offsets,
)
from more_ie.wiki.kc import (
    ImageKcOptions,
    KcOptions,
    build_image_kc,
    build_redirects,
    build_text_kc,
    read_redirects,
    read_stats,
)
from more_ie.wiki.shards import ShardOptions, build_dump_shard

__all__ = [
    "DocFields",
    "DocsError",
    "DumpError",
    "DumpShard",
    "ImageKcOptions",
    "KcOptions",
    "RawPage",
    "ShardOptions",
    "build_docs_shard",
    "build_dump_shard",
    "build_image_kc",
    "build_redirects",
    "build_text_kc",
    "iter_pages",
    "make_shard",
    "plan_shards",
    "read_redirects",
    "read_stats",
    "read_stream_offsets",
]
