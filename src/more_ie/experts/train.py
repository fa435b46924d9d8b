"""Training one expert (dataset x view x seed), model selection on dev, and the marginal export.

The recipe is the MoRe authors' (see :mod:`more_ie.experts.cva` and config.yaml's comments):
AdamW with the CRF in its own parameter group, a linear decay of every rate to 0 stepped once per
epoch (``LinearLR(start_factor=1, end_factor=0, total_iters=epochs)``, no warm-up), gradient
accumulation, no gradient clipping (``grad_clip: null``, as their configs), and for a view with
retrieval the cross-view alignment loss. The model is selected
by dev F1. The label set comes from the training split only; dev/test labels that train lacks are
logged and count as missed. NER distributions are the CRF's forward-backward marginals, RE's the
softmax. Both views are evaluated: the context view (the expert) and the sentence-alone view (the
retrieval-free student that cross-view alignment trains).

Precision (``precision``, :mod:`more_ie.utils.precision`): the encoder and the task layer run under
autocast (bf16 or fp16; fp16 adds a GradScaler), and their scores leave the autocast block as fp32,
so the CRF's forward-backward, the losses and the exported distributions are computed in fp32.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import torch

from more_ie.experts.context import InputBuilder
from more_ie.experts.cva import cva_loss, teacher_distribution
from more_ie.experts.data import Example, collate, fold_members, load_examples, read_labels, subsample
from more_ie.experts.encoder import load_encoder, load_tokenizer
from more_ie.experts.metrics import ner_scores, re_scores
from more_ie.experts.model import Batch, Expert, ExpertConfig
from more_ie.experts.settings import TrainConfig
from more_ie.experts.spans import argmax_tags
from more_ie.utils import atomic_dir, write_json, write_parquet
from more_ie.utils.precision import autocast, grad_scaler, setup_precision

logger = logging.getLogger(__name__)
SPLITS = ("train", "dev", "test")
# One inference pass: decoded tag paths (NER) or classes (RE), per-sample distributions, sentences/s
Inference = tuple[list, list[np.ndarray], float]


def set_determinism(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _device(name: str) -> torch.device:
    return torch.device(
        "cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name)
    )


def parameter_groups(model: Expert, cfg: TrainConfig) -> list[dict]:
    """Encoder (and, unless head_lr is set, the task layer) at lr; the CRF at crf_lr."""
    groups = [
        {"params": model.encoder_parameters(), "lr": cfg.lr, "name": "encoder"},
        {"params": model.task_layer_parameters(), "lr": cfg.head_lr or cfg.lr, "name": "task_layer"},
    ]
    if model.crf_parameters():
        groups.append({"params": model.crf_parameters(), "lr": cfg.crf_lr, "name": "crf"})
    return groups


class ExpertTrainer:
    def __init__(self, task: str, view: str, config: TrainConfig):
        self.task, self.view, self.config = task, view, config
        self.device = _device(config.device)
        self.precision = setup_precision(config.precision, self.device, f"expert {task}/{view}")
        self.tokenizer = load_tokenizer(config.encoder, task)
        self.builder = InputBuilder(self.tokenizer, config.max_subtokens)

    def _load(
        self, splits: dict[str, Path], retrieval: dict[str, Path | None], names: Sequence[str] = SPLITS
    ) -> tuple[list[str], dict[str, list[Example]]]:
        cfg = self.config
        labels = read_labels(splits["train"], self.task)
        data = {
            s: load_examples(
                splits[s],
                retrieval.get(s),
                self.builder,
                self.task,
                labels,
                dedup=cfg.dedup_contexts,
                anchors=cfg.context_anchors,
            )
            for s in names
        }
        return labels, data

    def _new_model(self, labels: list[str]) -> Expert:
        cfg = self.config
        encoder = load_encoder(cfg.encoder, len(self.tokenizer))
        expert_config = ExpertConfig(
            self.task,
            labels,
            cfg.encoder,
            cfg.max_subtokens,
            self.view,
            dropout=cfg.dropout,
            word_dropout=cfg.word_dropout,
            bio_constraints=cfg.bio_constraints,
            use_crf=cfg.use_crf,
        )
        model = Expert(expert_config, encoder).to(self.device)
        if cfg.freeze_word_embeddings:
            model.freeze_word_embeddings()
            logger.info("word embeddings frozen (freeze_word_embeddings)")
        return model

    def _fit(
        self, labels: list[str], data: dict[str, list[Example]]
    ) -> tuple[Expert, Inference | None, dict]:
        """A new model at its best dev epoch, that epoch's dev pass (the same weights: it is the dev
        export, not made again), and the metrics so far."""
        model = self._new_model(labels)
        history, best, best_dev = self._train(model, data)
        model.load_state_dict(best)
        return (
            model,
            best_dev,
            {
                "task": self.task,
                "view": self.view,
                "labels": labels,
                "train_config": asdict(self.config),
                "train_samples": len(data["train"]),
                "history": history,
                "device": str(self.device),
                "precision": self.precision,
            },
        )

    def run(self, splits: dict[str, Path], retrieval: dict[str, Path | None], out_dir: Path) -> dict:
        cfg = self.config
        set_determinism(cfg.seed)
        labels, data = self._load(splits, retrieval)
        data["train"] = subsample(data["train"], cfg.max_train_samples, cfg.seed)
        model, best_dev, metrics = self._fit(labels, data)
        with atomic_dir(out_dir / "model") as tmp:
            model.save(tmp, self.tokenizer)
        for split in ("dev", "test"):
            metrics[split] = self._evaluate_and_export(
                model,
                data[split],
                labels,
                out_dir / f"{split}.marginals.parquet",
                inferred=best_dev if split == "dev" else None,
            )
            # The sentence-alone view of the same model: the retrieval-free student.
            metrics[f"{split}_alone"] = (
                metrics[split]
                if self.view == "none"
                else self._evaluate(model, data[split], labels, use_context=False)
            )
        write_json(out_dir / "metrics.json", metrics)
        return metrics

    def run_heldout_fold(
        self,
        splits: dict[str, Path],
        retrieval: dict[str, Path | None],
        out_dir: Path,
        fold: int,
        folds: int,
    ) -> dict:
        """Train on the training samples outside ``fold`` (of the seeded subsample, as :meth:`run`),
        select on dev, and export the context view's distributions on *every* training sample of
        ``fold`` to ``heldout.train.parquet``: train distributions from a model that never saw those
        posts (the student's cross-fitted teacher). No model and no test export are kept."""
        cfg = self.config
        set_determinism(cfg.seed)
        labels, data = self._load(splits, retrieval, ("train", "dev"))
        in_fold = set(fold_members([e.sample_id for e in data["train"]], fold, folds))
        heldout = [e for e in data["train"] if e.sample_id in in_fold]
        data["train"] = [
            e for e in subsample(data["train"], cfg.max_train_samples, cfg.seed) if e.sample_id not in in_fold
        ]
        logger.info(
            "fold %d of %d: training on %d samples, exporting the %d held-out training samples",
            fold,
            folds,
            len(data["train"]),
            len(heldout),
        )
        model, _, metrics = self._fit(labels, data)
        metrics.update(fold=fold, folds=folds)
        metrics["heldout_train"] = self._evaluate_and_export(
            model, heldout, labels, out_dir / "heldout.train.parquet"
        )
        write_json(out_dir / "metrics.json", metrics)
        return metrics

    # -- training --------------------------------------------------------------------------------
    def batch_loss(self, model: Expert, chunk: Sequence[Example], pad: int) -> tuple[torch.Tensor, dict]:
        """The training loss of one batch, and named parts of it to log (floats; the history keeps
        their epoch means as ``train_<name>``). The expert's: the gold loss of the context view, plus
        cross-view alignment for a retrieval view. A subclass changes the objective here and keeps
        the rest of the loop (the student: :class:`more_ie.student.train.StudentTrainer`)."""
        batch = collate(chunk, self.task, pad).to(self.device)
        scores = self._scores_fp32(model, batch)
        loss = model.loss(scores, batch)
        if self.view == "none" or not self.config.cva:
            return loss, {}
        alone = collate(chunk, self.task, pad, use_context=False).to(self.device)
        alone_scores = self._scores_fp32(model, alone)
        loss = cva_loss(
            self.task,
            loss,
            model.loss(alone_scores, alone),
            teacher_distribution(model, scores, batch),
            model.distribution(alone_scores, alone),
            batch.word_mask if self.task == "ner" else None,
            self.config.cva_interpolation,
        )
        return loss, {}

    def _train(
        self, model: Expert, data: dict[str, list[Example]]
    ) -> tuple[list[dict], dict, Inference | None]:
        cfg = self.config
        # The fused kernel (CPU and CUDA): the same update in one pass over the parameters, 8x faster
        # than the per-tensor loop on a 2-core CPU, where that loop took a third of a MiniLM step.
        optimizer = torch.optim.AdamW(parameter_groups(model, cfg), fused=True)
        scaler = grad_scaler(self.precision, self.device)  # fp16 only; a pass-through otherwise
        # Stepped once per epoch, as the authors' LinearLR(total_iters=max_epochs).
        scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.0, total_iters=cfg.epochs)
        train = data["train"]
        generator = torch.Generator().manual_seed(cfg.seed)
        history: list[dict] = []
        best_f1, best_state = -1.0, _cpu_state(model)
        best_dev: Inference | None = None  # no epoch trained: the export makes its own pass
        pad = self.tokenizer.pad_token_id or 0
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            order = torch.randperm(len(train), generator=generator).tolist()
            start, seen = time.perf_counter(), 0
            totals: dict[str, float] = {"loss": 0.0}
            for step, first in enumerate(range(0, len(order), cfg.batch_size), 1):
                chunk = [train[i] for i in order[first : first + cfg.batch_size]]
                loss, parts = self.batch_loss(model, chunk, pad)
                scaler.scale(loss / cfg.grad_accum).backward()
                if step % cfg.grad_accum == 0 or first + cfg.batch_size >= len(order):
                    if cfg.grad_clip is not None:  # the authors' configs clip nothing (null)
                        scaler.unscale_(optimizer)  # clip the true gradients, not fp16's scaled ones
                        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    scaler.step(optimizer)  # skips the step when fp16 gradients overflowed
                    scaler.update()
                    optimizer.zero_grad()
                seen += len(chunk)
                for name, value in {"loss": loss.item(), **parts}.items():
                    totals[name] = totals.get(name, 0.0) + value * len(chunk)
                if step % cfg.log_every == 0:
                    logger.info(
                        "epoch %d: %d/%d sentences, %s, %.1f sentences/s",
                        epoch,
                        seen,
                        len(train),
                        _losses(totals, seen),
                        seen / (time.perf_counter() - start),
                    )
            scheduler.step()
            rate = seen / (time.perf_counter() - start)
            dev, dev_pass = self._dev_pass(model, data["dev"])
            n = max(seen, 1)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": totals["loss"] / n,
                    **{f"train_{name}": total / n for name, total in totals.items() if name != "loss"},
                    "dev_f1": dev,
                    "train_sentences_per_s": rate,
                }
            )
            logger.info(
                "epoch %d/%d: train %s, dev F1 %.4f, %.1f sentences/s",
                epoch,
                cfg.epochs,
                _losses(totals, n),
                dev,
                rate,
            )
            if dev > best_f1:
                best_f1, best_state, best_dev = dev, _cpu_state(model), dev_pass
        return history, best_state, best_dev

    def _scores_fp32(self, model: Expert, batch: Batch) -> torch.Tensor:
        """The encoder and task layer under autocast; their scores leave it as fp32, so the CRF's
        forward-backward and the losses never run in half precision."""
        with autocast(self.precision, self.device):
            scores = model.scores(batch)
        return scores.float()

    # -- inference ---------------------------------------------------------------------------------
    @torch.inference_mode()
    def _infer(
        self,
        model: Expert,
        examples: Sequence[Example],
        use_context: bool = True,
    ) -> Inference:
        model.eval()
        pad = self.tokenizer.pad_token_id or 0
        decoded: list = []
        dists: list[np.ndarray] = []
        start = time.perf_counter()
        for first in range(0, len(examples), self.config.eval_batch_size):
            chunk = examples[first : first + self.config.eval_batch_size]
            batch = collate(chunk, self.task, pad, use_context=use_context).to(self.device)
            scores = self._scores_fp32(model, batch)
            decoded += model.decode(scores, batch)
            dist = model.distribution(scores, batch).float().cpu().numpy()
            if self.task == "ner":
                dists += [d[: len(e.words)] for d, e in zip(dist, chunk)]
            else:
                dists += list(dist)
        rate = len(examples) / max(time.perf_counter() - start, 1e-9)
        return decoded, dists, rate

    def _scores(self, examples: Sequence[Example], decoded: list, labels: list[str]) -> dict:
        if self.task == "ner":
            return ner_scores([e.gold for e in examples], [[labels[i] for i in path] for path in decoded])
        return re_scores([e.gold for e in examples], [labels[i] for i in decoded])

    def _dev_pass(self, model: Expert, examples: Sequence[Example]) -> tuple[float, Inference]:
        """Dev micro F1 for the epoch selection, and the pass it came from."""
        inferred = self._infer(model, examples)
        return self._scores(examples, inferred[0], model.config.labels)["micro"].f1, inferred

    def _evaluate(
        self, model: Expert, examples: Sequence[Example], labels: list[str], use_context: bool
    ) -> dict:
        decoded, _, rate = self._infer(model, examples, use_context=use_context)
        scores = self._scores(examples, decoded, labels)
        return {"micro": scores["micro"].to_dict(), "inference_sentences_per_s": rate}

    def _evaluate_and_export(
        self,
        model: Expert,
        examples: Sequence[Example],
        labels: list[str],
        out: Path,
        inferred: Inference | None = None,
    ) -> dict:
        """Scores and ``out`` for ``examples``: from ``inferred`` where the pass was already made
        with these weights (dev, at the selected epoch), else from a new one."""
        decoded, dists, rate = inferred if inferred is not None else self._infer(model, examples)
        meta = {"more_ie.labels": json.dumps(labels), "more_ie.task": self.task, "more_ie.view": self.view}
        ids = [e.sample_id for e in examples]
        if self.task == "ner":
            viterbi = [[labels[i] for i in path] for path in decoded]
            marginal = [argmax_tags(d.tolist(), labels) for d in dists]
            table = pa.table({"sample_id": ids, "marginals": [d.tolist() for d in dists], "viterbi": viterbi})
            scores = ner_scores([e.gold for e in examples], viterbi)
            result = {
                "micro": scores["micro"].to_dict(),
                "per_label": {k: v.to_dict() for k, v in scores["per_label"].items()},
                "marginal_argmax_micro": ner_scores([e.gold for e in examples], marginal)["micro"].to_dict(),
            }
        else:
            table = pa.table({"sample_id": ids, "probs": [d.tolist() for d in dists]})
            scores = re_scores([e.gold for e in examples], [labels[i] for i in decoded])
            result = {
                key: (
                    value.to_dict()
                    if hasattr(value, "to_dict")
                    else {k: v.to_dict() for k, v in value.items()}
                    if isinstance(value, dict)
                    else value
                )
                for key, value in scores.items()
            }
        write_parquet(table, out, metadata=meta)
        result["inference_sentences_per_s"] = rate
        logger.info(
            "%s: F1 %.4f (%d samples, %.1f sentences/s)", out.name, result["micro"]["f1"], len(examples), rate
        )
        return result


def _losses(totals: dict[str, float], seen: int) -> str:
    """``loss 0.1234 (gold_loss 0.2, kd 0.05)``: the running means of the loss and its parts."""
    parts = ", ".join(
        f"{name} {total / max(seen, 1):.4f}" for name, total in totals.items() if name != "loss"
    )
    return f"loss {totals['loss'] / max(seen, 1):.4f}" + (f" ({parts})" if parts else "")


def _cpu_state(model: torch.nn.Module) -> dict:
    """A copy of the model's weights on the CPU (the best state must not hold GPU memory)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
