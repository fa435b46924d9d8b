"""Mixture of experts: gate features, the gate, and the result file ``moe_f1.json``."""
from more_ie.moe.gate import Gate, average, mix, mixture_nll
from more_ie.moe.train import MoeConfig, config_hash, run_moe

__all__ = ["Gate", "MoeConfig", "average", "config_hash", "mix", "mixture_nll", "run_moe"]
