"""Prediction's settings (import-light: the predict command builds its flags from them, and
``MoRe.load`` and ``write_case_study`` take them), the single source of their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from more_ie.utils.precision import PRECISION_HELP, PRECISIONS
from more_ie.utils.settings import setting


@dataclass(frozen=True)
class PredictSettings:
    """Which part of a trained run predicts, and where it runs."""

    variant: str | None = setting(None, "MoE variant, e.g. text+image; null: moe_f1.json's headline.")
    pair: int = setting(0, "Which seed pair of the variant.")
    mixing: str = setting(
        "moe",
        "moe: the saved gate; average: average pooling of the pair (no gate).",
        choices=["moe", "average"],
    )
    no_retrieval: bool = setting(
        False, "Fast path: one CVA-trained expert on the sentence alone (no BM25, CLIP or gate)."
    )
    expert: str | None = setting(
        None, "With no_retrieval: which expert, e.g. text-s1; null: the pair's first retrieval expert."
    )
    student: bool = setting(
        False,
        "The distilled student alone (student/{variant}-s{seed}/model): the sentence alone, no retrieval, "
        "no gate.",
    )
    student_seed: int | None = setting(
        None, "With student: which seed's student; null: the lowest trained for the variant."
    )
    ner_dataset: str | None = setting(
        None, "RE: predict entities with this NER dataset's run and relate every pair of them."
    )
    device: str = setting("auto", "auto uses CUDA when present.", choices=["auto", "cpu", "cuda"])
    precision: str = setting("auto", PRECISION_HELP + " For the experts and CLIP.", choices=PRECISIONS)
    threads: int = setting(2, "Torch and BM25 threads.")


@dataclass(frozen=True)
class BatchSettings:
    """How posts are batched (speed only: the predictions do not depend on it)."""

    batch_size: int = setting(32, "Expert inputs per forward pass.")
    chunk: int = setting(256, "Posts retrieved together.")


@dataclass(frozen=True)
class CaseStudySettings:
    """The case-study page: a seeded sample of test posts (the case_study rule uses these defaults)."""

    posts: int = setting(6, "Test posts on the page.")
    seed: int = setting(0, "Seed of the sample.")
