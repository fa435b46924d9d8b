"""Mixture of experts: gate features, the gate, expert pairs per seed, significance, and ``moe_f1.json``.

Names are imported lazily: the workflow imports :mod:`more_ie.moe.pairs` while Snakemake builds
the DAG, which must not pay for importing torch.
"""

from __future__ import annotations

from more_ie.lazy import lazy_exports

_EXPORTS = {
    "Gate": "gate",
    "average": "gate",
    "load_gate": "gate",
    "mix": "gate",
    "mixture_nll": "gate",
    "save_gate": "gate",
    "variant_pairs": "pairs",
    "MoeConfig": "settings",
    "config_hash": "settings",
    "run_moe": "train",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
