"""Small pieces the subpackages' command modules share: the command record and value parsers."""

from __future__ import annotations

import argparse
from typing import Callable, NamedTuple


class Command(NamedTuple):
    """One ``python -m more_ie`` command: its name, help, flags and handler."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], None]


def optional_path(value: str) -> str | None:
    return None if value.lower() in ("none", "null", "") else value
