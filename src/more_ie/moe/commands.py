"""``python -m more_ie`` commands of ``more_ie.moe``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Sequence

from more_ie.moe.settings import GateFeatureSettings, MoeConfig
from more_ie.search.settings import ClipSettings
from more_ie.utils.cli_types import Command, optional_path
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args

logger = logging.getLogger("more_ie")


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    try:
        return dict(item.split("=", 1) for item in items)
    except ValueError as err:
        raise ValueError(f"{what}: expected NAME=VALUE items, got {list(items)}") from err


def run_gate_features(args: argparse.Namespace) -> None:
    from more_ie.moe.features import compute_gate_features

    compute_gate_features(
        args.split,
        args.images_dir,
        args.out,
        settings_from_args(ClipSettings, args),
        settings_from_args(GateFeatureSettings, args),
    )


def add_gate_features_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", required=True)
    parser.add_argument("--images-dir", type=optional_path, default=None)
    parser.add_argument("--out", required=True)
    add_dataclass_arguments(parser, GateFeatureSettings)
    add_dataclass_arguments(parser, ClipSettings)


def run_moe(args: argparse.Namespace) -> None:
    from more_ie.moe import run_moe

    experts = {name: Path(folder) for name, folder in _pairs(args.expert, "--expert").items()}
    # one NAME=A,B item per pair: a variant repeats its name once per seed, in seed order
    variants: dict[str, list[tuple[str, str]]] = {}
    for item in args.variant:
        name, _, pair = item.partition("=")
        experts_of_pair = tuple(pair.split(","))
        if not name or len(experts_of_pair) != 2 or not set(experts_of_pair) <= set(experts):
            raise ValueError(
                f"--variant {item!r}: expected NAME=A,B with A and B among the --expert names {sorted(experts)}"
            )
        variants.setdefault(name, []).append(experts_of_pair)  # type: ignore[arg-type]
    cfg = settings_from_args(MoeConfig, args)
    run_moe(
        args.task,
        experts,
        variants,
        {"dev": Path(args.dev), "test": Path(args.test)},
        {"dev": Path(args.dev_features), "test": Path(args.test_features)},
        Path(args.out),
        cfg,
        args.config_hash,
        args.dataset,
        gates_dir=Path(args.gates_dir) if args.gates_dir else None,
        imported_views=json.loads(args.imported_views),
    )


def add_moe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, choices=["ner", "re"])
    parser.add_argument("--dataset", required=True)
    parser.add_argument(
        "--expert",
        nargs="+",
        required=True,
        metavar="NAME=DIR",
        help="e.g. text-s1=results/x/experts/text-s1",
    )
    parser.add_argument(
        "--variant",
        nargs="+",
        required=True,
        metavar="NAME=A,B",
        help="one item per pair, e.g. text+image=text-s1,image-s1 text+image=text-s2,image-s2",
    )
    parser.add_argument("--dev", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--dev-features", required=True)
    parser.add_argument("--test-features", required=True)
    add_dataclass_arguments(parser, MoeConfig)
    parser.add_argument("--config-hash", default="unknown", help="hash of the config this result depends on")
    parser.add_argument(
        "--imported-views",
        default="{}",
        help="JSON: where each imported view came from (format, source, files), recorded in moe_f1.json",
    )
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--gates-dir", default=None, help="save each fitted gate under GATES_DIR/VARIANT/pairI/"
    )


def run_summary(args: argparse.Namespace) -> None:
    from more_ie.moe.summary import write_summary

    write_summary(args.results, args.csv, args.md, args.html, args.plots_dir)


def add_summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", required=True)
    parser.add_argument("--md", required=True)
    parser.add_argument("--html", required=True)
    parser.add_argument("--plots-dir", required=True)
    parser.add_argument("results", nargs="+", help="moe_f1.json files")


COMMANDS = [
    Command(
        "gate-features",
        "Text and image features of each sample (MoE gate input).",
        add_gate_features_arguments,
        run_gate_features,
    ),
    Command("moe", "Train the gate over frozen experts; write moe_f1.json.", add_moe_arguments, run_moe),
    Command(
        "summary",
        "The paper's Tables 2-6 across datasets, and the report's plots.",
        add_summary_arguments,
        run_summary,
    ),
]
