"""``python -m more_ie`` commands of ``more_ie.contexts``: import a context file, and its random ablation."""

from __future__ import annotations

import argparse

from more_ie.contexts.settings import ImportSettings, RandomContextSettings
from more_ie.utils.cli_types import Command
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args


def run_import_contexts(args: argparse.Namespace) -> None:
    from more_ie.contexts.importer import import_contexts

    import_contexts(args.split, args.file, args.out, args.view, settings_from_args(ImportSettings, args))


def add_import_contexts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", required=True, help="normalized split (Parquet)")
    parser.add_argument("--file", required=True, help="the imported file for this split")
    parser.add_argument("--view", required=True, help="the view's name (recorded in the cache)")
    parser.add_argument("--out", required=True, help="retrieval cache (Parquet)")
    add_dataclass_arguments(parser, ImportSettings)


def run_randomize_contexts(args: argparse.Namespace) -> None:
    from more_ie.contexts.importer import randomize_contexts

    randomize_contexts(args.cache, args.out, args.view, settings_from_args(RandomContextSettings, args))


def add_randomize_contexts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache", required=True, help="the imported view's cache of this split")
    parser.add_argument("--view", required=True, help="the ablation's name, random_<view>")
    parser.add_argument("--out", required=True)
    add_dataclass_arguments(parser, RandomContextSettings)


COMMANDS = (
    Command(
        "import-contexts",
        "An imported context file (adaseq_eos, per_image, jsonl) joined to a split -> a retrieval cache.",
        add_import_contexts_arguments,
        run_import_contexts,
    ),
    Command(
        "randomize-contexts",
        "random_<view>: each sample gets another sample's imported contexts (seeded).",
        add_randomize_contexts_arguments,
        run_randomize_contexts,
    ),
)
