"""Mixture of experts: gate features, the gate, expert pairs per seed, significance, and ``moe_f1.json``.

Names are imported lazily: the workflow imports :mod:`more_ie.moe.pairs` while Snakemake builds
the DAG, which must not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Gate": "gate",
    "average": "gate",
    "load_gate": "gate",
    "mix": "gate",
    "mixture_nll": "gate",
    "save_gate": "gate",
    "variant_pairs": "pairs",
    "MoeConfig": "train",
    "config_hash": "train",
    "run_moe": "train",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'more_ie.moe' has no attribute {name!r}")
    return getattr(importlib.import_module(f"more_ie.moe.{_EXPORTS[name]}"), name)
