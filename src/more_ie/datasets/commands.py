"""``python -m more_ie`` commands of ``more_ie.datasets``: for each, ``add_*_arguments(parser)`` and ``run_*(args)``.

Heavy imports stay inside the ``run_*`` functions, so building the command line stays fast.
"""

from __future__ import annotations

import argparse
import logging

from more_ie.datasets.settings import PrepareSettings
from more_ie.utils.cli_types import Command, optional_path
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args

logger = logging.getLogger("more_ie")


def run_prepare_dataset(args: argparse.Namespace) -> None:
    from more_ie.datasets import normalize_split

    settings = settings_from_args(PrepareSettings, args)
    normalize_split(args.source, args.out, args.format, settings.label_map, settings.no_relation_labels)


def add_prepare_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="the split's text file")
    parser.add_argument("--format", required=True, choices=["conll_imgid", "mnre_dict"])
    parser.add_argument("--out", required=True)
    # --label-map OLD=NEW ... and --no-relation-labels LABEL ... (or the same keys in --settings)
    add_dataclass_arguments(parser, PrepareSettings)


def run_check_images(args: argparse.Namespace) -> None:
    from more_ie.datasets import check_images
    from more_ie.utils import atomic_open

    found = check_images(args.splits, args.images_dir)
    if found.missing:
        logger.warning(
            "%d of the images named by %s are not in %s (e.g. %s); the image view has no retrieval for them",
            len(found.missing),
            ", ".join(args.splits),
            args.images_dir,
            ", ".join(found.missing[:3]),
        )
    if found.undecodable:
        logger.warning(
            "%d images in %s cannot be decoded (e.g. %s); the image view has no retrieval for them",
            len(found.undecodable),
            args.images_dir,
            "; ".join(f"{n}: {e}" for n, e in found.undecodable[:3]),
        )
    if not found.missing and not found.undecodable:
        logger.info(
            "all images named by %d samples are present and decode in %s", found.n_samples, args.images_dir
        )
    with atomic_open(args.out) as handle:
        handle.write("image\tproblem\n")  # problem: missing (absent or outside the folder) or undecodable
        handle.writelines(f"{name}\tmissing\n" for name in found.missing)
        handle.writelines(f"{name}\tundecodable\n" for name, _ in found.undecodable)


def add_check_images_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images-dir", type=optional_path, default=None)
    parser.add_argument(
        "--out", required=True, help="TSV of image names with their problem (missing, undecodable)"
    )
    parser.add_argument("splits", nargs="+", help="normalized split files")


COMMANDS = [
    Command(
        "prepare-dataset",
        "Normalize one dataset split to Parquet.",
        add_prepare_dataset_arguments,
        run_prepare_dataset,
    ),
    Command(
        "check-images",
        "List the images a dataset names that the images folder lacks or that do not decode.",
        add_check_images_arguments,
        run_check_images,
    ),
]
