"""Procedural pictures: one distinct look per entity, and perturbed copies of it for the tweets.

Each entity gets its own palette, a type motif (a bust for people, a skyline for places, a badge
for organisations, stars for events and works) and its initials in large type, so a CLIP-style
encoder can match a tweet's image (a cropped, rotated, colour-jittered, noisy copy) to the article
image it came from. All randomness comes from ``random.Random`` instances seeded by strings, and
the encoders used (PNG/zlib, libjpeg, GIF) are deterministic, so the bytes repeat run after run.
"""
from __future__ import annotations

import colorsys
import hashlib
import io
import random
from functools import lru_cache

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from more_ie.demo.world import LOC, ORG, PER

JPEG_QUALITY = 88


def upload_relpath(filename: str) -> str:
    """``a/ab/Name.jpg``: MediaWiki's md5 hashed-directory layout for a normalized file name."""
    digest = hashlib.md5(filename.encode("utf-8")).hexdigest()
    return f"{digest[0]}/{digest[:2]}/{filename}"


def palette(key: str) -> list[tuple[int, int, int]]:
    """Four colours around one hue chosen by ``key``: background pair, accent, glyph."""
    rng = random.Random(f"palette:{key}")
    hue = rng.random()
    out = []
    for dh, sat, val in ((0.0, 0.35, 0.95), (0.05, 0.6, 0.55), (0.5, 0.8, 0.85), (0.55, 0.9, 0.2)):
        r, g, b = colorsys.hsv_to_rgb((hue + dh + rng.uniform(-0.03, 0.03)) % 1.0, sat, val)
        out.append((int(r * 255), int(g * 255), int(b * 255)))
    return out


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # bundled FreeType font (Pillow >= 10.1)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum() and w.lower() not in ("the", "of")]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def draw_picture(key: str, etype: str, glyph: str, variant: int, size: int) -> Image.Image:
    """The picture of entity ``key``; other variants are other "views" with the same palette and motif."""
    rng = random.Random(f"picture:{key}:{variant}")
    bg_top, bg_bottom, accent, ink = palette(key)
    width, height = size, size if variant % 2 == 0 else size * 3 // 4
    img = Image.new("RGB", (width, height), bg_top)
    draw = ImageDraw.Draw(img)
    for y in range(height):  # vertical gradient
        t = y / max(1, height - 1)
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(bg_top, bg_bottom)))
    s = size / 64
    if etype == PER:  # head and shoulders
        cx = width * rng.uniform(0.35, 0.65)
        draw.ellipse([cx - 12 * s, height * 0.2, cx + 12 * s, height * 0.2 + 24 * s], fill=accent)
        draw.pieslice([cx - 26 * s, height * 0.62, cx + 26 * s, height * 1.4], 180, 360, fill=accent)
    elif etype == LOC:  # skyline
        x = 0.0
        while x < width:
            w = rng.uniform(5, 14) * s
            h = rng.uniform(0.2, 0.6) * height
            draw.rectangle([x, height - h, x + w, height], fill=accent if rng.random() < 0.7 else ink)
            x += w + rng.uniform(0, 3) * s
    elif etype == ORG:  # badge
        r0 = min(width, height) * rng.uniform(0.32, 0.42)
        cx, cy = width / 2, height / 2
        for k, colour in enumerate((accent, bg_top, accent)):
            r = r0 * (1 - 0.25 * k)
            draw.regular_polygon((cx, cy, r), n_sides=rng.choice((4, 5, 6, 8)), fill=colour)
    else:  # MISC: scattered stars / triangles
        for _ in range(5 + variant % 3):
            cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(4, 10) * s
            draw.regular_polygon((cx, cy, r), n_sides=3, rotation=rng.uniform(0, 120), fill=accent)
    for _ in range(2 + variant):  # a few loose shapes make the views differ from one another
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        draw.ellipse([x0, y0, x0 + rng.uniform(4, 12) * s, y0 + rng.uniform(4, 12) * s], outline=ink, width=1)
    font = _font(max(10, int(size * 0.42)))
    draw.text((width * 0.5, height * 0.55), glyph, fill=ink, font=font, anchor="mm")
    return img


def svg_picture(key: str, glyph: str, role: str, size: int) -> bytes:
    """A small, real SVG (a flag, a logo or a map) in the entity's palette."""
    rng = random.Random(f"svg:{key}:{role}")
    c = ["#%02x%02x%02x" % rgb for rgb in palette(key)]
    w, h = size, size * 2 // 3
    if role == "flag":
        bands = rng.choice((2, 3))
        body = "".join(f'<rect x="0" y="{i * h / bands:.1f}" width="{w}" height="{h / bands:.1f}" '
                       f'fill="{c[i % 3]}"/>' for i in range(bands))
        body += f'<circle cx="{w * 0.3:.1f}" cy="{h / 2:.1f}" r="{h * 0.18:.1f}" fill="{c[3]}"/>'
    elif role == "map":
        pts = " ".join(f"{rng.uniform(0.1, 0.9) * w:.1f},{rng.uniform(0.1, 0.9) * h:.1f}" for _ in range(7))
        body = f'<rect width="{w}" height="{h}" fill="{c[0]}"/><polygon points="{pts}" fill="{c[1]}"/>'
    else:  # logo
        body = (f'<rect width="{w}" height="{h}" rx="6" fill="{c[1]}"/>'
                f'<text x="{w / 2:.1f}" y="{h * 0.68:.1f}" font-family="sans-serif" '
                f'font-size="{h * 0.5:.0f}" '
                f'text-anchor="middle" fill="{c[0]}">{glyph}</text>')
    svg = (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
           f'width="{w}" height="{h}" viewBox="0 0 {w} {h}">\n'
           f"<title>{role} (demo data)</title>\n{body}\n</svg>\n")
    return svg.encode("utf-8")


def perturb(img: Image.Image, rng: random.Random, size: int) -> Image.Image:
    """A "photo of the same thing": crop + shift, small rotation, colour jitter, sensor noise."""
    w, h = img.size
    frac = rng.uniform(0.72, 0.92)
    cw, ch = int(w * frac), int(h * frac)
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = img.crop((x0, y0, x0 + cw, y0 + ch)).resize((size, size * h // w), Image.BILINEAR)
    out = out.rotate(rng.uniform(-8, 8), resample=Image.BILINEAR, fillcolor=out.getpixel((0, 0)))
    if rng.random() < 0.3:
        out = ImageOps.mirror(out)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        out = enhancer(out).enhance(rng.uniform(0.8, 1.2))
    # Noise from rng.randbytes (not Image.effect_noise, whose C rand() is not seeded by us).
    noise = Image.frombytes("RGB", out.size, rng.randbytes(out.size[0] * out.size[1] * 3))
    return Image.blend(out, noise, rng.uniform(0.04, 0.12))


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=False)
    elif fmt == "GIF":
        img.convert("P", palette=Image.ADAPTIVE, colors=64).save(buf, "GIF")
    else:
        img.save(buf, "PNG", optimize=False)
    return buf.getvalue()
