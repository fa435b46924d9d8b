"""One trained expert applied to new inputs: inputs built as in training, batched inference.

The expert's input is built exactly as the training stage built it (``InputBuilder``): the
sentence, then ``[X]`` and the retrieved values in rank order, or the sentence alone for the
retrieval-free student. How retrieved values were cleaned (anchor markup, de-duplication) is read
from the expert's own ``metrics.json`` (``train_config``); runs trained before those settings
existed reduced anchors to their surface and kept repeats.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from more_ie.experts.context import EncodedInput, InputBuilder
from more_ie.experts.model import Batch, Expert
from more_ie.predict.layout import RunLayout
from more_ie.utils.precision import autocast, resolve_precision
from more_ie.wiki.sentences import strip_anchors

logger = logging.getLogger(__name__)


@dataclass
class Item:
    """One expert input: a post's words, and for RE the head/tail spans."""

    words: list[str]
    contexts: dict[str, list[str]]  # view -> retrieved values in rank order
    pair: tuple[tuple[int, int], tuple[int, int]] | None = None
    where: str = "post"


@dataclass
class Output:
    dist: np.ndarray  # NER: [T, L] CRF marginals; RE: [L] class probabilities
    decoded: list[int] | int  # NER: Viterbi path; RE: argmax class


class ExpertRunner:
    def __init__(
        self,
        layout: RunLayout,
        name: str,
        device: torch.device,
        alone: bool = False,
        folder: Path | None = None,
        precision: str = "auto",
    ):
        """``folder``: a model folder outside ``experts/`` (a distilled student's), else the expert ``name``'s.
        ``precision``: of the encoder's forward (more_ie.utils.precision); the CRF runs in fp32."""
        self.name = name
        self.precision = resolve_precision(precision, device)
        self.alone = alone  # the sentence-alone (retrieval-free) view
        self.model, self.tokenizer = Expert.load(
            folder / "model" if folder else layout.model_dir(name), device
        )
        self.device = device
        self.config = self.model.config
        self.builder = InputBuilder(self.tokenizer, self.config.max_subtokens)
        metrics_path = (folder or layout.expert_dir(name)) / "metrics.json"
        train_config = (
            json.loads(metrics_path.read_text()).get("train_config", {}) if metrics_path.is_file() else {}
        )
        self.anchors = train_config.get("context_anchors", "surface")
        self.dedup = bool(train_config.get("dedup_contexts", False))
        self.pad = self.tokenizer.pad_token_id or 0

    @property
    def view(self) -> str:
        return self.config.view

    @property
    def labels(self) -> list[str]:
        return list(self.config.labels)

    def clean_contexts(self, texts: Sequence[str]) -> list[str]:
        out: list[str] = []
        for text in texts:
            value = strip_anchors(text) if self.anchors == "surface" else text
            if not (self.dedup and value in out):
                out.append(value)
        return out

    def encode(self, item: Item) -> EncodedInput:
        contexts = () if self.alone else self.clean_contexts(item.contexts.get(self.view, []))
        if self.config.task == "ner":
            return self.builder.ner(item.words, contexts, item.where)
        assert item.pair is not None, f"{item.where}: an RE input needs a head/tail pair"
        return self.builder.re(item.words, item.pair[0], item.pair[1], contexts, item.where)

    def _batch(self, inputs: Sequence[EncodedInput]) -> Batch:
        # experts.data.collate needs gold labels; prediction has none, so the padding is done here.
        width = max(len(x.input_ids) for x in inputs)
        ids = torch.full((len(inputs), width), self.pad, dtype=torch.long)
        attention = torch.zeros((len(inputs), width), dtype=torch.long)
        for i, x in enumerate(inputs):
            ids[i, : len(x.input_ids)] = torch.tensor(x.input_ids)
            attention[i, : len(x.input_ids)] = 1
        if self.config.task == "re":
            markers = torch.tensor([x.marker_positions for x in inputs], dtype=torch.long)
            return Batch(ids, attention, markers=markers)
        n_words = max(len(x.word_starts) for x in inputs)
        starts = torch.zeros((len(inputs), n_words), dtype=torch.long)
        mask = torch.zeros((len(inputs), n_words), dtype=torch.bool)
        for i, x in enumerate(inputs):
            starts[i, : len(x.word_starts)] = torch.tensor(x.word_starts)
            mask[i, : len(x.word_starts)] = True
        return Batch(ids, attention, word_starts=starts, word_mask=mask)

    @torch.inference_mode()
    def run(self, items: Sequence[Item], batch_size: int) -> list[Output]:
        """Outputs in input order; batches are formed by length so that padding stays small."""
        encoded = [self.encode(item) for item in items]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
        out: list[Output | None] = [None] * len(encoded)
        for first in range(0, len(order), batch_size):
            chunk = order[first : first + batch_size]
            batch = self._batch([encoded[i] for i in chunk]).to(self.device)
            with autocast(self.precision, self.device):
                scores = self.model.scores(batch)
            scores = scores.float()  # the CRF's forward-backward and Viterbi in fp32, as in training
            dist = self.model.distribution(scores, batch).float().cpu().numpy()
            decoded = self.model.decode(scores, batch)
            for j, i in enumerate(chunk):
                n = len(items[i].words)
                out[i] = Output(dist[j][:n] if self.config.task == "ner" else dist[j], decoded[j])
        return [o for o in out if o is not None]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def model_exists(layout: RunLayout, name: str) -> bool:
    return Path(layout.expert_dir(name) / "model").is_dir()
