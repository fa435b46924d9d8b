"""``python -m more_ie <command>``: one command per pipeline stage.

The Snakemake rules call exactly these commands, so every stage also runs by hand. Each command
takes explicit paths and settings (no config lookup), writes its outputs atomically, and logs to
stderr and, with ``--log``, to a file. The commands live beside their code, one ``commands.py`` per
subpackage (``add_*_arguments(parser)`` and ``run_*(args)``, as pyserini keeps ``define_*_args``
beside its searchers); this module only registers them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from more_ie import __version__
from more_ie.config import commands as config_commands
from more_ie.contexts import commands as contexts_commands
from more_ie.datasets import commands as datasets_commands
from more_ie.demo import commands as demo_commands
from more_ie.download import commands as download_commands
from more_ie.experts import commands as experts_commands
from more_ie.moe import commands as moe_commands
from more_ie.predict import cli as predict_cli
from more_ie.search import commands as search_commands
from more_ie.student import commands as student_commands
from more_ie.utils import setup_logging
from more_ie.utils.cli_types import Command
from more_ie.utils.gpu_slot import claim_for_command, requested_devices
from more_ie.wiki import commands as wiki_commands

logger = logging.getLogger("more_ie")

COMMAND_GROUPS: tuple[Sequence[Command], ...] = (
    config_commands.COMMANDS,
    demo_commands.COMMANDS,
    download_commands.COMMANDS,
    wiki_commands.COMMANDS,
    datasets_commands.COMMANDS,
    search_commands.COMMANDS,
    contexts_commands.COMMANDS,
    experts_commands.COMMANDS,
    moe_commands.COMMANDS,
    student_commands.COMMANDS,
    (
        Command(
            "predict",
            "Apply a trained run to new posts (JSONL in, JSONL out), or write its case-study page.",
            predict_cli.add_arguments,
            predict_cli.run,
        ),
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="more-ie", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"more-ie {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        for command in group:
            p = sub.add_parser(command.name, help=command.help, description=command.help)
            p.add_argument("--log", help="also write the log to this file")
            p.add_argument(
                "-v",
                "--verbose",
                action="store_true",
                help="debug logging; the terminal also shows other libraries' INFO lines (else only in --log)",
            )
            command.add_arguments(p)
            p.set_defaults(func=command.run)
    return parser


# A command killed with kill -9 leaves its temporaries; when it runs again it removes those of its
# own outputs (only those: a concurrent job writing another output keeps its temporaries).
_OUTPUT_ARGS = ("out", "emb_out", "ids_out", "manifest", "csv", "md", "html", "gates_dir")
_OUTPUT_DIR_ARGS = ("out_dir", "plots_dir")


def _sweep_outputs(args: argparse.Namespace) -> None:
    from more_ie.utils.atomic import sweep_temporaries, sweep_temporaries_in

    for name in _OUTPUT_ARGS:
        if getattr(args, name, None):
            sweep_temporaries(getattr(args, name))
    for name in _OUTPUT_DIR_ARGS:
        if getattr(args, name, None):
            sweep_temporaries_in(getattr(args, name))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log, logging.DEBUG if args.verbose else logging.INFO)
    try:
        # one free GPU of the machine for a GPU command that the workflow runs (more_ie.utils.gpu_slot)
        claim_for_command(args.command, requested_devices(args))
        _sweep_outputs(args)
        args.func(args)
    except (ValueError, OSError, RuntimeError) as err:
        # Known failure kinds carry a message naming the file/line/key; show it without a traceback
        # unless --verbose asks for one.
        logger.error("%s failed: %s", args.command, err, exc_info=args.verbose)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
