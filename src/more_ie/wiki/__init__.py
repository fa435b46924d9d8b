"""Knowledge corpora from a MediaWiki dump or a bring-your-own document file.

Names are imported lazily (PEP 562): the command line imports :mod:`more_ie.wiki.settings` to
build its flags, which must not pay for importing pyarrow.
"""

from __future__ import annotations

from more_ie.lazy import lazy_exports

_EXPORTS = {
    "DocFields": "settings",
    "ImageKcOptions": "settings",
    "KcOptions": "settings",
    "ShardOptions": "settings",
    "DocsError": "docs",
    "build_docs_shard": "docs",
    "DumpError": "dump",
    "DumpShard": "dump",
    "RawPage": "dump",
    "iter_pages": "dump",
    "make_shard": "dump",
    "plan_shards": "dump",
    "read_stream_offsets": "dump",
    "build_image_kc": "kc",
    "build_redirects": "kc",
    "build_text_kc": "kc",
    "read_redirects": "kc",
    "read_stats": "kc",
    "build_dump_shard": "shards",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
