"""The mixture-of-experts gate over frozen experts' output distributions.

Per-label gate (the paper): g = sigma(U [r_T; r_I] + b) with one column of U per label, g in
[0, 1]^L. For two experts A and B the mixture at a position is
    m_y = g_y P_A(y) + (1 - g_y) P_B(y),
which need not sum to 1 when g differs across labels, so it is renormalized:
    P(y) = m_y / sum_y' m_y'.
The scalar gate uses one g for all labels (and needs no renormalization). The same gate value
applies to every token of a sentence (the features are per sentence). NER decodes P by
``moe.decode`` (:mod:`more_ie.moe.decode`: constrained BIO decoding, or the paper's per-token
argmax); RE takes the argmax over relations.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

EPS = 1e-12


class Gate(nn.Module):
    def __init__(self, feature_dim: int, num_labels: int, kind: str):
        super().__init__()
        if kind not in ("per_label", "scalar"):
            raise ValueError(f"unknown gate kind {kind!r}")
        self.kind = kind
        self.linear = nn.Linear(feature_dim, num_labels if kind == "per_label" else 1)
        nn.init.zeros_(self.linear.weight)  # start as average pooling (g = 0.5 everywhere)
        nn.init.zeros_(self.linear.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """[B, F] -> gate values [B, L] (per label) or [B, 1] (scalar)."""
        return torch.sigmoid(self.linear(features))


def mix(gate: torch.Tensor, p_a: torch.Tensor, p_b: torch.Tensor) -> torch.Tensor:
    """Mix ``p_a``/``p_b`` of shape [B, T, L] (NER) or [B, L] (RE) with gate [B, L|1]; rows sum to 1."""
    if p_a.dim() == 3:
        gate = gate.unsqueeze(1)
    mixed = gate * p_a + (1 - gate) * p_b
    return mixed / mixed.sum(-1, keepdim=True).clamp(min=EPS)


def average(p_a: torch.Tensor, p_b: torch.Tensor) -> torch.Tensor:
    return 0.5 * (p_a + p_b)


def mixture_nll(mixed: torch.Tensor, gold: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean negative log-likelihood of the gold labels (per valid token for NER)."""
    log_p = torch.log(mixed.gather(-1, gold.unsqueeze(-1)).squeeze(-1).clamp(min=EPS))
    if mask is None:
        return -log_p.mean()
    return -(log_p * mask).sum() / mask.sum().clamp(min=1)


GATE_WEIGHTS = "gate.safetensors"
GATE_INFO = "gate.json"


def save_gate(gate: Gate, folder: Path, info: dict) -> None:
    """Weights (safetensors, no pickle) and a JSON naming the pair, labels and feature spec, so a
    fitted gate can be applied to new posts with :func:`load_gate`. ``folder`` must be fresh (the
    caller writes the whole gates folder atomically)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in gate.state_dict().items()}, str(folder / GATE_WEIGHTS))
    meta = {
        "kind": gate.kind,
        "feature_dim": gate.linear.in_features,
        "num_labels_out": gate.linear.out_features,
        **info,
    }
    (folder / GATE_INFO).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_gate(folder: str | Path) -> tuple[Gate, dict]:
    from safetensors.torch import load_file

    folder = Path(folder)
    info = json.loads((folder / GATE_INFO).read_text(encoding="utf-8"))
    gate = Gate(info["feature_dim"], len(info["labels"]), info["kind"])
    gate.load_state_dict(load_file(str(folder / GATE_WEIGHTS)))
    return gate.eval(), info
