"""``python -m more_ie`` commands of ``more_ie.config``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging

from more_ie.utils.cli_types import Command

logger = logging.getLogger("more_ie")


def run_check_config(args: argparse.Namespace) -> None:
    from more_ie.config import load_config, missing_local_paths

    config = load_config(args.config)
    for missing in missing_local_paths(config):
        logger.warning("%s: not found (needed by the stages that read it): %s", args.config, missing)
    logger.info("%s: valid", args.config)


def add_check_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config")


COMMANDS = [
    Command(
        "check-config",
        "Validate a config file against the schema.",
        add_check_config_arguments,
        run_check_config,
    ),
]
