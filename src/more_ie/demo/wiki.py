"""The demo wiki: one short article per entity, redirects, a few odd pages, as a multistream dump.

An article's introduction (the text before its first heading) says what the entity is and states
its facts with links, e.g. "'''Vorlan''' is a club. Vorlan is based in [[Tarrow]].", so the text
KC's paragraph and the image KC's value (title + introduction) both resolve a post about it.
The dump is in Wikimedia's multistream layout: one bz2 stream for the header, streams of
``pages_per_stream`` pages, one for the footer, and an index of ``offset:page_id:title`` lines
(the offset being that of the bz2 stream holding the page).
"""

from __future__ import annotations

import bz2
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from more_ie.demo.world import RELATIONS, World
from more_ie.utils.atomic import atomic_open
from more_ie.wiki.titles import normalize_filename

SITE = "Demowiki"
XML_NAME = "demowiki-20260101-pages-articles-multistream.xml.bz2"
INDEX_NAME = "demowiki-20260101-pages-articles-multistream-index.txt.bz2"
_NS = "http://www.mediawiki.org/xml/export-0.10/"
# Infobox ``| image =`` spellings that occur in real articles; cycled so that each one is parsed.
_IMAGE_VALUES = ("{f}", "File:{f}", "[[File:{f}|200px|alt=photo]]", "Image:{f}", "{u}|200px")
# The four redirect spellings that occur in real dumps.
_REDIRECTS = (
    "#REDIRECT [[{t}]]\n\n{{{{R from alternative name}}}}",
    "#redirect [[{t}]]",
    "#REDIRECT [[{t}#History]]\n{{{{Redr|alternative name|up}}}}",
    "#REDIRECT[[{t}]] {{{{R from nickname}}}}",
)


@dataclass
class Page:
    title: str
    ns: int
    text: str
    redirect: str | None = None


@dataclass
class WikiImage:
    file: str  # normalized name, as on the upload server
    entity: str
    variant: int  # 0: the entity's main picture (posts are perturbed copies of it)
    png_named_jpg: bool = False
    missing: bool = False  # referenced by an article, never written (as on real mirrors)


def upload_relpath(filename: str) -> str:
    """``a/ab/Name.jpg``: MediaWiki's md5 hashed-directory layout of a normalized file name."""
    digest = hashlib.md5(filename.encode("utf-8")).hexdigest()
    return f"{digest[0]}/{digest[:2]}/{filename}"


def build_pages(rng: random.Random, world: World) -> tuple[list[Page], list[WikiImage]]:
    pages: list[Page] = []
    images: list[WikiImage] = []
    names = {k: e.name for k, e in world.entities.items()}
    for i, e in enumerate(world.entities.values()):
        display = (
            f"{e.name} {rng.choice(('photo', 'picture', 'view'))}.{rng.choice(('jpg', 'jpg', 'png', 'jpeg'))}"
        )
        images.append(WikiImage(normalize_filename(display), e.key, 0))
        value = _IMAGE_VALUES[i % len(_IMAGE_VALUES)].format(f=display, u=display.replace(" ", "_"))
        link = (lambda t: f"[[{t}]]") if i % 3 else (lambda t: f"[[{t.replace(' ', '_')}|{t}]]")
        facts = " ".join(RELATIONS[r][2].format(h=e.name, t=link(names[t])) for r, t in e.facts)
        body = (
            f"{{{{Infobox {e.kind}\n| name = {e.name}\n| image = {value}\n}}}}\n"
            f"'''{e.name}''' is a {e.kind}. {facts}\n\n== History ==\n"
            f"Records begin in {rng.randint(1200, 1990)}.<ref>{{{{cite web |url=http://example.org/{i} "
            f"|title=Archive}}}}</ref>\n"
        )
        if i % 7 == 3:  # a gallery of two more pictures of the same entity
            more = [f"{e.name} {n}.jpg" for n in ("early", "late")]
            images += [WikiImage(normalize_filename(m), e.key, v) for v, m in enumerate(more, 1)]
            body += "<gallery>\n" + "\n".join(f"File:{m}|{e.name}" for m in more) + "\n</gallery>\n"
        body += "\n== References ==\n{{Reflist}}\n\n[[Category:Demo articles]]\n"
        pages.append(Page(e.name, 0, body))
        pages.append(Page(e.nickname, 0, _REDIRECTS[i % 4].format(t=e.name), redirect=e.name))
    gallery = [im for im in images if im.variant]
    for im in gallery[:2]:
        im.missing = True
    if len(gallery) > 2:
        gallery[2].png_named_jpg = True  # real dumps have PNG bytes under .jpg names: readers must sniff
    listed = "\n".join(f"* [[{e.name}]], a {e.kind}" for e in list(world.entities.values())[:3])
    pages += [
        Page("Demo (disambiguation)", 0, f"'''Demo''' may refer to:\n{listed}\n\n{{{{disambiguation}}}}"),
        Page("List of demo rivers", 0, ""),  # an article with empty text: skipped and counted
        Page(f"{SITE}:About", 4, f"{SITE} is a MADE-UP wiki for the more_ie offline demo."),
        Page("Template:Infobox club", 10, "<includeonly>{{Infobox|above={{{name}}}}}</includeonly>"),
    ]
    rng.shuffle(pages)  # redirects and odd pages interleave with articles, as in real dumps
    return pages, images


def _sha1(text: str) -> str:
    """MediaWiki's revision sha1: SHA-1 of the UTF-8 text in base 36, zero-padded to 31 digits."""
    n, out = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16), ""
    while n:
        n, r = divmod(n, 36)
        out = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + out
    return out.rjust(31, "0")


def _page_xml(page: Page, page_id: int, rev_id: int) -> str:
    redirect = f"    <redirect title={quoteattr(page.redirect)} />\n" if page.redirect else ""
    size = len(page.text.encode("utf-8"))
    text = (
        f'<text bytes="{size}" xml:space="preserve">{escape(page.text, {chr(34): "&quot;"})}</text>'
        if page.text
        else '<text bytes="0" xml:space="preserve" />'
    )
    return (
        f"  <page>\n    <title>{escape(page.title)}</title>\n    <ns>{page.ns}</ns>\n    <id>{page_id}</id>\n"
        f"{redirect}    <revision>\n      <id>{rev_id}</id>\n      <timestamp>2025-12-01T00:00:00Z</timestamp>\n"
        f"      <contributor>\n        <username>Demo editor</username>\n        <id>7</id>\n"
        f"      </contributor>\n      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
        f"      {text}\n      <sha1>{_sha1(page.text)}</sha1>\n    </revision>\n  </page>\n"
    )


def write_multistream(pages: list[Page], out_dir: Path, pages_per_stream: int) -> int:
    """Write the dump and its index; page ids increase with gaps, as in real dumps. Returns the streams."""
    namespaces = "\n".join(
        f'      <namespace key="{k}" case="first-letter">{n}</namespace>'
        for k, n in ((0, ""), (4, SITE), (6, "File"), (10, "Template"), (14, "Category"))
    )
    header = (
        f'<mediawiki xmlns="{_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{_NS} http://www.mediawiki.org/xml/export-0.10.xsd" version="0.10" xml:lang="en">\n'
        f"  <siteinfo>\n    <sitename>{SITE}</sitename>\n    <dbname>demowiki</dbname>\n"
        f"    <case>first-letter</case>\n    <namespaces>\n{namespaces}\n    </namespaces>\n  </siteinfo>\n"
    )
    blocks = [bz2.compress(header.encode("utf-8"))]
    offset, index = len(blocks[0]), []
    for start in range(0, len(pages), pages_per_stream):
        xml = []
        for j, page in enumerate(pages[start : start + pages_per_stream], start):
            page_id = 10 + 3 * j + j % 2
            xml.append(_page_xml(page, page_id, 1_000_000 + 7 * j))
            index.append(f"{offset}:{page_id}:{page.title}\n")
        blocks.append(bz2.compress("".join(xml).encode("utf-8")))
        offset += len(blocks[-1])
    blocks.append(bz2.compress(b"</mediawiki>\n"))
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_open(out_dir / XML_NAME, "wb") as fh:
        fh.writelines(blocks)
    with atomic_open(out_dir / INDEX_NAME, "wb") as fh:
        fh.write(bz2.compress("".join(index).encode("utf-8")))
    return len(blocks)
