"""All pages of the demo dump: articles, redirects, a disambiguation page and a few odd ones.

The odd ones are the cases a dump reader must skip or survive: a page outside the article
namespace (ns 4 and ns 10), an article whose text is empty, and a disambiguation page.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from more_ie.demo.articles import ArticleWriter
from more_ie.demo.wikitext import FRAGMENT_SECTION, ImageSpec, Page
from more_ie.demo.world import PER, World

log = logging.getLogger(__name__)

SITE_NAME = "Demowiki"  # also the name of namespace 4 (the "project" namespace)
N_MISSING_IMAGES = 2


@dataclass
class WikiContent:
    pages: list[Page]
    images: dict[str, ImageSpec]  # normalized file name -> spec, in first-reference order
    primary_image: dict[str, str]  # entity key -> normalized file name of its main picture
    non_image_files: list[str]  # .ogg / .pdf files that are linked but are not images
    link_shapes: dict[str, int] = field(default_factory=dict)

    @property
    def missing_images(self) -> list[str]:
        return [n for n, s in self.images.items() if s.missing]

    @property
    def fake_png_jpgs(self) -> list[str]:
        return [n for n, s in self.images.items() if s.fmt == "PNG" and n.lower().endswith((".jpg", ".jpeg"))]


def _redirect_text(target: str, section: str, i: int, template: str) -> str:
    # The four spellings below all occur in real dumps; readers must accept each one.
    shape = i % 4
    if shape == 0:
        return f"#REDIRECT [[{target}]]\n\n{{{{{template}}}}}"
    if shape == 1:
        return f"#redirect [[{target}]]"
    if shape == 2:
        return f"#REDIRECT [[{target}#{section}]]\n{{{{Redr|{template.removeprefix('R ')}|up}}}}"
    return f"#REDIRECT[[{target}]] {{{{{template}}}}}"


def build_pages(rng: random.Random, world: World) -> WikiContent:
    writer = ArticleWriter(rng, world)
    pages: list[Page] = []
    for e in world.entities.values():
        if e.has_article:
            pages.append(Page(e.name, 0, writer.article(e)))
    titles = {p.title.casefold() for p in pages}

    n_redirect = 0
    for e in world.entities.values():
        target = world.entities[e.redirect_to].name if e.redirect_to else None
        if target:  # a demonym
            text = f"#REDIRECT [[{target}]]\n\n{{{{R from demonym}}}}"
            pages.append(Page(e.name, 0, text, redirect=target))
            titles.add(e.name.casefold())
        for alias in e.aliases:
            template = "R from acronym" if alias.isupper() else "R from alternative name"
            text = _redirect_text(e.name, FRAGMENT_SECTION[e.etype], n_redirect, template)
            pages.append(Page(alias, 0, text, redirect=e.name))
            titles.add(alias.casefold())
            n_redirect += 1

    # Disambiguation: a surname that several people share (siblings / parents do).
    by_surname: dict[str, list[str]] = {}
    for e in world.of_type(PER):
        by_surname.setdefault(e.short, []).append(e.key)
    shared = [s for s, keys in by_surname.items() if len(keys) > 1 and s.casefold() not in titles]
    if shared:
        surname = shared[0]
        items = "\n".join(f"* [[{world.entities[k].name}]] (born {world.entities[k].year}), "
                          f"{world.entities[k].occupation}" for k in by_surname[surname])
        text = f"'''{surname}''' may refer to:\n\n{items}\n\n{{{{disambiguation|surname}}}}"
        pages.append(Page(surname, 0, text))

    country = next(e for e in world.entities.values() if e.kind == "country")
    pages.append(Page(f"List of rivers in {country.name}", 0, ""))  # an article with empty text
    pages.append(Page(f"{SITE_NAME}:About", 4,
                      f"'''{SITE_NAME}''' is a MADE-UP wiki generated for the more_ie offline demo. "
                      "None of its people, places or organisations exist.\n\n[[Category:Demowiki]]"))
    pages.append(Page("Template:Infobox person", 10,
                      "<includeonly>{{Infobox\n| above = {{{name|{{PAGENAME}}}}}\n"
                      "| image = {{#if:{{{image|}}}|[[File:{{{image}}}|220px]]}}\n"
                      "| label1 = Born | data1 = {{{birth_date|}}} {{{birth_place|}}}\n}}</includeonly>"
                      "<noinclude>{{Documentation}}</noinclude>"))

    _mark_special_images(writer.images)
    log.info("wiki: %d pages (%d redirects), %d image files referenced", len(pages),
             sum(p.redirect is not None for p in pages), len(writer.images))
    return WikiContent(pages, writer.images, writer.primary, writer.non_image_files,
                       dict(writer.stats.counts))


def _mark_special_images(images: dict[str, ImageSpec]) -> None:
    """Pick the deliberately missing files and the PNG that is named ``.jpg``.

    Neither is ever an entity's main picture: tweet images are derived from those, and a demo
    whose gold images cannot be found would test nothing.
    """
    secondary = [s for s in images.values() if s.role in ("gallery", "thumb")]
    for spec in sorted(secondary, key=lambda s: (s.role != "gallery", s.filename))[:N_MISSING_IMAGES]:
        spec.missing = True
    jpgs = [s for s in images.values() if not s.missing and s.fmt == "JPEG" and s.filename.endswith(".jpg")]
    fake = next((s for s in jpgs if s.role != "primary"), jpgs[0] if jpgs else None)
    if fake is not None:
        fake.fmt = "PNG"  # real Wikipedia has PNG bytes under .jpg names; readers must sniff
