"""``python -m more_ie`` commands of ``more_ie.wiki``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging

from more_ie.utils.cli_types import Command, optional_int, optional_path

logger = logging.getLogger("more_ie")


def run_corpus_shard(args: argparse.Namespace) -> None:
    if args.kind == "dump":
        from more_ie.wiki import ShardOptions, build_dump_shard

        build_dump_shard(
            args.source,
            args.index,
            args.shard,
            args.shards,
            args.out,
            ShardOptions(max_page_chars=args.max_page_chars),
        )
    else:
        from more_ie.wiki import DocFields, build_docs_shard

        fields = DocFields(title=args.title_field, text=args.text_field, images=args.images_field)
        build_docs_shard(args.source, args.shard, args.shards, args.out, fields)


def add_corpus_shard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=["dump", "docs"], default="dump")
    parser.add_argument(
        "--source", required=True, help="dump (.xml, .xml.bz2, multistream .bz2) or document file"
    )
    parser.add_argument(
        "--index", type=optional_path, default=None, help="multistream index (.txt or .txt.bz2)"
    )
    parser.add_argument("--shard", type=int, required=True, help="0-based shard number")
    parser.add_argument("--shards", type=int, required=True, help="number of shards")
    parser.add_argument("--out", required=True, help="output Parquet file")
    parser.add_argument("--max-page-chars", type=int, default=5_000_000, help="skip (and count) larger pages")
    parser.add_argument("--title-field", default="title", help="docs: title field")
    parser.add_argument("--text-field", default="text", help="docs: text field")
    parser.add_argument("--images-field", default="images", help="docs: image list field")


def run_redirects(args: argparse.Namespace) -> None:
    from more_ie.wiki import build_redirects

    build_redirects(args.shard_files, args.out)


def add_redirects_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True)
    parser.add_argument("shard_files", nargs="+")


def run_text_kc(args: argparse.Namespace) -> None:
    from more_ie.wiki import KcOptions, build_text_kc

    options = KcOptions(
        include_disambiguation=args.include_disambiguation, min_sentence_chars=args.min_sentence_chars
    )
    build_text_kc(args.shard_file, args.redirects, args.shard, args.out, options)


def add_text_kc_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shard-file", required=True)
    parser.add_argument("--redirects", required=True)
    parser.add_argument("--shard", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--include-disambiguation", action="store_true")
    parser.add_argument("--min-sentence-chars", type=int, default=10)


def run_image_kc(args: argparse.Namespace) -> None:
    from more_ie.wiki import ImageKcOptions, build_image_kc

    options = ImageKcOptions(
        include_disambiguation=args.include_disambiguation,
        upload_base=args.upload_base,
        thumb_width=args.thumb_width,
    )
    build_image_kc(args.shard_files, args.redirects, args.out, options)


def add_image_kc_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redirects", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--include-disambiguation", action="store_true")
    parser.add_argument("--upload-base", default="https://upload.wikimedia.org/wikipedia/commons")
    parser.add_argument(
        "--thumb-width", type=optional_int, default=320, help="thumbnail width, or 'none' for originals"
    )
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
