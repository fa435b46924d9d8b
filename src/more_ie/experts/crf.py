"""A linear-chain CRF over per-word emissions: NLL, Viterbi, log-partition and marginals.

Conventions (shared by every method):

* ``emissions`` [B, T, L], ``mask`` [B, T] bool, a *prefix* mask (row b is valid on
  ``[0, len_b)``). A row with no valid position is an empty sequence: it has one (empty) path
  of score 0, so its log-partition and NLL are 0, its Viterbi path is ``[]`` and its marginals
  are all 0.
* ``transitions[i, j]`` scores moving from label ``i`` to label ``j``; ``start_transitions`` /
  ``end_transitions`` score the first / last label of a sequence.
* Everything is batched over B with a Python loop over time only; sums over paths go through
  ``logsumexp`` so nothing overflows. Emissions are cast to float32 because the recursions
  lose too much in half precision (the encoder may run under autocast).

BIO constraints are optional (default off): :func:`bio_transition_mask` /
:func:`bio_start_mask` say which moves are allowed and :meth:`LinearChainCRF.constrain` installs
them. A disallowed move then scores ``DISALLOWED`` (a large negative number rather than -inf, so
that ``logsumexp`` over a row whose moves are all disallowed stays finite and gradients stay
NaN-free). The masks are non-persistent buffers: they are not written into ``model.safetensors``
(so checkpoints with and without constraints load into each other); re-apply after loading.
"""

from __future__ import annotations

import logging
from typing import Sequence

import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

DISALLOWED = -1.0e4
REDUCTIONS = ("mean", "sum", "none")


def _split_bio(label: str) -> tuple[str, str]:
    """("B"|"I"|"O"|"", type) for a BIO label; ("", "") for labels outside the scheme."""
    if label == "O":
        return "O", ""
    if len(label) > 2 and label[0] in "BI" and label[1] == "-":
        return label[0], label[2:]
    return "", ""


def bio_transition_mask(labels: Sequence[str]) -> Tensor:
    """allowed[i, j]: may label i be followed by label j? Only ``I-X`` is restricted: it must
    follow ``B-X`` or ``I-X``. Labels outside the BIO scheme (e.g. a padding label) are
    unrestricted."""
    parts = [_split_bio(label) for label in labels]
    allowed = torch.ones(len(labels), len(labels), dtype=torch.bool)
    for j, (tag_j, type_j) in enumerate(parts):
        if tag_j != "I":
            continue
        for i, (tag_i, type_i) in enumerate(parts):
            allowed[i, j] = tag_i in ("B", "I") and type_i == type_j
    return allowed


def bio_start_mask(labels: Sequence[str]) -> Tensor:
    """allowed[j]: may a sequence start with label j? Not with ``I-X`` (the O -> I-X rule at t=0)."""
    return torch.tensor([_split_bio(label)[0] != "I" for label in labels], dtype=torch.bool)


def _prepare(emissions: Tensor, mask: Tensor, num_labels: int) -> tuple[Tensor, Tensor]:
    """Validated (float32 emissions, bool mask)."""
    mask = mask.bool()
    if emissions.dim() != 3 or emissions.size(-1) != num_labels:
        raise ValueError(f"emissions must be [B, T, {num_labels}], got {tuple(emissions.shape)}")
    if mask.shape != emissions.shape[:2]:
        raise ValueError(f"mask must be {tuple(emissions.shape[:2])}, got {tuple(mask.shape)}")
    # A hole in the mask would silently glue two pieces of a sequence together: refuse it.
    if mask.size(1) > 1 and bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError("mask must be a prefix mask (no True after a False in a row)")
    return emissions.float(), mask


class LinearChainCRF(nn.Module):
    def __init__(self, num_labels: int):
        super().__init__()
        if num_labels < 1:
            raise ValueError("a CRF needs at least one label")
        self.num_labels = num_labels
        self.transitions = nn.Parameter(torch.empty(num_labels, num_labels))
        self.start_transitions = nn.Parameter(torch.empty(num_labels))
        self.end_transitions = nn.Parameter(torch.empty(num_labels))
        self.register_buffer("transition_allowed", None, persistent=False)
        self.register_buffer("start_allowed", None, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Small random values (as pytorch-crf): zeros would work too, but break ties arbitrarily.
        for p in (self.transitions, self.start_transitions, self.end_transitions):
            nn.init.uniform_(p, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_labels={self.num_labels}, constrained={self.transition_allowed is not None}"

    # -- constraints ---------------------------------------------------------------------
    def constrain(self, transition_allowed: Tensor | None, start_allowed: Tensor | None = None) -> None:
        """Forbid transitions (``allowed`` [L, L] bool) and first labels ([L] bool); ``None`` lifts."""
        device = self.transitions.device
        for name, value, shape in (
            ("transition_allowed", transition_allowed, (self.num_labels,) * 2),
            ("start_allowed", start_allowed, (self.num_labels,)),
        ):
            if value is not None:
                if tuple(value.shape) != shape:
                    raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
                value = value.to(device=device, dtype=torch.bool)
            setattr(self, name, value)

    def constrain_bio(self, labels: Sequence[str]) -> None:
        if len(labels) != self.num_labels:
            raise ValueError(f"{len(labels)} labels for a CRF over {self.num_labels}")
        self.constrain(bio_transition_mask(labels), bio_start_mask(labels))
        logger.info("CRF: BIO constraints on (%d labels)", len(labels))

    def _potentials(self) -> tuple[Tensor, Tensor, Tensor]:
        """(transitions, start, end) with the constraints applied."""
        trans, start = self.transitions, self.start_transitions
        if self.transition_allowed is not None:
            trans = trans.masked_fill(~self.transition_allowed, DISALLOWED)
        if self.start_allowed is not None:
            start = start.masked_fill(~self.start_allowed, DISALLOWED)
        return trans, start, self.end_transitions

    # -- scoring -------------------------------------------------------------------------
    def _forward_alphas(self, emissions: Tensor, mask: Tensor) -> list[Tensor]:
        """alpha_t [B, L] = log-sum of the scores of all prefixes ending in label l at t. At
        padding positions alpha is carried over unchanged, so alphas[-1] is each row's final one."""
        trans, start, _ = self._potentials()
        alpha = start.unsqueeze(0) + emissions[:, 0]
        alphas = [alpha]
        for t in range(1, emissions.size(1)):
            # [B, L_from, 1] + [L_from, L_to] -> logsumexp over L_from
            step = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0), dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
            alphas.append(alpha)
        return alphas

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z(x) [B]; 0 for empty rows."""
        emissions, mask = _prepare(emissions, mask, self.num_labels)
        if emissions.size(1) == 0:
            return emissions.new_zeros(emissions.size(0))
        alphas = self._forward_alphas(emissions, mask)
        log_z = torch.logsumexp(alphas[-1] + self.end_transitions.unsqueeze(0), dim=1)
        return torch.where(mask[:, 0], log_z, torch.zeros_like(log_z))

    def path_score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Unnormalised score [B] of the label sequence ``tags`` (values at padding are ignored)."""
        emissions, mask = _prepare(emissions, mask, self.num_labels)
        batch, length = mask.shape
        if length == 0:
            return emissions.new_zeros(batch)
        trans, start, end = self._potentials()
        # Padding tags may be anything (0, -100, ...): neutralise them before indexing.
        tags = tags.long().masked_fill(~mask, 0)
        maskf = mask.to(emissions.dtype)
        score = (emissions.gather(2, tags.unsqueeze(2)).squeeze(2) * maskf).sum(1)
        score = score + start[tags[:, 0]] * maskf[:, 0]
        if length > 1:
            score = score + (trans[tags[:, :-1], tags[:, 1:]] * maskf[:, 1:]).sum(1)
        lengths = mask.sum(1)
        last = tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        return score + end[last] * maskf[:, 0]

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor, reduction: str = "mean") -> Tensor:
        """-log P(tags | x). ``mean`` averages over the B rows (empty rows count, with 0)."""
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        losses = self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)
        if reduction == "none":
            return losses
        return losses.sum() if reduction == "sum" else losses.mean()

    # -- inference -----------------------------------------------------------------------
    def marginals(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """P(y_t = l | x) [B, T, L] by forward-backward in log space; 0 at padding."""
        emissions, mask = _prepare(emissions, mask, self.num_labels)
        batch, length, _ = emissions.shape
        if length == 0:
            return emissions.new_zeros(emissions.shape)
        trans, _, end = self._potentials()
        alphas = torch.stack(self._forward_alphas(emissions, mask), dim=1)  # [B, T, L]
        # beta_t [B, L] = log-sum of the scores of all suffixes after label l at t. With a prefix
        # mask, t is a row's last position exactly when t+1 is padding; there beta_t = end.
        end_b = end.unsqueeze(0).expand(batch, -1)
        beta = end_b
        betas = [beta]
        for t in range(length - 2, -1, -1):
            # [L_from, L_to] + [B, 1, L_to] -> logsumexp over L_to
            step = torch.logsumexp(trans.unsqueeze(0) + (emissions[:, t + 1] + beta).unsqueeze(1), dim=2)
            beta = torch.where(mask[:, t + 1].unsqueeze(1), step, end_b)
            betas.append(beta)
        betas_t = torch.stack(betas[::-1], dim=1)  # [B, T, L]
        log_z = torch.logsumexp(alphas[:, -1] + end.unsqueeze(0), dim=1)  # alphas carry over padding
        probs = torch.exp(alphas + betas_t - log_z.view(batch, 1, 1))
        return probs * mask.unsqueeze(2).to(probs.dtype)

    @torch.no_grad()
    def viterbi_tensor(self, emissions: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """(paths [B, T] long, padded with 0 after each row's length; best scores [B], 0 if empty)."""
        emissions, mask = _prepare(emissions, mask, self.num_labels)
        batch, length, _ = emissions.shape
        if length == 0:
            return emissions.new_zeros((batch, 0), dtype=torch.long), emissions.new_zeros(batch)
        trans, start, end = self._potentials()
        score = start.unsqueeze(0) + emissions[:, 0]
        backpointers = []  # backpointers[t-1][b, j]: best label at t-1 given label j at t
        for t in range(1, length):
            best, index = (score.unsqueeze(2) + trans.unsqueeze(0)).max(dim=1)
            score = torch.where(mask[:, t].unsqueeze(1), best + emissions[:, t], score)
            backpointers.append(index)
        best_score, best_last = (score + end.unsqueeze(0)).max(dim=1)
        # Backtrack for all rows at once: each row's path starts (from the right) at its last
        # valid position; before that the values are placeholders, reset when t reaches it.
        last_pos = mask.sum(1) - 1
        paths = torch.zeros(batch, length, dtype=torch.long, device=emissions.device)
        current = best_last
        for t in range(length - 1, -1, -1):
            current = torch.where(last_pos == t, best_last, current)
            paths[:, t] = current
            if t > 0:
                current = backpointers[t - 1].gather(1, current.unsqueeze(1)).squeeze(1)
        paths = paths.masked_fill(~mask, 0)
        return paths, torch.where(mask[:, 0], best_score, torch.zeros_like(best_score))

    def viterbi(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """The best label sequence of each row, as a list of length ``mask[b].sum()``."""
        paths, _ = self.viterbi_tensor(emissions, mask)
        lengths = mask.sum(1).tolist()
        return [row[:n] for row, n in zip(paths.tolist(), lengths)]
