"""``python -m more_ie`` commands of ``more_ie.download``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging

from more_ie.download.settings import DownloadSettings
from more_ie.utils.cli_types import Command, optional_path
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args

logger = logging.getLogger("more_ie")


def run_download(args: argparse.Namespace) -> None:
    from more_ie.download import download_file

    download_file(args.url, args.out, sha256=args.sha256)


def add_download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--sha256", type=optional_path, default=None)


def run_download_images(args: argparse.Namespace) -> None:
    from more_ie.download.images import download_images

    download_images(
        args.image_kc,
        args.images_dir,
        args.manifest,
        settings_from_args(DownloadSettings, args),
        shard=args.shard,
        shards=args.shards,
    )


def add_download_images_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image-kc", required=True)
    parser.add_argument("--images-dir", required=True, help="folder shared by all shards (kept across runs)")
    parser.add_argument("--shard", type=int, default=0, help="0-based shard of the image KC's files")
    parser.add_argument("--shards", type=int, default=1, help="number of download jobs")
    parser.add_argument("--manifest", required=True, help="this shard's per-file outcome table (Parquet)")
    add_dataclass_arguments(parser, DownloadSettings)


def run_merge_image_manifests(args: argparse.Namespace) -> None:
    from more_ie.download.images import merge_manifests, update_local_paths

    merge_manifests(args.manifests, args.manifest_out)
    update_local_paths(args.image_kc, args.manifest_out, args.out)


def add_merge_image_manifests_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image-kc", required=True)
    parser.add_argument("--manifest-out", required=True)
    parser.add_argument("--out", required=True, help="the image KC with local_path filled in")
    parser.add_argument("manifests", nargs="+", help="the shard manifests, one per shard")


COMMANDS = [
    Command(
        "download",
        "Download one file with resume, retries and a checksum.",
        add_download_arguments,
        run_download,
    ),
    Command(
        "download-images",
        "Fetch one shard of the image KC's files (resumable, polite per host, failures recorded).",
        add_download_images_arguments,
        run_download_images,
    ),
    Command(
        "merge-image-manifests",
        "Join the download shards' manifests; write the image KC with local paths.",
        add_merge_image_manifests_arguments,
        run_merge_image_manifests,
    ),
]
