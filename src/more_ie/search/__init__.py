"""Retrieval back ends. Import pyserini only through :mod:`more_ie.search.jvm`."""

from more_ie.search.jvm import JvmError, ensure_jvm, import_pyserini_index, import_pyserini_search

__all__ = ["JvmError", "ensure_jvm", "import_pyserini_index", "import_pyserini_search"]
