"""The one image decoder of the pipeline: image retrieval, gate features and the image check.

``check-images`` calls :func:`decode_error` so a file it calls usable is one retrieval can decode:
both open the file with PIL, ask for a reduced-scale JPEG decode (``draft``) and convert to RGB,
which decodes every pixel (``Image.verify`` alone misses truncated image data).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

# What a broken, truncated, mislabelled or oversized file raises while being decoded.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    UnidentifiedImageError,
    ValueError,
    Image.DecompressionBombError,
    SyntaxError,
)


def open_rgb(path: str | Path, size: int | None = None) -> Image.Image:
    """Decode ``path`` to an RGB image (JPEGs at a scale still covering ``size`` px); raises DECODE_ERRORS."""
    with Image.open(path) as image:
        if size:
            # JPEG: DCT-scaled decode; a 1200px photo decodes ~4-8x faster, the later resize is the same.
            image.draft("RGB", (size, size))
        rgb = image.convert("RGB")
        rgb.load()
        return rgb


def decode_error(path: str | Path, size: int | None = 224) -> str | None:
    """``None`` when ``path`` decodes, else the decoder's error message."""
    try:
        open_rgb(path, size)
    except DECODE_ERRORS as err:
        return f"{type(err).__name__}: {err}"
    return None
