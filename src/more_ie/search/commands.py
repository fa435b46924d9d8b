"""``python -m more_ie`` commands of ``more_ie.search``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging

from more_ie.search.settings import (
    Bm25Settings,
    ClipSettings,
    FaissIndexSettings,
    ImageSearchSettings,
    RandomRetrievalSettings,
)
from more_ie.utils.cli_types import Command, optional_path
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args

logger = logging.getLogger("more_ie")


def run_bm25_index(args: argparse.Namespace) -> None:
    from more_ie.search.bm25 import build_index

    build_index(args.kc_shards, args.out, threads=args.threads)


def add_bm25_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="index folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("kc_shards", nargs="+", help="text-KC shard files")


def run_bm25_merge(args: argparse.Namespace) -> None:
    from more_ie.search.bm25 import merge_indexes

    merge_indexes(args.indexes, args.out)


def add_bm25_merge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True)
    parser.add_argument("indexes", nargs="+")


def run_retrieve_text(args: argparse.Namespace) -> None:
    from more_ie.search.bm25 import retrieve_text

    retrieve_text(args.split, args.index, args.kc_dir, args.out, settings_from_args(Bm25Settings, args))


def add_retrieve_text_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", required=True, help="normalized split (Parquet)")
    parser.add_argument("--index", required=True)
    parser.add_argument("--kc-dir", required=True, help="folder of the text-KC shards")
    parser.add_argument("--out", required=True)
    add_dataclass_arguments(parser, Bm25Settings)


def run_retrieve_random(args: argparse.Namespace) -> None:
    from more_ie.search.random_kc import retrieve_random

    retrieve_random(
        args.split, args.kc, args.out, args.view, settings_from_args(RandomRetrievalSettings, args)
    )


def add_retrieve_random_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", required=True)
    parser.add_argument("--view", required=True, choices=["random_text", "random_image"])
    parser.add_argument("--out", required=True)
    add_dataclass_arguments(parser, RandomRetrievalSettings)
    parser.add_argument("kc", nargs="+", help="text-KC shards (random_text) or the image KC (random_image)")


def run_clip_encode_kc(args: argparse.Namespace) -> None:
    from more_ie.search.image_index import encode_kc_images

    encode_kc_images(
        args.image_kc,
        args.shard,
        args.shards,
        args.emb_out,
        args.ids_out,
        settings_from_args(ClipSettings, args),
    )


def add_clip_encode_kc_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image-kc", required=True, help="image KC with local_path (from download-images)")
    parser.add_argument("--shard", type=int, required=True)
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--emb-out", required=True)
    parser.add_argument("--ids-out", required=True)
    add_dataclass_arguments(parser, ClipSettings)


def run_image_index(args: argparse.Namespace) -> None:
    from more_ie.search.image_index import build_image_index

    if len(args.emb) != len(args.ids):
        raise ValueError(f"image-index: {len(args.emb)} --emb shards but {len(args.ids)} --ids shards")
    faiss_settings = settings_from_args(FaissIndexSettings, args)
    build_image_index(
        args.emb, args.ids, faiss_settings.faiss_factory, args.out, args.ids_out, faiss_settings.faiss_device
    )


def add_image_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True)
    parser.add_argument("--ids-out", required=True)
    parser.add_argument(
        "--emb", nargs="+", required=True, help="the CLIP embedding shards (.npy), in shard order"
    )
    parser.add_argument("--ids", nargs="+", required=True, help="their ids Parquet shards, in the same order")
    add_dataclass_arguments(parser, FaissIndexSettings)


def run_retrieve_image(args: argparse.Namespace) -> None:
    from more_ie.search.image_index import retrieve_images

    retrieve_images(
        args.split,
        args.images_dir,
        args.index,
        args.ids,
        args.image_kc,
        args.out,
        settings_from_args(ClipSettings, args),
        settings_from_args(ImageSearchSettings, args),
    )


def add_retrieve_image_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", required=True)
    parser.add_argument("--images-dir", type=optional_path, default=None)
    parser.add_argument("--index", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--image-kc", required=True)
    parser.add_argument("--out", required=True)
    add_dataclass_arguments(parser, ImageSearchSettings)
    add_dataclass_arguments(parser, ClipSettings)


COMMANDS = [
    Command(
        "bm25-index",
        "Build a Lucene BM25 index over text-KC sentence keys.",
        add_bm25_index_arguments,
        run_bm25_index,
    ),
    Command(
        "bm25-merge",
        "Merge shard indexes into one (exact global BM25 statistics).",
        add_bm25_merge_arguments,
        run_bm25_merge,
    ),
    Command(
        "retrieve-text",
        "Top-k BM25 retrieval for one dataset split.",
        add_retrieve_text_arguments,
        run_retrieve_text,
    ),
    Command(
        "retrieve-random",
        "Random KC rows per sample (Table 5 ablation).",
        add_retrieve_random_arguments,
        run_retrieve_random,
    ),
    Command(
        "clip-encode-kc",
        "CLIP-encode one shard of the image KC.",
        add_clip_encode_kc_arguments,
        run_clip_encode_kc,
    ),
    Command(
        "image-index",
        "Build the Faiss inner-product index over CLIP shards.",
        add_image_index_arguments,
        run_image_index,
    ),
    Command(
        "retrieve-image",
        "Top-k image-KC rows for each dataset image.",
        add_retrieve_image_arguments,
        run_retrieve_image,
    ),
]
