"""MoRe: named entity and relation extraction with multi-modal retrieval.

Subpackages, one per concern:

* :mod:`more_ie.wiki` - Wikipedia dump / document files -> text and image knowledge corpora
* :mod:`more_ie.search` - retrieval back ends (pyserini BM25; the JVM set-up it needs)
* :mod:`more_ie.download` - file downloads with resume and checksums
* :mod:`more_ie.demo` - the deterministic offline demo world
* :mod:`more_ie.config` - config loading and schema validation

Every stage has a command: ``python -m more_ie --help``.
"""

__version__ = "0.1.0"
