"""Cross-view alignment (CVA), as in the MoRe authors' released code (AdaSeq, ITA-style).

Each training sentence is seen twice: with its retrieved context (the "context view") and alone
(the "sentence-alone view"). Both views are trained on the gold labels, and the alone view is
pulled towards the context view by KL(P_context || P_alone). As in the authors' code, the teacher
side is cut at the context view's *emission scores* (``ext_view_logits.detach()``), not at its
posterior: the teacher's CRF marginals are computed from detached emissions with the live CRF,
so the KL term trains the CRF transitions through both views, while the context view's encoder
and emission layer get no gradient from it (:func:`teacher_distribution`).

The authors' forms (``adaseq/models/sequence_labeling_model.py`` and
``relation_extraction_model.py`` at commit 0b054b4, configs ``examples/MoRe/configs/*.yaml``):

* NER (``mv_loss_type: crf_kl``, ``temperature: 1``): the KL is between the CRF posterior
  marginals of the two views, summed over the valid tokens and labels and divided by the batch
  size; the loss is ``lam * (NLL_context + NLL_alone) + (1 - lam) * KL`` with
  ``lam = mv_interpolation = 0.5``. Each NLL is the CRF's per-sentence NLL averaged over the batch.
* RE: ``CE_context + CE_alone + KL`` (no interpolation), the KL between the softmax outputs
  summed over classes and divided by the batch size (so a per-sample mean).

The temperature is 1 in every released config and is not exposed.
"""

from __future__ import annotations

import torch

EPS = 1e-12


def teacher_distribution(model: torch.nn.Module, scores: torch.Tensor, batch: object) -> torch.Tensor:
    """The context view's distribution as the KL's teacher: its emission scores detached, the head
    (the CRF's transitions for NER) live. For RE (a softmax head) this equals detaching the
    probabilities. ``model`` is an :class:`~more_ie.experts.model.Expert`."""
    return model.distribution(scores.detach(), batch)  # type: ignore[operator]


def kl_sum_per_batch(teacher: torch.Tensor, student: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """sum over positions and labels of KL(teacher || student), divided by the batch size.

    ``teacher`` and ``student`` are probability distributions over the last axis: [B, T, L] with a
    [B, T] mask (NER), or [B, L] with no mask (RE). The teacher is *not* detached here: build it
    with :func:`teacher_distribution`, which cuts it where the authors do (at the emissions).
    """
    kl = (teacher * ((teacher + EPS).log() - (student + EPS).log())).sum(-1)
    if mask is not None:
        kl = kl * mask.to(kl.dtype)
    return kl.sum() / teacher.shape[0]


def cva_loss(
    task: str,
    loss_context: torch.Tensor,
    loss_alone: torch.Tensor,
    p_context: torch.Tensor,
    p_alone: torch.Tensor,
    mask: torch.Tensor | None,
    interpolation: float,
) -> torch.Tensor:
    """The training loss of a retrieval view with CVA (see the module docstring for the forms)."""
    kl = kl_sum_per_batch(p_context, p_alone, mask)
    if task == "ner":
        return interpolation * (loss_context + loss_alone) + (1.0 - interpolation) * kl
    return loss_context + loss_alone + kl
