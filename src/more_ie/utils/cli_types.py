"""Small pieces the subpackages' command modules share: the command record, value parsers, CLIP flags."""

from __future__ import annotations

import argparse
from typing import Callable, NamedTuple


class Command(NamedTuple):
    """One ``python -m more_ie`` command: its name, help, flags and handler."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], None]


def optional_int(value: str) -> int | None:
    return None if value.lower() in ("none", "null", "") else int(value)


def optional_path(value: str) -> str | None:
    return None if value.lower() in ("none", "null", "") else value


def add_clip_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of the commands that run CLIP (retrieval and gate features share one CLIP)."""
    parser.add_argument("--clip-arch", default="ViT-B-32")
    parser.add_argument(
        "--clip-pretrained",
        type=optional_path,
        default="openai",
        help="pretrained tag, checkpoint path, or 'none' (seeded random weights: demo only)",
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="image decoding processes")


def clip_spec(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from more_ie.search.clip import ClipSpec

    return ClipSpec(arch=args.clip_arch, pretrained=args.clip_pretrained, device=args.device)
