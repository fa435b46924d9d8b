"""The two experts: encoder + emissions + CRF for NER, and PURE's marker head for RE.

Both return, for a batch, a training loss and the per-position (NER: per word) output
distribution, which the cross-view alignment loss and the marginal export use.
Saved as ``model.safetensors`` + ``expert.json`` + the tokenizer: loaded without pickle and
without fetching the base encoder again.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from more_ie.experts.crf import LinearChainCRF


@dataclass
class ExpertConfig:
    task: str  # "ner" | "re"
    labels: list[str]
    encoder: str
    max_subtokens: int
    view: str = "none"
    encoder_config: dict = field(default_factory=dict)  # the encoder's own config, to rebuild it offline


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, S]
    attention_mask: torch.Tensor  # [B, S]
    word_starts: torch.Tensor | None = None  # [B, T] (NER), padded with 0
    word_mask: torch.Tensor | None = None  # [B, T] bool (NER)
    markers: torch.Tensor | None = None  # [B, 2] (RE)
    labels: torch.Tensor | None = None  # [B, T] (NER) or [B] (RE)

    def to(self, device: torch.device) -> "Batch":
        return Batch(**{k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()})


class Expert(nn.Module):
    def __init__(self, config: ExpertConfig, encoder: nn.Module):
        super().__init__()
        self.config = config
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(0.1)
        n = len(config.labels)
        if config.task == "ner":
            self.emissions = nn.Linear(hidden, n)
            self.crf = LinearChainCRF(n)
        else:
            self.classifier = nn.Linear(2 * hidden, n)

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("encoder.")]

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def _hidden(self, batch: Batch) -> torch.Tensor:
        out = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        return self.dropout(out.last_hidden_state)

    def scores(self, batch: Batch) -> torch.Tensor:
        """NER: emissions [B, T, L] at each word's first subtoken; RE: logits [B, C]."""
        hidden = self._hidden(batch)
        if self.config.task == "ner":
            assert batch.word_starts is not None
            index = batch.word_starts.unsqueeze(-1).expand(-1, -1, hidden.size(-1))
            return self.emissions(torch.gather(hidden, 1, index))
        assert batch.markers is not None
        rows = torch.arange(hidden.size(0), device=hidden.device)
        pair = torch.cat([hidden[rows, batch.markers[:, 0]], hidden[rows, batch.markers[:, 1]]], dim=-1)
        return self.classifier(pair)

    def loss(self, scores: torch.Tensor, batch: Batch) -> torch.Tensor:
        assert batch.labels is not None
        if self.config.task == "ner":
            return self.crf.nll(scores, batch.labels, batch.word_mask, reduction="mean")
        return nn.functional.cross_entropy(scores, batch.labels)

    def distribution(self, scores: torch.Tensor, batch: Batch) -> torch.Tensor:
        """NER: CRF marginals P(y_t | x) [B, T, L] (forward-backward); RE: class probabilities [B, C]."""
        if self.config.task == "ner":
            return self.crf.marginals(scores, batch.word_mask)
        return torch.softmax(scores, dim=-1)

    def decode(self, scores: torch.Tensor, batch: Batch) -> list[list[int]] | list[int]:
        if self.config.task == "ner":
            return self.crf.viterbi(scores, batch.word_mask)
        return scores.argmax(-1).tolist()

    # -- persistence ------------------------------------------------------------------------
    def save(self, folder: str | Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
        from safetensors.torch import save_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_model(self, str(folder / "model.safetensors"))
        config = asdict(self.config)
        config["encoder_config"] = self.encoder.config.to_dict()
        (folder / "expert.json").write_text(json.dumps(config, indent=2, sort_keys=True))
        tokenizer.save_pretrained(folder / "tokenizer")

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu"):  # type: ignore[no-untyped-def]
        from safetensors.torch import load_model
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        folder = Path(folder)
        config = ExpertConfig(**json.loads((folder / "expert.json").read_text()))
        encoder_config = dict(config.encoder_config)
        model_type = encoder_config.pop("model_type")
        encoder = AutoModel.from_config(AutoConfig.for_model(model_type, **encoder_config))
        expert = cls(config, encoder)
        load_model(expert, str(folder / "model.safetensors"), device=str(device))
        tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
        return expert.to(device).eval(), tokenizer
