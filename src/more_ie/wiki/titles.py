"""MediaWiki title and file-name normalization, and Commons upload URLs.

Follows MediaWiki's `$wgCapitalLinks` (case `first-letter`): the first character is upper-cased,
underscores and spaces are one and the same, and the `#fragment` is not part of the target.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, unquote

from more_ie.wiki.settings import DEFAULT_UPLOAD_BASE

_WHITESPACE = re.compile(r"[\s_]+")
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "gif", "svg", "tif", "tiff", "webp"})
FILE_NAMESPACES = ("file", "image")


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def normalize_title(raw: str) -> str:
    """``"new york city#History"`` -> ``"New_York_City"``; ``""`` for an empty or fragment-only link."""
    text = unquote(raw.replace("&nbsp;", " ")) if "%" in raw or "&nbsp;" in raw else raw
    text = text.split("#", 1)[0]
    text = _WHITESPACE.sub(" ", text).strip()
    if text.startswith(":"):  # [[:Category:X]] links to the page rather than categorising
        text = text[1:].strip()
    return _first_upper(text).replace(" ", "_")


def display_title(normalized: str) -> str:
    return normalized.replace("_", " ")


def normalize_filename(raw: str) -> str:
    """A file name as MediaWiki stores it: no namespace prefix, first letter upper, spaces to underscores.

    Path separators are not part of any valid MediaWiki title; they are replaced so that a name never
    escapes the folder it is saved in.
    """
    text = raw.strip()
    prefix, sep, rest = text.partition(":")
    if sep and prefix.strip().lower() in FILE_NAMESPACES:
        text = rest
    text = unquote(text) if "%" in text else text
    text = _WHITESPACE.sub(" ", text).strip()
    text = text.replace("/", "-").replace("\\", "-")
    while text.startswith("."):
        text = text[1:]
    return _first_upper(text.strip()).replace(" ", "_")


def file_extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def is_image_file(name: str) -> bool:
    return file_extension(name) in IMAGE_EXTENSIONS


def upload_url(filename: str, thumb_width: int | None = None, base: str = DEFAULT_UPLOAD_BASE) -> str:
    """The upload URL of a normalized file name, by MediaWiki's md5 hashed-directory scheme.

    ``thumb_width`` gives the thumbnail URL instead; SVG, TIFF and WebP thumbnails are rendered
    to PNG/JPEG by MediaWiki, so their thumbnail names carry the rendered extension.
    """
    digest = hashlib.md5(filename.encode("utf-8")).hexdigest()
    quoted = quote(filename)
    base = base.rstrip("/")
    if thumb_width is None:
        return f"{base}/{digest[0]}/{digest[:2]}/{quoted}"
    ext = file_extension(filename)
    thumb_name = f"{thumb_width}px-{quoted}"
    if ext == "svg":
        thumb_name += ".png"
    elif ext in ("tif", "tiff"):
        thumb_name = f"lossy-page1-{thumb_width}px-{quoted}.jpg"
    return f"{base}/thumb/{digest[0]}/{digest[:2]}/{quoted}/{thumb_name}"
