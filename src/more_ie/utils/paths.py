"""Joining dataset-supplied names to a folder without ever leaving it.

Image names come from dataset files (MNRE's ``img_id``, Twitter's ``IMGID``), i.e. from data we
do not control: ``../../etc/passwd`` or ``/etc/passwd`` must never be opened. Every place that
joins such a name to ``images_dir`` goes through :func:`safe_child`, so the image check, image
retrieval and the gate features agree on which names are usable.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

logger = logging.getLogger(__name__)


def safe_child(root: str | Path, name: str) -> Path | None:
    """``root / name`` if it stays inside ``root``; ``None`` (and a log line) otherwise.

    Rejected: empty names, absolute names, names with a ``..`` component, NUL bytes, and names
    that resolve (through symbolic links) outside ``root`` or to ``root`` itself. The returned
    path is not resolved (it keeps the caller's spelling), and it need not exist.
    """
    root = Path(root)
    pure = PurePosixPath(name) if isinstance(name, str) else None
    if pure is None or not name or "\x00" in name or pure.is_absolute() or ".." in pure.parts:
        logger.warning("refusing image name %r: not a plain name inside %s", name, root)
        return None
    candidate = root / pure
    try:
        base = root.resolve()
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop, say
        logger.warning("refusing image name %r under %s: %s", name, root, err)
        return None
    if resolved == base or not resolved.is_relative_to(base):
        logger.warning("refusing image name %r: it resolves to %s, outside %s", name, resolved, root)
        return None
    return candidate


def image_file(root: str | Path | None, name: str | None) -> Path | None:
    """The existing regular file ``name`` under ``root``, or ``None`` (no folder, unsafe or absent)."""
    if root is None or not name:
        return None
    path = safe_child(root, name)
    return path if path is not None and path.is_file() else None
