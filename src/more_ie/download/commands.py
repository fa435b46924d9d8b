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


def run_download_images(args: argparse.Namespace) -> None:
    from more_ie.download import DownloadSettings, download_images, update_local_paths

    download_images(args.image_kc, args.images_dir, args.manifest, DownloadSettings(max_in_flight=args.max_in_flight))
    update_local_paths(args.image_kc, args.manifest, args.out)


def add_download_images_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image-kc", required=True)
    parser.add_argument("--images-dir", required=True, help="folder the files are saved in (kept across runs)")
    parser.add_argument("--manifest", required=True, help="per-file outcome table (Parquet)")
    parser.add_argument("--out", required=True, help="the image KC with local_path filled in")
    parser.add_argument("--max-in-flight", type=int, default=8, help="cap on concurrent requests")


COMMANDS = [
    Command("download", "Download one file with resume, retries and a checksum.", add_download_arguments, run_download),
    Command("download-images", "Fetch the image KC's files (resumable, failures recorded).", add_download_images_arguments, run_download_images),
]
