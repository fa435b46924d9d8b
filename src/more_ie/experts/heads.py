"""The task heads behind one interface: NER (CRF or softmax tagger) and RE (PURE's marker pair).

A head turns the encoder's hidden states into scores, and scores into a training loss, an output
distribution (what cross-view alignment and the MoE consume) and a decoded prediction:

* :class:`NerHead` scores each word at its first subtoken. With ``use_crf`` (the paper, and
  flair's default) the loss is the CRF's per-sentence NLL averaged over the batch, the
  distribution the forward-backward marginals and the decoding Viterbi; without, it is a softmax
  tagger (token cross-entropy averaged over valid tokens, softmax, per-token argmax), as flair's
  ``use_crf=False`` and AdaSeq's non-CRF decoder.
* :class:`ReHead` is the authors' RE head: LayerNorm over [r_S; r_O] (the ``<S>``/``<O>`` marker
  representations), then a linear layer; softmax distribution, argmax decoding.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import torch
from torch import nn

from more_ie.experts.crf import LinearChainCRF


class HeadBatch(Protocol):
    word_starts: torch.Tensor | None
    word_mask: torch.Tensor | None
    markers: torch.Tensor | None
    labels: torch.Tensor | None


class NerHead(nn.Module):
    def __init__(
        self, hidden: int, labels: Sequence[str], use_crf: bool = True, bio_constraints: bool = False
    ):
        super().__init__()
        self.use_crf = use_crf
        self.emissions = nn.Linear(hidden, len(labels))
        if use_crf:
            self.crf = LinearChainCRF(len(labels))
            if bio_constraints:
                self.crf.constrain_bio(labels)
        elif bio_constraints:
            raise ValueError("bio_constraints need the CRF (use_crf: true)")

    def scores(self, hidden: torch.Tensor, batch: HeadBatch) -> torch.Tensor:
        """Emissions [B, T, L] at each word's first subtoken."""
        assert batch.word_starts is not None
        index = batch.word_starts.unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        return self.emissions(torch.gather(hidden, 1, index))

    def loss(self, scores: torch.Tensor, batch: HeadBatch) -> torch.Tensor:
        assert batch.labels is not None and batch.word_mask is not None
        if self.use_crf:
            return self.crf.nll(scores, batch.labels, batch.word_mask, reduction="mean")
        return nn.functional.cross_entropy(scores[batch.word_mask], batch.labels[batch.word_mask])

    def distribution(self, scores: torch.Tensor, batch: HeadBatch) -> torch.Tensor:
        """P(y_t | x) [B, T, L]: CRF marginals, or the softmax; zero at padding."""
        assert batch.word_mask is not None
        if self.use_crf:
            return self.crf.marginals(scores, batch.word_mask)
        return torch.softmax(scores.float(), dim=-1) * batch.word_mask.unsqueeze(-1)

    def decode(self, scores: torch.Tensor, batch: HeadBatch) -> list[list[int]]:
        assert batch.word_mask is not None
        if self.use_crf:
            return self.crf.viterbi(scores, batch.word_mask)
        best = scores.argmax(-1)
        return [row[: int(m.sum())].tolist() for row, m in zip(best, batch.word_mask)]

    def crf_parameters(self) -> list[nn.Parameter]:
        return list(self.crf.parameters()) if self.use_crf else []


class ReHead(nn.Module):
    def __init__(self, hidden: int, labels: Sequence[str]):
        super().__init__()
        self.pair_norm = nn.LayerNorm(2 * hidden)
        self.classifier = nn.Linear(2 * hidden, len(labels))

    def scores(self, hidden: torch.Tensor, batch: HeadBatch) -> torch.Tensor:
        """Logits [B, C] from the <S> and <O> marker representations."""
        assert batch.markers is not None
        rows = torch.arange(hidden.size(0), device=hidden.device)
        pair = torch.cat([hidden[rows, batch.markers[:, 0]], hidden[rows, batch.markers[:, 1]]], dim=-1)
        return self.classifier(self.pair_norm(pair))

    def loss(self, scores: torch.Tensor, batch: HeadBatch) -> torch.Tensor:
        assert batch.labels is not None
        return nn.functional.cross_entropy(scores, batch.labels)

    def distribution(self, scores: torch.Tensor, batch: HeadBatch) -> torch.Tensor:
        return torch.softmax(scores.float(), dim=-1)

    def decode(self, scores: torch.Tensor, batch: HeadBatch) -> list[int]:
        return scores.argmax(-1).tolist()

    def crf_parameters(self) -> list[nn.Parameter]:
        return []
