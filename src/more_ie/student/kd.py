"""The distillation loss: ``(1 - alpha) * gold + alpha * T^2 * KL(teacher || student)``.

The teacher is a fixed table of distributions (the MoE's mixture on train, :mod:`more_ie.student.teacher`),
so it is always cut from the graph here (``detach``), whatever the caller passes. The KL has the
direction and the reduction of cross-view alignment (:func:`more_ie.experts.cva.kl_sum_per_batch`):
KL(teacher || student) summed over a sentence's tokens and labels (NER) or over classes (RE), and
divided by the batch size, so that it is per sentence like the CRF's NLL and per sample like RE's
cross-entropy.

Temperature T (Hinton et al.'s form, adapted to a CRF):

* student, NER with a CRF: the emissions *and* the transitions (start, end included) are divided by
  T before forward-backward, i.e. the marginals of the sequence distribution ``p(y|x)^(1/T)``
  renormalised over sequences; without a CRF, ``softmax(emissions / T)``;
* student, RE: ``softmax(logits / T)``;
* teacher: a mixture of two experts' marginals is not a CRF, so it is tempered per token (NER) or
  per sample (RE): ``p^(1/T)`` renormalised over labels. At T = 1 both sides are unchanged.
* the KL is multiplied by ``T^2``, as usual, so that its gradients keep their scale across T.
"""

from __future__ import annotations

import torch
from torch import nn

from more_ie.experts.cva import kl_sum_per_batch

EPS = 1e-12


def temper(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """``p^(1/T)`` renormalised over the last axis; all-zero rows (padding) stay zero."""
    if temperature == 1.0:
        return probs
    powered = probs.clamp(min=0.0) ** (1.0 / temperature)
    total = powered.sum(-1, keepdim=True)
    return torch.where(total > 0, powered / total.clamp(min=EPS), torch.zeros_like(powered))


class _Marginals(nn.Module):
    """The CRF's ``marginals`` as a module call, so that ``functional_call`` can swap its
    parameters for tempered ones (the CRF module itself is left untouched)."""

    def __init__(self, crf: nn.Module):
        super().__init__()
        self.crf = crf

    def forward(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.crf.marginals(emissions, mask)  # type: ignore[operator]


def tempered_crf_marginals(
    crf: nn.Module, emissions: torch.Tensor, mask: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Marginals of the CRF with emissions and all transition scores divided by T; gradients
    reach the emissions and the CRF's own parameters. BIO constraints (buffers) stay as they are."""
    if temperature == 1.0:
        return crf.marginals(emissions, mask)  # type: ignore[operator]
    wrapper = _Marginals(crf)
    params = {name: p / temperature for name, p in wrapper.named_parameters()}
    return torch.func.functional_call(wrapper, params, (emissions / temperature, mask))


def student_distribution(
    model: nn.Module, scores: torch.Tensor, batch: object, temperature: float
) -> torch.Tensor:
    """The student's tempered distribution: NER [B, T, L] (zero at padding), RE [B, L].
    ``model`` is an :class:`~more_ie.experts.model.Expert`."""
    head = model.head  # type: ignore[attr-defined]
    if temperature == 1.0:
        return model.distribution(scores, batch)  # type: ignore[operator]
    if getattr(head, "use_crf", False):
        return tempered_crf_marginals(head.crf, scores, batch.word_mask, temperature)  # type: ignore[attr-defined]
    return model.distribution(scores / temperature, batch)  # type: ignore[operator]


def kd_term(
    teacher: torch.Tensor, student: torch.Tensor, mask: torch.Tensor | None, temperature: float
) -> torch.Tensor:
    """``T^2 * KL(temper(teacher) || student)`` per sentence (NER) or sample (RE); the teacher is
    detached. ``student`` must already be tempered (:func:`student_distribution`)."""
    target = temper(teacher.detach().to(student.dtype), temperature)
    return (temperature**2) * kl_sum_per_batch(target, student, mask)


def kd_loss(gold: torch.Tensor, kd: torch.Tensor | None, alpha: float) -> torch.Tensor:
    """``(1 - alpha) * gold + alpha * kd``: alpha = 0 is the gold loss alone, alpha = 1 the
    distillation term alone (``kd`` may be None only when alpha is 0)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if alpha == 0.0:
        return gold
    if kd is None:
        raise ValueError("alpha > 0 needs the distillation term")
    if alpha == 1.0:
        return kd
    return (1.0 - alpha) * gold + alpha * kd
