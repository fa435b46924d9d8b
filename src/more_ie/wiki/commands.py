"""``python -m more_ie`` commands of ``more_ie.wiki``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging

from more_ie.utils.cli_types import Command, optional_path
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args
from more_ie.wiki.settings import DocFields, ImageKcOptions, KcOptions, ShardOptions, SourceKind

logger = logging.getLogger("more_ie")


def run_corpus_shard(args: argparse.Namespace) -> None:
    if settings_from_args(SourceKind, args).kind == "dump":
        from more_ie.wiki.shards import build_dump_shard

        options = settings_from_args(ShardOptions, args)
        build_dump_shard(args.source, args.index, args.shard, args.shards, args.out, options)
    else:
        from more_ie.wiki.docs import build_docs_shard

        build_docs_shard(args.source, args.shard, args.shards, args.out, settings_from_args(DocFields, args))


def add_corpus_shard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", required=True, help="dump (.xml, .xml.bz2, multistream .bz2) or document file"
    )
    parser.add_argument(
        "--index", type=optional_path, default=None, help="multistream index (.txt or .txt.bz2)"
    )
    parser.add_argument("--shard", type=int, required=True, help="0-based shard number")
    parser.add_argument("--shards", type=int, required=True, help="number of shards")
    parser.add_argument("--out", required=True, help="output Parquet file")
    add_dataclass_arguments(parser, SourceKind)
    add_dataclass_arguments(parser, ShardOptions)
    add_dataclass_arguments(parser, DocFields)


def run_redirects(args: argparse.Namespace) -> None:
    from more_ie.wiki.kc import build_redirects

    build_redirects(args.shard_files, args.out)


def add_redirects_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True)
    parser.add_argument("shard_files", nargs="+")


def run_text_kc(args: argparse.Namespace) -> None:
    from more_ie.wiki.kc import build_text_kc

    options = settings_from_args(KcOptions, args)
    build_text_kc(args.shard_file, args.redirects, args.shard, args.out, options)


def add_text_kc_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shard-file", required=True)
    parser.add_argument("--redirects", required=True)
    parser.add_argument("--shard", type=int, required=True)
    parser.add_argument("--out", required=True)
    add_dataclass_arguments(parser, KcOptions)


def run_image_kc(args: argparse.Namespace) -> None:
    from more_ie.wiki.kc import build_image_kc

    options = settings_from_args(ImageKcOptions, args)
    build_image_kc(args.shard_files, args.redirects, args.out, options)


def add_image_kc_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redirects", required=True)
    parser.add_argument("--out", required=True)
    add_dataclass_arguments(parser, ImageKcOptions)
    parser.add_argument("shard_files", nargs="+")


COMMANDS = [
    Command(
        "corpus-shard",
        "Parse one shard of a knowledge source into page rows.",
        add_corpus_shard_arguments,
        run_corpus_shard,
    ),
    Command(
        "redirects",
        "Collect the redirect map from all corpus shards.",
        add_redirects_arguments,
        run_redirects,
    ),
    Command(
        "text-kc",
        "Build one shard of the text KC (sentence -> paragraph).",
        add_text_kc_arguments,
        run_text_kc,
    ),
    Command(
        "image-kc",
        "Build the image KC (image -> title + introduction).",
        add_image_kc_arguments,
        run_image_kc,
    ),
]
