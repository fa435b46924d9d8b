"""``python -m more_ie`` commands of ``more_ie.student``: the teacher table, one student, the summary.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Sequence

from more_ie.experts.settings import TrainConfig
from more_ie.student.settings import StudentSettings
from more_ie.utils.cli_types import Command
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args

logger = logging.getLogger("more_ie")


def _named(items: Sequence[str], what: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{what}: expected NAME=PATH, got {item!r}")
        out[name] = Path(path)
    return out


def run_student_teacher(args: argparse.Namespace) -> None:
    import torch

    from more_ie.student.teacher import build_teacher

    torch.set_num_threads(args.threads)
    config = settings_from_args(TrainConfig, args)  # eval_batch_size and device
    experts = _named(args.expert, "--expert")
    if len(experts) != 2:
        raise ValueError(f"--expert: a pair is two experts, got {list(experts)}")
    heldout: dict[str, list[Path]] = {}
    for item in args.heldout or []:  # NAME=PATH, once per fold
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--heldout: expected NAME=PATH, got {item!r}")
        heldout.setdefault(name, []).append(Path(path))
    build_teacher(
        args.task,
        args.variant,
        args.pair,
        experts,
        _named(args.retrieval or [], "--retrieval"),
        Path(args.train),
        Path(args.gate_dir),
        Path(args.features),
        Path(args.out),
        batch_size=config.eval_batch_size,
        device=config.device,
        heldout=heldout or None,
    )


def add_student_teacher_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, choices=["ner", "re"])
    parser.add_argument("--variant", required=True, help="the teaching MoE variant, e.g. text+image")
    parser.add_argument("--pair", type=int, required=True, help="the variant's pair index (its gate's pairI)")
    parser.add_argument(
        "--expert",
        nargs=2,
        required=True,
        metavar="NAME=DIR",
        help="the pair's two experts in the gate's order, e.g. text-s1=results/x/experts/text-s1",
    )
    parser.add_argument(
        "--retrieval",
        nargs="*",
        metavar="VIEW=PARQUET",
        help="the train retrieval cache of each retrieval view of the pair (none for the none view)",
    )
    parser.add_argument(
        "--heldout",
        nargs="*",
        metavar="NAME=PARQUET",
        help="cross-fitting: each expert's held-out fold exports (heldout.train.parquet), one item per "
        "fold; given, the experts are not run on train (the teacher is out of sample)",
    )
    parser.add_argument("--train", required=True, help="the normalized train split")
    parser.add_argument(
        "--gate-dir", required=True, help="the fitted gate, e.g. results/x/moe/gates/text+image/pair0"
    )
    parser.add_argument("--features", required=True, help="the train split's gate features")
    parser.add_argument("--out", required=True, help="the teacher table (Parquet)")
    add_dataclass_arguments(parser, TrainConfig)  # only eval_batch_size and device are read
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")


def run_train_student(args: argparse.Namespace) -> None:
    import torch

    from more_ie.student.train import train_student

    torch.set_num_threads(args.threads)
    config = settings_from_args(TrainConfig, args)
    kd = settings_from_args(StudentSettings, args, variant=args.variant, encoder=config.encoder)
    splits = {"train": Path(args.train), "dev": Path(args.dev), "test": Path(args.test)}
    train_student(
        args.task, splits, Path(args.teacher), Path(args.out_dir), config, kd, {"variant": args.variant}
    )


def add_train_student_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, choices=["ner", "re"])
    parser.add_argument("--variant", required=True, help="the teaching MoE variant (recorded)")
    for split in ("train", "dev", "test"):
        parser.add_argument(f"--{split}", required=True, help=f"normalized {split} split")
    parser.add_argument("--teacher", required=True, help="the teacher table (student-teacher's output)")
    parser.add_argument(
        "--out-dir", required=True, help="gets model/, metrics.json, {dev,test}.marginals.parquet"
    )
    add_dataclass_arguments(parser, TrainConfig)
    # the variant is --variant; the encoder is TrainConfig's (the rule resolves student.encoder)
    # the teacher's fit is the teacher job's (its table records it)
    add_dataclass_arguments(
        parser, StudentSettings, skip=("variant", "encoder", "teacher_fit", "teacher_folds")
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")


def run_student_summary(args: argparse.Namespace) -> None:
    from more_ie.student.summary import summarize_students

    summarize_students(
        args.variant,
        [Path(p) for p in args.metrics],
        Path(args.moe_result) if args.moe_result else None,
        Path(args.out),
    )


def add_student_summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", required=True)
    parser.add_argument("--moe-result", default=None, help="the dataset's moe_f1.json (for the gap)")
    parser.add_argument("--out", required=True)
    parser.add_argument("metrics", nargs="+", help="the students' metrics.json files")


COMMANDS = [
    Command(
        "student-teacher",
        "The MoE variant's mixture on train (in-sample or cross-fitted), as a student's teacher.",
        add_student_teacher_arguments,
        run_student_teacher,
    ),
    Command(
        "train-student",
        "Distil a MoE variant into a retrieval-free (sentence-alone) student.",
        add_train_student_arguments,
        run_train_student,
    ),
    Command(
        "student-summary",
        "Students over seeds beside the MoE they learned from.",
        add_student_summary_arguments,
        run_student_summary,
    ),
]
