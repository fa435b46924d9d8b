"""The NER and RE experts: CRF, span decoding and scoring.

The CRF names are imported lazily (PEP 562) so that ``more_ie.experts.spans`` and
``more_ie.experts.metrics``, which are pure Python, can be used without importing torch.
"""

from __future__ import annotations

from typing import Any

from more_ie.experts.metrics import PRF, entity_types, ner_scores, re_scores
from more_ie.experts.spans import argmax_tags, bio_to_spans

_CRF_NAMES = ("LinearChainCRF", "bio_transition_mask", "bio_start_mask", "DISALLOWED")

__all__ = [
    "PRF",
    "entity_types",
    "ner_scores",
    "re_scores",
    "argmax_tags",
    "bio_to_spans",
    *_CRF_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _CRF_NAMES:
        from more_ie.experts import crf

        return getattr(crf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
