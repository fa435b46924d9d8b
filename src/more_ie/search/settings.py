"""Text retrieval's settings (import-light: the retrieve-text command builds its flags from them)."""

from __future__ import annotations

from dataclasses import dataclass

from more_ie.utils.settings import setting


@dataclass
class Bm25Settings:
    """Text retrieval's settings: the single source of their defaults (the schema's
    retrieval.text.k / bm25_k1 / bm25_b agree, tests/test_settings.py)."""

    k: int = setting(10, "Number of retrieved sentences per input (top-k).")
    k1: float = setting(0.9, "BM25 k1.")
    b: float = setting(0.4, "BM25 b.")
    threads: int = setting(1, "Search threads of Anserini's batch_search.")
    batch: int = setting(1000, "Queries per batch_search call.")
