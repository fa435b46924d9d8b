"""Procedural pictures: a distinct colourful layout per entity, and perturbed copies for the posts.

An entity's picture is a few large shapes in random colours, so that even a randomly initialised
CLIP tower (the demo has no weights) maps a cropped, recoloured, noisy copy of it closer to it
than to any other entity's picture. All randomness comes from seeded ``random.Random``
instances and the encoders are deterministic: the bytes repeat.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageEnhance


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))


def draw_picture(seed: str, size: int) -> Image.Image:
    rng = random.Random(f"picture:{seed}")
    img = Image.new("RGB", (size, size), _colour(rng))
    draw = ImageDraw.Draw(img)
    for _ in range(3):  # few large shapes: small ones drown in the crop and the noise
        x, y = rng.uniform(-0.2, 0.8) * size, rng.uniform(-0.2, 0.8) * size
        w, h = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x, y, x + w, y + h], fill=_colour(rng))
    return img


def perturb(img: Image.Image, rng: random.Random) -> Image.Image:
    """A "photo of the same thing": cropped and shifted, recoloured, with sensor noise.

    Mild on purpose: with the random tiny CLIP and 400 entities, hit@1 of a perturbed copy is 0.96
    at these ranges and 0.69 with twice the crop and noise and +-12 % colour (measured).
    """
    w, h = img.size
    frac = rng.uniform(0.95, 0.99)
    cw, ch = int(w * frac), int(h * frac)
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = img.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BILINEAR)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Color):
        out = enhancer(out).enhance(rng.uniform(0.95, 1.05))
    # Noise from rng.randbytes, not Image.effect_noise (whose C rand() we cannot seed).
    noise = Image.frombytes("RGB", out.size, rng.randbytes(w * h * 3))
    return Image.blend(out, noise, rng.uniform(0.02, 0.05))


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()
