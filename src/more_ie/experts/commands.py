"""``python -m more_ie`` commands of ``more_ie.experts``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

from more_ie.experts.settings import TrainConfig
from more_ie.utils.cli_types import Command, optional_path
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args

logger = logging.getLogger("more_ie")


def run_train_expert(args: argparse.Namespace) -> None:
    import torch

    from more_ie.experts.train import ExpertTrainer

    torch.set_num_threads(args.threads)  # the rule's `threads`: no oversubscription beside other jobs
    # the rules pass the validated experts block as one JSON string (--settings) and the seed as --seed
    config = settings_from_args(TrainConfig, args)
    if (args.holdout_fold is None) != (args.folds is None):
        raise SystemExit("train-expert: --holdout-fold and --folds go together")
    if args.holdout_fold is None and not args.test:
        raise SystemExit("train-expert: --test is required (unless --holdout-fold)")
    splits = {"train": Path(args.train), "dev": Path(args.dev)}
    if args.test:
        splits["test"] = Path(args.test)
    retrieval = {
        name: (Path(p) if p else None)
        for name, p in (
            ("train", args.train_retrieval),
            ("dev", args.dev_retrieval),
            ("test", args.test_retrieval),
        )
    }
    trainer = ExpertTrainer(args.task, args.view, config)
    if args.holdout_fold is not None:
        trainer.run_heldout_fold(splits, retrieval, Path(args.out_dir), args.holdout_fold, args.folds)
    else:
        trainer.run(splits, retrieval, Path(args.out_dir))


def view_name(text: str) -> str:
    """A view's name: lower-case letters, digits and '_' (it names folders and caches)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", text):
        raise argparse.ArgumentTypeError(f"not a view name: {text!r}")
    return text


def add_train_expert_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, choices=["ner", "re"])
    parser.add_argument(
        "--view",
        required=True,
        type=view_name,
        help="none (no retrieval: no cross-view alignment), a built-in retrieval view or an imported one",
    )
    for split in ("train", "dev", "test"):
        parser.add_argument(
            f"--{split}",
            required=split != "test",
            help=f"normalized {split} split"
            + (" (required unless --holdout-fold)" if split == "test" else ""),
        )
        parser.add_argument(
            f"--{split}-retrieval", type=optional_path, default=None, help=f"{split} retrieval cache"
        )
    parser.add_argument(
        "--out-dir", required=True, help="gets model/, metrics.json, {dev,test}.marginals.parquet"
    )
    # Not config settings: the student's cross-fitted teacher (student.smk) picks them per job.
    parser.add_argument(
        "--holdout-fold",
        type=int,
        default=None,
        help="train without this fold of train (0-based) and export the context view's distributions "
        "on it (heldout.train.parquet) instead of the model and dev/test marginals",
    )
    parser.add_argument("--folds", type=int, default=None, help="the number of folds (with --holdout-fold)")
    add_dataclass_arguments(parser, TrainConfig)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")


COMMANDS = [
    Command(
        "train-expert",
        "Train one expert (dataset x view x seed) and export marginals.",
        add_train_expert_arguments,
        run_train_expert,
    ),
]
