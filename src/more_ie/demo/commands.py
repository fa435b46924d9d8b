"""``python -m more_ie`` commands of ``more_ie.demo``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from more_ie.utils.cli_types import Command

logger = logging.getLogger("more_ie")


def run_demo_world(args: argparse.Namespace) -> None:
    from more_ie.demo import DemoScale, generate_demo_world

    scale = DemoScale(
        per_type=args.per_type,
        pages_per_stream=args.pages_per_stream,
        image_size=args.image_size,
        ner_sizes=tuple(args.ner_sizes),
        re_sizes=tuple(args.re_sizes),
    )
    manifest = generate_demo_world(Path(args.out), seed=args.seed, scale=scale)
    logger.info("demo world (MADE-UP data) written to %s: %s", args.out, manifest["wiki"])


def add_demo_world_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--pages-per-stream", type=int, default=10, help="pages per bz2 stream of the dump")
    parser.add_argument("--per-type", type=int, default=24, help="entities of each type (PER/LOC/ORG/MISC)")
    parser.add_argument("--image-size", type=int, default=32, help="side of generated images (px)")
    parser.add_argument(
        "--ner-sizes", type=int, nargs=3, default=[160, 80, 80], help="MNER train/valid/test posts"
    )
    parser.add_argument(
        "--re-sizes", type=int, nargs=3, default=[160, 80, 80], help="MNRE train/val/test lines"
    )


COMMANDS = [
    Command(
        "demo-world",
        "Write the deterministic offline demo world (made-up data).",
        add_demo_world_arguments,
        run_demo_world,
    ),
]
