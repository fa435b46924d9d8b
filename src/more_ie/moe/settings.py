"""The gate's settings (a light module: the CLI builds its flags from it without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass, field


def _setting(default, help_text: str, **extra):  # type: ignore[no-untyped-def]
    return field(default=default, metadata={"help": help_text, **extra})


@dataclass
class MoeConfig:
    """The MoE stage's settings: the single source of their defaults (tests/test_settings.py checks the schema)."""

    gate: str = _setting(
        "per_label",
        "sigma(U [r_T; r_I] + b) with one column of U per label, or a single scalar gate.",
        choices=["per_label", "scalar"],
    )
    epochs: int = _setting(50, "Gate training epochs.")
    batch_size: int = _setting(64, "Gate batch size.")
    lr: float = _setting(1e-3, "Gate learning rate (AdamW).")
    holdout: float = _setting(
        0.2, "Share of dev held out from gate fitting: it picks the gate's epoch and gives dev_holdout_f1."
    )
    bootstrap_resamples: int = _setting(
        1000, "Resamples of the paired bootstrap over test sentences (significance)."
    )
    bootstrap_seed: int = _setting(0, "Seed of the bootstrap resamples.")
