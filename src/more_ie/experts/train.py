"""Training one expert (dataset x view x seed), model selection on dev, and the marginal export.

AdamW with a separate learning rate for the head/CRF, linear decay, gradient accumulation. For a
view with retrieval, cross-view alignment (as in ITA) adds the sentence-alone view's loss and
KL(P_context || P_alone), with the context view as the (detached) teacher; its weight is
``cva_weight``. NER distributions are the CRF's forward-backward marginals, RE's the softmax.
"""
from __future__ import annotations

import copy
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import torch

from more_ie.experts.context import InputBuilder
from more_ie.experts.data import Example, collate, load_examples, read_labels
from more_ie.experts.encoder import load_encoder, load_tokenizer
from more_ie.experts.metrics import ner_scores, re_scores
from more_ie.experts.model import Expert, ExpertConfig
from more_ie.experts.spans import argmax_tags
from more_ie.utils import atomic_dir, write_json, write_parquet

logger = logging.getLogger(__name__)
SPLITS = ("train", "dev", "test")


@dataclass
class TrainConfig:
    encoder: str = "xlm-roberta-large"
    max_subtokens: int = 512
    lr: float = 5e-6
    head_lr: float = 5e-3
    batch_size: int = 4
    grad_accum: int = 1
    epochs: int = 10
    cva_weight: float = 1.0
    seed: int = 1
    device: str = "auto"
    warmup_ratio: float = 0.1
    eval_batch_size: int = 32
    log_every: int = 50


def set_determinism(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _device(name: str) -> torch.device:
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name))


def _kl(teacher: torch.Tensor, student: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """KL(teacher || student) per position, averaged over valid positions."""
    eps = 1e-8
    kl = (teacher * ((teacher + eps).log() - (student + eps).log())).sum(-1)
    if mask is None:
        return kl.mean()
    return (kl * mask).sum() / mask.sum().clamp(min=1)


class ExpertTrainer:
    def __init__(self, task: str, view: str, config: TrainConfig):
        self.task, self.view, self.config = task, view, config
        self.device = _device(config.device)
        self.tokenizer = load_tokenizer(config.encoder, task)
        self.builder = InputBuilder(self.tokenizer, config.max_subtokens)

    def run(self, splits: dict[str, Path], retrieval: dict[str, Path | None], out_dir: Path) -> dict:
        cfg = self.config
        set_determinism(cfg.seed)
        labels = sorted({lab for s in SPLITS for lab in read_labels(splits[s], self.task)},
                        key=lambda x: (x != "O", x != "None", x))
        data = {s: load_examples(splits[s], retrieval.get(s), self.builder, self.task, labels) for s in SPLITS}
        encoder = load_encoder(cfg.encoder, len(self.tokenizer))
        model = Expert(ExpertConfig(self.task, labels, cfg.encoder, cfg.max_subtokens, self.view), encoder).to(self.device)
        history, best = self._train(model, data)
        model.load_state_dict(best)
        metrics = {"task": self.task, "view": self.view, "labels": labels, "train_config": asdict(cfg),
                   "history": history, "device": str(self.device)}
        with atomic_dir(out_dir / "model") as tmp:
            model.save(tmp, self.tokenizer)
        for split in ("dev", "test"):
            metrics[split] = self._evaluate_and_export(model, data[split], labels, out_dir / f"{split}.marginals.parquet")
        write_json(out_dir / "metrics.json", metrics)
        return metrics

    # -- training --------------------------------------------------------------------------------
    def _train(self, model: Expert, data: dict[str, list[Example]]) -> tuple[list[dict], dict]:
        from transformers import get_linear_schedule_with_warmup

        cfg = self.config
        optimizer = torch.optim.AdamW([
            {"params": model.encoder_parameters(), "lr": cfg.lr},
            {"params": model.head_parameters(), "lr": cfg.head_lr},
        ])
        train = data["train"]
        steps = cfg.epochs * max(1, -(-len(train) // (cfg.batch_size * cfg.grad_accum)))
        scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * steps), steps)
        generator = torch.Generator().manual_seed(cfg.seed)
        use_cva = self.view != "none" and cfg.cva_weight > 0
        history: list[dict] = []
        best_f1, best_state = -1.0, copy.deepcopy(model.state_dict())
        pad = self.tokenizer.pad_token_id or 0
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            order = torch.randperm(len(train), generator=generator).tolist()
            start, seen, total_loss = time.perf_counter(), 0, 0.0
            for step, first in enumerate(range(0, len(order), cfg.batch_size), 1):
                chunk = [train[i] for i in order[first : first + cfg.batch_size]]
                batch = collate(chunk, self.task, pad).to(self.device)
                scores = model.scores(batch)
                loss = model.loss(scores, batch)
                if use_cva:
                    alone = collate(chunk, self.task, pad, use_context=False).to(self.device)
                    alone_scores = model.scores(alone)
                    teacher = model.distribution(scores, batch).detach()
                    student = model.distribution(alone_scores, alone)
                    loss = loss + model.loss(alone_scores, alone) + cfg.cva_weight * _kl(
                        teacher, student, batch.word_mask.float() if self.task == "ner" else None)
                (loss / cfg.grad_accum).backward()
                if step % cfg.grad_accum == 0 or first + cfg.batch_size >= len(order):
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                seen += len(chunk)
                total_loss += loss.item() * len(chunk)
                if step % cfg.log_every == 0:
                    rate = seen / (time.perf_counter() - start)
                    logger.info("epoch %d: %d/%d sentences, loss %.4f, %.1f sentences/s", epoch, seen, len(train),
                                total_loss / seen, rate)
            rate = seen / (time.perf_counter() - start)
            dev = self._predict_f1(model, data["dev"])
            history.append({"epoch": epoch, "train_loss": total_loss / max(seen, 1), "dev_f1": dev,
                            "train_sentences_per_s": rate})
            logger.info("epoch %d: train loss %.4f, dev F1 %.4f, %.1f sentences/s", epoch, total_loss / max(seen, 1), dev, rate)
            if dev > best_f1:
                best_f1, best_state = dev, copy.deepcopy(model.state_dict())
        return history, best_state

    # -- inference ---------------------------------------------------------------------------------
    @torch.inference_mode()
    def _infer(self, model: Expert, examples: Sequence[Example]) -> tuple[list, list[np.ndarray], float]:
        model.eval()
        pad = self.tokenizer.pad_token_id or 0
        decoded: list = []
        dists: list[np.ndarray] = []
        start = time.perf_counter()
        for first in range(0, len(examples), self.config.eval_batch_size):
            chunk = examples[first : first + self.config.eval_batch_size]
            batch = collate(chunk, self.task, pad).to(self.device)
            scores = model.scores(batch)
            decoded += model.decode(scores, batch)
            dist = model.distribution(scores, batch).float().cpu().numpy()
            if self.task == "ner":
                dists += [d[: len(e.words)] for d, e in zip(dist, chunk)]
            else:
                dists += list(dist)
        rate = len(examples) / max(time.perf_counter() - start, 1e-9)
        return decoded, dists, rate

    def _predict_f1(self, model: Expert, examples: Sequence[Example]) -> float:
        decoded, _, _ = self._infer(model, examples)
        labels = model.config.labels
        if self.task == "ner":
            gold = [[labels[i] for i in e.label] for e in examples]
            return ner_scores(gold, [[labels[i] for i in path] for path in decoded])["micro"].f1
        return re_scores([labels[e.label] for e in examples], [labels[i] for i in decoded])["micro"].f1

    def _evaluate_and_export(self, model: Expert, examples: Sequence[Example], labels: list[str], out: Path) -> dict:
        decoded, dists, rate = self._infer(model, examples)
        meta = {"more_ie.labels": json.dumps(labels), "more_ie.task": self.task, "more_ie.view": self.view}
        ids = [e.sample_id for e in examples]
        if self.task == "ner":
            gold = [[labels[i] for i in e.label] for e in examples]
            viterbi = [[labels[i] for i in path] for path in decoded]
            marginal = [argmax_tags(d.tolist(), labels) for d in dists]
            table = pa.table({"sample_id": ids, "marginals": [d.tolist() for d in dists], "viterbi": viterbi})
            scores = ner_scores(gold, viterbi)
            result = {"micro": scores["micro"].to_dict(),
                      "per_label": {k: v.to_dict() for k, v in scores["per_label"].items()},
                      "marginal_argmax_micro": ner_scores(gold, marginal)["micro"].to_dict()}
        else:
            gold = [labels[e.label] for e in examples]
            table = pa.table({"sample_id": ids, "probs": [d.tolist() for d in dists]})
            scores = re_scores(gold, [labels[i] for i in decoded])
            result = {key: (value.to_dict() if hasattr(value, "to_dict") else
                            {k: v.to_dict() for k, v in value.items()} if isinstance(value, dict) else value)
                      for key, value in scores.items()}
        write_parquet(table, out, metadata=meta)
        result["inference_sentences_per_s"] = rate
        logger.info("%s: F1 %.4f (%d samples, %.1f sentences/s)", out.name, result["micro"]["f1"], len(examples), rate)
        return result
