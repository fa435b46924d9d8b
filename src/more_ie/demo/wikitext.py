"""Low-level wikitext pieces: links in all their shapes, infobox image values, refs, tables.

The demo dump is meant to be a parser's obstacle course, so each helper deliberately varies the
syntax it emits (piped links, fragments, redirect titles, link trails, file-name spellings) the
way real articles do. The chosen shapes are drawn from the article's own ``random.Random``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from more_ie.demo.names import slug
from more_ie.demo.world import LOC, MISC, ORG, PER, Entity, World
from more_ie.wiki.titles import normalize_filename

# Infobox ``| image =`` value spellings seen in the real enwiki sample (see shared/data/wiki/README.md).
IMAGE_VALUE_SHAPES = (
    "bare", "file_prefix", "full_link", "underscores", "trailing_param", "comment", "image_prefix",
    "lower_first",
)
# The section every article of a type has, so that ``[[target#Section|...]]`` links are valid.
FRAGMENT_SECTION = {PER: "Career", LOC: "History", ORG: "History", MISC: "History"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


@dataclass
class ImageSpec:
    """One file an article references; ``fmt`` is how its bytes are encoded, whatever its extension."""

    filename: str  # normalized (as stored on upload.wikimedia.org)
    entity: str  # the entity it depicts
    variant: int  # 0 = the entity's main picture; others are different views of the same palette
    fmt: str  # JPEG / PNG / GIF / SVG
    role: str  # primary, thumb, gallery, logo, flag, map
    missing: bool = False  # referenced but deliberately never written


@dataclass
class Page:
    title: str
    ns: int
    text: str
    redirect: str | None = None


@dataclass
class LinkStats:
    """Counts of the link shapes emitted, so tests (and the manifest) can show each one occurs."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, shape: str) -> None:
        self.counts[shape] = self.counts.get(shape, 0) + 1


class Linker:
    """Renders a wikilink to an entity in one of the shapes real editors use."""

    def __init__(self, rng: random.Random, world: World, stats: LinkStats):
        self.rng, self.world, self.stats = rng, world, stats

    def __call__(self, e: Entity, shape: str | None = None) -> str:
        if not e.has_article:  # a demonym: link the country it redirects to, or the redirect itself
            target = self.world.entities[e.redirect_to or ""]
            shape = shape or self.rng.choice(("piped", "redirect"))
            self.stats.add(f"demonym_{shape}")
            return f"[[{target.name}|{e.name}]]" if shape == "piped" else f"[[{e.name}]]"
        if shape is None:
            options = ["plain"] * 5 + ["piped", "fragment"] + (["redirect"] * 2 if e.aliases else [])
            if " " in e.name:
                options.append("underscore")
            if e.short == e.name:
                options.remove("piped")
            shape = self.rng.choice(options)
        self.stats.add(shape)
        if shape == "piped":
            return f"[[{e.name}|{e.short}]]"
        if shape == "fragment":
            # Lower-case first letter and a #fragment: both must normalize back to the title.
            target = e.name[0].lower() + e.name[1:]
            return f"[[{target}#{FRAGMENT_SECTION[e.etype]}|{e.short}]]"
        if shape == "redirect" and e.aliases:
            return f"[[{e.aliases[0]}]]"
        if shape == "underscore":
            return f"[[{e.name.replace(' ', '_')}|{e.name}]]"
        return f"[[{e.name}]]"

    def trail(self, e: Entity) -> str:
        """A possessive link trail, ``[[Brimholt]]'s``; MediaWiki shows it as one link + "'s"."""
        self.stats.add("trail")
        return f"[[{e.name}]]'s"

    def many(self, ents: list[Entity]) -> str:
        links = [self(e) for e in ents]
        if len(links) <= 1:
            return "".join(links)
        return ", ".join(links[:-1]) + " and " + links[-1]


def image_value(display: str, shape: str, alt: str) -> str:
    """The ``| image =`` value for a file whose (display) name is ``display``."""
    if shape == "file_prefix":
        return f"File:{display}"
    if shape == "full_link":
        return f"[[File:{display}|200px|alt={alt}]]"
    if shape == "underscores":
        return display.replace(" ", "_")
    if shape == "trailing_param":
        return f"{display}|200px"
    if shape == "comment":
        return "<!-- no image -->"
    if shape == "image_prefix":
        return f"Image:{display}"
    if shape == "lower_first":
        return display[0].lower() + display[1:]
    return display


def infobox(name: str, fields: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in fields)
    body = "\n".join(f"| {k.ljust(width)} = {v}" for k, v in fields if v is not None)
    return f"{{{{{name}\n{body}\n}}}}"


def wikitable(caption: str, header: list[str], rows: list[list[str]]) -> str:
    lines = ['{| class="wikitable sortable"', f"|+ {caption}", "! " + " !! ".join(header)]
    for row in rows:
        lines += ["|-", "| " + " || ".join(row)]
    lines.append("|}")
    return "\n".join(lines)


def cite(e: Entity, what: str, year: int, publisher: str = "Demo Gazette") -> str:
    return (f"{{{{cite web |url=http://example.org/{slug(e.name)}/{slug(what)} |title={what} "
            f"|publisher={publisher} |date={year}-05-01 |access-date=2026-01-01}}}}")


def date_text(rng: random.Random, year: int) -> tuple[str, str]:
    """(prose date, ``{{birth date}}`` template) for a random day of ``year``."""
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    return f"{day} {MONTHS[month - 1]} {year}", f"{{{{birth date and age|{year}|{month}|{day}|df=y}}}}"


class FileNamer:
    """Chooses file names and formats for an entity's pictures and records them as ImageSpecs."""

    def __init__(self, rng: random.Random, images: dict[str, ImageSpec]):
        self.rng, self.images = rng, images

    def add(self, entity: str, display: str, role: str, variant: int, fmt: str | None = None) -> str:
        ext = display.rsplit(".", 1)[-1].lower()
        fmt = fmt or {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "svg": "SVG"}[ext]
        name = normalize_filename(display)
        if name in self.images:  # the same picture used twice is one file
            return display
        self.images[name] = ImageSpec(name, entity, variant, fmt, role)
        return display

    def photo(self, e: Entity, what: str, role: str, variant: int, ext: str | None = None) -> str:
        ext = ext or self.rng.choice(("jpg", "jpg", "jpg", "png", "jpeg"))
        return self.add(e.key, f"{e.name} {what}.{ext}", role, variant)

    def svg(self, e: Entity, pattern: str, role: str) -> str:
        return self.add(e.key, pattern.format(e.name) + ".svg", role, 90)
