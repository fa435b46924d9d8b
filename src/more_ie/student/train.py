"""Training one retrieval-free student (dataset x teaching variant x seed) by distillation.

The student is an :class:`~more_ie.experts.model.Expert` of the experts' head types (NER: emissions
+ CRF; RE: PURE's marker head) that only ever reads the sentence alone: no ``[X]``, no retrieved
text, at training and at prediction time. It trains on the training split with

    (1 - alpha) * gold loss + alpha * T^2 * KL(teacher || student)      (:mod:`more_ie.student.kd`)

where the teacher is the MoE variant's mixture on train (:mod:`more_ie.student.teacher`), in-sample
(its experts trained on the same posts) or cross-fitted: the log and ``metrics.json`` say which.

Everything else is the expert's recipe, reused rather than copied where it can be: the same
data loading and label set (train only), AdamW parameter groups (CRF at ``crf_lr``), the linear
per-epoch decay, gradient accumulation and clipping, model selection by dev F1 (sentence alone,
the only view a student has), and the same exports (``model/``, ``metrics.json`` with dev/test
micro F1 and inference sentences/s, ``{dev,test}.marginals.parquet``): :class:`StudentTrainer`
is an :class:`~more_ie.experts.train.ExpertTrainer` with the view ``none`` (no retrieval) whose
per-batch loss (:meth:`~more_ie.experts.train.ExpertTrainer.batch_loss`) adds the distillation term;
the loop, and with it the precision setting, is the expert's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch

from more_ie.experts.data import Example, collate, read_labels
from more_ie.experts.model import Expert
from more_ie.experts.settings import TrainConfig
from more_ie.experts.train import ExpertTrainer
from more_ie.student.kd import kd_loss, kd_term, student_distribution
from more_ie.student.settings import CROSS_FIT_NOTE, IN_SAMPLE_NOTE, StudentSettings
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
        in_sample = bool(self.teacher.info.get("in_sample", True))
        if in_sample:
            logger.warning(IN_SAMPLE_NOTE)
        else:
            logger.info(CROSS_FIT_NOTE)
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
            "teacher_in_sample": in_sample,
        }
        metrics["note"] = (
            "A retrieval-free student: it reads the sentence alone (dev/test equal dev_alone/test_alone). "
            + (IN_SAMPLE_NOTE if in_sample else CROSS_FIT_NOTE)
        )
        write_json(out_dir / "metrics.json", metrics)
        return metrics

    def batch_loss(self, model: Expert, chunk: Sequence[Example], pad: int) -> tuple[torch.Tensor, dict]:
        """``(1 - alpha) * gold + alpha * T^2 * KL(teacher || student)`` on the sentence alone; the
        rest of the loop (optimizer, schedule, precision, accumulation, dev selection) is the
        expert's (:meth:`ExpertTrainer._train`)."""
        kd = self.kd
        batch = collate(chunk, self.task, pad, use_context=False).to(self.device)
        scores = self._scores_fp32(model, batch)
        gold = model.loss(scores, batch)
        term = None
        if kd.alpha > 0:
            width = batch.word_mask.shape[1] if self.task == "ner" else 0
            teacher = self.teacher.batch([e.sample_id for e in chunk], width).to(self.device)
            student = student_distribution(model, scores, batch, kd.temperature)
            term = kd_term(teacher, student, batch.word_mask if self.task == "ner" else None, kd.temperature)
        parts = {"gold_loss": gold.item(), "kd": term.item() if term is not None else 0.0}
        return kd_loss(gold, term, kd.alpha), parts


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
