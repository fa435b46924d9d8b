"""An expert's settings (a light module: the CLI builds its flags from it without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from more_ie.utils.precision import PRECISION_HELP, PRECISIONS
from more_ie.utils.settings import setting


@dataclass
class TrainConfig:
    """An expert's settings: the single source of their defaults (the schema test checks it).

    The recipe defaults are the MoRe authors' released configs (AdaSeq ``examples/MoRe/configs``)
    where the paper is silent; config.yaml names the source of each value.
    """

    encoder: str = setting("xlm-roberta-large", "Hugging Face model name, local folder or model package.")
    max_subtokens: int = setting(
        512, "Subtoken limit of the encoder input (sentence + [X] + retrieved texts)."
    )
    lr: float = setting(5e-6, "Learning rate of the encoder and of the emission / RE layer (the authors').")
    crf_lr: float = setting(1e-2, "Learning rate of the CRF transitions (the authors' `regex: crf` group).")
    head_lr: Optional[float] = setting(
        None,
        "Own learning rate for the emission / RE layer; null = lr, as the authors. For small encoders "
        "and short runs.",
    )
    batch_size: int = setting(4, "Sentences per optimizer step before accumulation.")
    grad_accum: int = setting(1, "Gradient accumulation steps.")
    grad_clip: Optional[float] = setting(
        None, "Clip the gradient norm to this value before each step; null = no clipping (the authors')."
    )
    epochs: int = setting(15, "Training epochs; the learning rate decays linearly to 0 over them, per epoch.")
    dropout: float = setting(0.0, "Dropout on the encoder output before the task layer.")
    word_dropout: float = setting(
        0.0, "Probability of zeroing a whole subtoken vector (flair's WordDropout)."
    )
    cva: bool = setting(True, "Cross-view alignment for retrieval views (loss of both views + KL).")
    cva_interpolation: float = setting(
        0.5,
        "NER: lam in lam*(NLL_ctx + NLL_alone) + (1-lam)*KL (the authors' mv_interpolation). RE: unweighted.",
    )
    use_crf: bool = setting(True, "NER: a linear-chain CRF (the paper); false = a softmax tagger.")
    bio_constraints: bool = setting(False, "Forbid O -> I-X and B-X -> I-Y in the CRF (off in the paper).")
    dedup_contexts: bool = setting(
        True, "Drop a retrieved value that repeats an earlier one (rank order kept)."
    )
    context_anchors: str = setting(
        "tagged",
        "Anchors in retrieved values: tagged (<e: Title> surface </e>, the paper) or surface.",
        choices=["tagged", "surface"],
    )
    freeze_word_embeddings: bool = setting(
        False,
        "Keep the encoder's word-embedding matrix fixed (added marker tokens included): a CPU speed "
        "option (MiniLM: a quarter of a step); off in the paper.",
    )
    max_train_samples: Optional[int] = setting(
        None, "Train on a seeded subsample of this many training samples (null = all); dev/test stay whole."
    )
    seed: int = setting(1, "Training seed.")
    device: str = setting("auto", "auto uses CUDA when present.", choices=["auto", "cpu", "cuda"])
    precision: str = setting("auto", PRECISION_HELP, choices=PRECISIONS)
    eval_batch_size: int = setting(32, "Sentences per inference batch.")
    log_every: int = setting(50, "Log training progress every this many steps.")
