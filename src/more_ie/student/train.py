"""Training one retrieval-free student (dataset x teaching variant x seed) by distillation.

The student is an :class:`~more_ie.experts.model.Expert` of the experts' head types (NER: emissions
+ CRF; RE: PURE's marker head) that only ever reads the sentence alone: no ``[X]``, no retrieved
text, at training and at prediction time. It trains on the training split with

    (1 - alpha) * gold loss + alpha * T^2 * KL(teacher || student)      (:mod:`more_ie.student.kd`)

where the teacher is the MoE variant's mixture on train (:mod:`more_ie.student.teacher`), which is
in-sample (its experts trained on the same posts): the log and ``metrics.json`` say so.

Everything else is the expert's recipe, reused rather than copied where it can be: the same
data loading and label set (train only), AdamW parameter groups (CRF at ``crf_lr``), the linear
per-epoch decay, gradient accumulation and clipping, model selection by dev F1 (sentence alone,
the only view a student has), and the same exports (``model/``, ``metrics.json`` with dev/test
micro F1 and inference sentences/s, ``{dev,test}.marginals.parquet``): :class:`StudentTrainer`
is an :class:`~more_ie.experts.train.ExpertTrainer` with the view ``none`` (no retrieval) whose
training loop adds the distillation term.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import torch

from more_ie.experts.data import Example, collate, read_labels
from more_ie.experts.model import Expert
from more_ie.experts.settings import TrainConfig
from more_ie.experts.train import ExpertTrainer, _cpu_state, parameter_groups
from more_ie.student.kd import kd_loss, kd_term, student_distribution
from more_ie.student.settings import IN_SAMPLE_NOTE, StudentSettings
from more_ie.student.teacher import Teacher
from more_ie.utils import write_json

logger = logging.getLogger(__name__)


class StudentTrainer(ExpertTrainer):
    """An expert trainer for the sentence-alone view whose loss adds the teacher's KL."""

    def __init__(self, task: str, config: TrainConfig, kd: StudentSettings, teacher: Teacher):
        if teacher.task != task:
            raise ValueError(f"the teacher is for {teacher.task}, the student for {task}")
        # view "none": no retrieval is read, so the "context" input is the sentence alone
        super().__init__(task, "none", config)
        self.kd, self.teacher = kd, teacher

    def run_student(self, splits: dict[str, Path], out_dir: Path, about: dict) -> dict:
        """Train, select on dev, export; ``about`` (variant, pair, teacher file...) goes into
        ``metrics.json`` beside the distillation settings and the in-sample note."""
        labels = read_labels(splits["train"], self.task)
        if labels != self.teacher.labels:
            raise ValueError(
                f"the teacher's labels {self.teacher.labels} differ from the training split's {labels}"
            )
        logger.warning(IN_SAMPLE_NOTE)
        logger.info(
            "student of %s: alpha %.3f, temperature %.3f, encoder %s, seed %d",
            about.get("variant"),
            self.kd.alpha,
            self.kd.temperature,
            self.config.encoder,
            self.config.seed,
        )
        metrics = self.run(splits, {}, out_dir)  # no retrieval for any split
        metrics["student"] = {
            **about,
            "alpha": self.kd.alpha,
            "temperature": self.kd.temperature,
            "encoder": self.config.encoder,
            "seed": self.config.seed,
            "teacher": self.teacher.info,
            "teacher_in_sample": True,
        }
        metrics["note"] = (
            "A retrieval-free student: it reads the sentence alone (dev/test equal dev_alone/test_alone). "
            + IN_SAMPLE_NOTE
        )
        write_json(out_dir / "metrics.json", metrics)
        return metrics

    def _train(self, model: Expert, data: dict[str, list[Example]]) -> tuple[list[dict], dict]:
        """The expert's loop (:meth:`ExpertTrainer._train`) with the distillation loss."""
        cfg, kd = self.config, self.kd
        optimizer = torch.optim.AdamW(parameter_groups(model, cfg), fused=True)
        scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.0, total_iters=cfg.epochs)
        train = data["train"]
        generator = torch.Generator().manual_seed(cfg.seed)
        history: list[dict] = []
        best_f1, best_state = -1.0, _cpu_state(model)
        pad = self.tokenizer.pad_token_id or 0
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            order = torch.randperm(len(train), generator=generator).tolist()
            start, seen = time.perf_counter(), 0
            totals = {"loss": 0.0, "gold": 0.0, "kd": 0.0}
            for step, first in enumerate(range(0, len(order), cfg.batch_size), 1):
                chunk = [train[i] for i in order[first : first + cfg.batch_size]]
                batch = collate(chunk, self.task, pad, use_context=False).to(self.device)
                scores = model.scores(batch)
                gold = model.loss(scores, batch)
                term = None
                if kd.alpha > 0:
                    width = batch.word_mask.shape[1] if self.task == "ner" else 0
                    teacher = self.teacher.batch([e.sample_id for e in chunk], width).to(self.device)
                    student = student_distribution(model, scores, batch, kd.temperature)
                    term = kd_term(
                        teacher, student, batch.word_mask if self.task == "ner" else None, kd.temperature
                    )
                loss = kd_loss(gold, term, kd.alpha)
                (loss / cfg.grad_accum).backward()
                if step % cfg.grad_accum == 0 or first + cfg.batch_size >= len(order):
                    if cfg.grad_clip is not None:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    optimizer.step()
                    optimizer.zero_grad()
                seen += len(chunk)
                for key, value in (("loss", loss), ("gold", gold), ("kd", term)):
                    totals[key] += (value.item() if value is not None else 0.0) * len(chunk)
                if step % cfg.log_every == 0:
                    logger.info(
                        "epoch %d: %d/%d sentences, loss %.4f (gold %.4f, T^2 KL %.4f), %.1f sentences/s",
                        epoch,
                        seen,
                        len(train),
                        totals["loss"] / seen,
                        totals["gold"] / seen,
                        totals["kd"] / seen,
                        seen / (time.perf_counter() - start),
                    )
            scheduler.step()
            rate = seen / (time.perf_counter() - start)
            dev = self._predict_f1(model, data["dev"])
            n = max(seen, 1)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": totals["loss"] / n,
                    "train_gold_loss": totals["gold"] / n,
                    "train_kd": totals["kd"] / n,
                    "dev_f1": dev,
                    "train_sentences_per_s": rate,
                }
            )
            logger.info(
                "epoch %d/%d: train loss %.4f (gold %.4f, T^2 KL %.4f), dev F1 %.4f (sentence alone), "
                "%.1f sentences/s",
                epoch,
                cfg.epochs,
                history[-1]["train_loss"],
                history[-1]["train_gold_loss"],
                history[-1]["train_kd"],
                dev,
                rate,
            )
            if dev > best_f1:
                best_f1, best_state = dev, _cpu_state(model)
        return history, best_state


def train_student(
    task: str,
    splits: dict[str, Path],
    teacher_path: Path,
    out_dir: Path,
    config: TrainConfig,
    kd: StudentSettings,
    about: dict | None = None,
) -> dict:
    """Read the teacher table and train one student into ``out_dir``."""
    from more_ie.student.teacher import read_teacher

    teacher = read_teacher(teacher_path)
    about = {
        "teacher_file": str(teacher_path),
        "variant": teacher.info.get("variant"),
        "pair_index": teacher.info.get("pair_index"),
        **(about or {}),
    }
    logger.info(
        "student settings: %s; training settings: %s", json.dumps(asdict(kd)), json.dumps(asdict(config))
    )
    return StudentTrainer(task, config, kd, teacher).run_student(splits, out_dir, about)
