"""``python -m more_ie`` commands of ``more_ie.download``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging

from more_ie.utils.cli_types import Command, optional_path

logger = logging.getLogger("more_ie")


def run_download(args: argparse.Namespace) -> None:
    from more_ie.download import download_file

    download_file(args.url, args.out, sha256=args.sha256)


def add_download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--sha256", type=optional_path, default=None)


def _optional_rate(value: str) -> float | None:
    if value.lower() in ("none", "null", "", "0"):
        return None
    rate = float(value)
    if rate <= 0:
        raise argparse.ArgumentTypeError(f"requests per second must be positive or none, got {value}")
    return rate


def run_download_images(args: argparse.Namespace) -> None:
    from more_ie.download import DownloadSettings, download_images

    settings = DownloadSettings(
        max_in_flight=args.max_in_flight,
        max_retry_after=args.max_retry_after,
        requests_per_second=args.requests_per_second,
    )
    download_images(
        args.image_kc, args.images_dir, args.manifest, settings, shard=args.shard, shards=args.shards
    )


def add_download_images_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image-kc", required=True)
    parser.add_argument("--images-dir", required=True, help="folder shared by all shards (kept across runs)")
    parser.add_argument("--shard", type=int, default=0, help="0-based shard of the image KC's files")
    parser.add_argument("--shards", type=int, default=1, help="number of download jobs")
    parser.add_argument("--manifest", required=True, help="this shard's per-file outcome table (Parquet)")
    parser.add_argument("--max-in-flight", type=int, default=8, help="cap on concurrent requests")
    parser.add_argument(
        "--requests-per-second",
        type=_optional_rate,
        default=None,
        help="this job's budget per host ('none': no budget; Retry-After is always followed)",
    )
    parser.add_argument(
        "--max-retry-after", type=float, default=120.0, help="cap on a server's Retry-After (s)"
    )


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
