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

from more_ie.experts.heads import NerHead, ReHead


@dataclass
class ExpertConfig:
    task: str  # "ner" | "re"
    labels: list[str]
    encoder: str
    max_subtokens: int
    view: str = "none"
    dropout: float = 0.0
    word_dropout: float = 0.0
    bio_constraints: bool = False  # re-applied on load (the CRF's masks are not saved)
    use_crf: bool = True
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
        return Batch(
            **{k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        )


def _current_key(key: str) -> str:
    """Checkpoints written before the heads were classes keep their parameter names loadable."""
    return "head." + key if key.startswith(("emissions.", "crf.", "pair_norm.", "classifier.")) else key


class WordDropout(nn.Module):
    """Zero whole subtoken vectors with probability p during training (flair's / AdaSeq's form, no rescaling)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return hidden
        keep = torch.empty(hidden.shape[:-1] + (1,), device=hidden.device).bernoulli_(1 - self.p)
        return hidden * keep


class Expert(nn.Module):
    """Encoder + task head (:mod:`more_ie.experts.heads`); dropout and word dropout in between."""

    def __init__(self, config: ExpertConfig, encoder: nn.Module):
        super().__init__()
        self.config = config
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        self.word_dropout = WordDropout(config.word_dropout)
        self.head: NerHead | ReHead = (
            NerHead(hidden, config.labels, config.use_crf, config.bio_constraints)
            if config.task == "ner"
            else ReHead(hidden, config.labels)
        )

    def crf_parameters(self) -> list[nn.Parameter]:
        return self.head.crf_parameters()

    def task_layer_parameters(self) -> list[nn.Parameter]:
        """The emission layer (NER) or LayerNorm + classifier (RE): the head minus its CRF."""
        crf = {id(p) for p in self.crf_parameters()}
        return [p for p in self.head.parameters() if id(p) not in crf]

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The encoder's trainable parameters (all, unless the word embeddings were frozen)."""
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def freeze_word_embeddings(self) -> None:
        """No gradient for the word-embedding matrix: on a CPU its dense gradient and update cost a
        quarter of a small encoder's step (MiniLM: 11.7M of its 22.7M parameters)."""
        self.encoder.get_input_embeddings().weight.requires_grad_(False)

    def scores(self, batch: Batch) -> torch.Tensor:
        """NER: emissions [B, T, L] at each word's first subtoken; RE: logits [B, C]."""
        out = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        return self.head.scores(self.word_dropout(self.dropout(out.last_hidden_state)), batch)

    def loss(self, scores: torch.Tensor, batch: Batch) -> torch.Tensor:
        return self.head.loss(scores, batch)

    def distribution(self, scores: torch.Tensor, batch: Batch) -> torch.Tensor:
        """NER: P(y_t | x) [B, T, L] (CRF marginals or softmax); RE: class probabilities [B, C]."""
        return self.head.distribution(scores, batch)

    def decode(self, scores: torch.Tensor, batch: Batch) -> list[list[int]] | list[int]:
        return self.head.decode(scores, batch)

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
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        folder = Path(folder)
        config = ExpertConfig(**json.loads((folder / "expert.json").read_text()))
        encoder_config = dict(config.encoder_config)
        model_type = encoder_config.pop("model_type")
        encoder = AutoModel.from_config(AutoConfig.for_model(model_type, **encoder_config))
        expert = cls(config, encoder)
        state = load_file(str(folder / "model.safetensors"), device=str(device))
        expert.load_state_dict({_current_key(k): v for k, v in state.items()})
        tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
        return expert.to(device).eval(), tokenizer
