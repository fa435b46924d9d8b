"""Safe, stable file names for the image KC's files, and the check that a file is an image."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from PIL import Image

logger = logging.getLogger(__name__)

# ext4 and most file systems allow 255 bytes per name; atomic_path's temporary name adds
# ".", ".XXXXXXXX.tmp" around it, so keep safe names well below that.
MAX_NAME_BYTES = 200
FALLBACK_EXT = "img"


@dataclass
class _Task:
    file: str
    url: str
    name: str  # safe name inside out_dir
    renamed: bool


def sanitize_name(file: str) -> str:
    """``file`` made into a plain name inside one folder ('' when nothing usable is left).

    Path separators become '_', so no component can be '..'; control characters go; leading dots
    and spaces go, so the name is neither '.'/'..' nor hidden (atomic_path's temporary files
    start with '.', and the resume scan must never mistake one for an image).
    """
    name = "".join("_" if ch in "/\\" else ch for ch in file if unicodedata.category(ch) != "Cc")
    name = name.lstrip(". ").rstrip(" ")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        if not dot or len(ext) > 8:
            stem, ext = name, ""
        digest = hashlib.sha1(file.encode("utf-8")).hexdigest()[:12]
        keep = MAX_NAME_BYTES - len(digest) - len(ext) - 2
        stem = stem.encode("utf-8")[:keep].decode("utf-8", "ignore")
        name = f"{stem}_{digest}" + (f".{ext}" if ext else "")
    return name


def _extension(name: str) -> str:
    ext = name.rpartition(".")[2] if "." in name else ""
    return ext.lower() if ext.isascii() and ext.isalnum() and len(ext) <= 5 else FALLBACK_EXT


def assign_names(groups: Iterable[tuple[str, str, int]]) -> list[_Task]:
    """One unique safe name per ``(file, url, first image_id)``, the same on every run.

    Names that needed no change claim theirs first, so a hostile or odd name can never take the
    place of a normal one; a colliding or empty name falls back to ``<image_id>.<ext>``, then to
    a hash of file and url.
    """
    rows = [(file, url, image_id, sanitize_name(file)) for file, url, image_id in groups]
    order = sorted(range(len(rows)), key=lambda i: (rows[i][3] != rows[i][0], rows[i][2]))
    taken: set[str] = set()
    tasks: dict[int, _Task] = {}
    for i in order:
        file, url, image_id, name = rows[i]
        renamed = name != file
        if not name or name in taken:
            renamed = True
            ext = _extension(name or file)
            name = f"{image_id}.{ext}"
            if name in taken:
                digest = hashlib.sha1(f"{file}\n{url}".encode("utf-8")).hexdigest()[:20]
                name = f"{digest}.{ext}"
            counter = 1
            base = name
            while name in taken:  # only with a hash collision: never in practice
                name = f"{counter}_{base}"
                counter += 1
        taken.add(name)
        tasks[i] = _Task(file, url, name, renamed)
    return [tasks[i] for i in range(len(rows))]


def inspect_image(path: Path) -> tuple[str | None, str | None]:
    """``(format, None)`` if ``path`` holds an image, else ``(None, reason)``."""
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):  # XML (SVG) or an HTML error page: never Pillow
        return _inspect_svg(path)
    try:
        with Image.open(path) as image:
            fmt = image.format
            image.verify()  # reads the data and checks it (CRCs for PNG) without decoding pixels
    except Image.DecompressionBombError:
        return None, "too_many_pixels"
    except Exception as err:  # noqa: BLE001 - Pillow raises many types for non-images; all mean one thing
        logger.debug("%s: not an image (%s: %s)", path.name, type(err).__name__, err)
        return None, "not_an_image"
    return fmt, None


def _inspect_svg(path: Path) -> tuple[str | None, str | None]:
    # expat >= 2.4 limits entity amplification and ElementTree never fetches external entities,
    # so a full parse of an untrusted document is safe; elements are cleared as they close.
    root: str | None = None
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):
            if event == "start" and root is None:
                root = element.tag.rpartition("}")[2]
            elif event == "end":
                element.clear()
    except ET.ParseError as err:
        logger.debug("%s: not XML (%s)", path.name, err)
        return None, "not_an_image"
    return ("SVG", None) if root == "svg" else (None, "not_an_image")
