"""``python -m more_ie`` commands of ``more_ie.demo``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from more_ie.demo.settings import DemoScale, DemoSeed
from more_ie.utils.cli_types import Command
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args

logger = logging.getLogger("more_ie")


def run_demo_world(args: argparse.Namespace) -> None:
    from more_ie.demo import generate_demo_world

    scale = settings_from_args(DemoScale, args)
    seed = settings_from_args(DemoSeed, args).seed
    manifest = generate_demo_world(Path(args.out), seed=seed, scale=scale)
    logger.info("demo world (MADE-UP data) written to %s: %s", args.out, manifest["wiki"])


def add_demo_world_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    add_dataclass_arguments(parser, DemoSeed)
    add_dataclass_arguments(parser, DemoScale)


COMMANDS = [
    Command(
        "demo-world",
        "Write the deterministic offline demo world (made-up data).",
        add_demo_world_arguments,
        run_demo_world,
    ),
]
