"""Wikitext of one article -> sections, paragraphs with entity anchors, and image references.

Output text format: plain text in which every link to an article is tagged as
``<e: Target_Title> surface </e>`` (see :mod:`more_ie.wiki.sentences` for reading it back).

How it works, and why not ``mwparserfromhell.parse``: a full parse builds a Python node tree for
every template, ref and link. On the sample dump it runs at ~75 pages/s (C tokenizer in use), and
still ~200 pages/s on the text left once templates, refs and tables are cut out, both too slow for
a conversion that must match wikiextractor's speed including sentence splitting. Most of a page is
markup we throw away, so the conversion is a chain of linear, regex/``bisect`` driven passes that
runs at ~300 pages/s with sentence splitting on the same machine (tests cross-check the anchors
against a full mwparserfromhell parse):

1. :func:`more_ie.wiki.wikitext_strip.prestrip` removes comments, extension tags (refs, math,
   galleries, ...), templates and tables, reading images and the disambiguation flag out of them;
2. :func:`more_ie.wiki.wikitext_links.convert_inline` turns links into anchors and drops file
   links, categories, interlanguage links, external-link URLs, bold/italic and HTML tags;
3. :func:`_paragraphs` (here) cuts the result into sections and paragraphs.

Paragraphs: a block of consecutive text lines is one paragraph (lines joined with a space, as
MediaWiki renders them); blank lines, headings and horizontal rules end a paragraph; every list
item (``*``, ``#``, ``:``, ``;`` lines) is a paragraph of its own, because list items rarely end
with punctuation and joining them would make run-on "sentences". Paragraphs with no word
character (e.g. a lone "." left by a removed template) are dropped.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field

from more_ie.wiki.wikitext_links import convert_inline
from more_ie.wiki.wikitext_strip import NOWIKI_MARK, prestrip

logger = logging.getLogger(__name__)

IMAGE_SOURCES = ("link", "gallery", "infobox")

_REDIRECT = re.compile(r"\s*#\s*redirect\s*:?\s*\[\[", re.I)
_HEADING = re.compile(r"(=+)(.+?)=+\s*$")
_EMPTY_ANCHOR = re.compile(r"<e: [^<>\s]+> </e>")
_ANCHOR = re.compile(r"<e: [^<>\s]+> (.*?) </e>")
_WORD = re.compile(r"\w")
# Punctuation orphaned by removed templates: "Lincoln (; February 12, 1809", "Albedo () or",
# "(Akhilleus, )", "the Greek , i.e.". A removed template leaves a space behind, so only
# punctuation next to a space is touched: code such as "printf()", "A(:,1)" or "(x,)" is kept.
# The look-behinds keep anchors intact: "(?<!<e:)" the space after "<e:" (the target may be "()"),
# "(?<!<e)" its colon, "(?<!>)" the space that opens a surface ("<e: X> . </e>"), and "(?!</e>)"
# the space that closes it.
_PAREN_LEAD = re.compile(r"(?<!<e:) \(\s*(?:[,;:] ?)+(?!</e>)")
_PAREN_TRAIL = re.compile(r"(?<!>)(?<!<e)(?<!<e:) ?[,;:][ ,;:]* \)")
_PAREN_TRAIL_HINTS = (", )", "; )", ": )")
_EMPTY_PARENS = re.compile(r"(?<!>)(?<!<e:) \(\s*\)")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<!>)(?<!<e:) ([,;]|\.(?!\.))(?= |$)")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of an article.

    ``section`` is the plain text of the nearest heading above it (any level), ``""`` for the
    introduction; ``text`` is plain text with anchors ``<e: Target_Title> surface </e>``.
    """

    section: str
    text: str


@dataclass(frozen=True)
class ImageRef:
    """An image the article shows: a normalized file name (image formats only) and where it was found.

    ``source`` is ``"link"`` (``[[File:...]]``/``[[Image:...]]``), ``"gallery"`` (``<gallery>``
    lines) or ``"infobox"`` (an image-like template field such as ``| image = X.jpg``).
    """

    file: str
    source: str


@dataclass
class ParsedArticle:
    """Everything :func:`parse_wikitext` reads out of a page."""

    paragraphs: list[Paragraph] = field(default_factory=list)
    images: list[ImageRef] = field(default_factory=list)  # unique by file, first occurrence, page order
    is_disambiguation: bool = False

    @property
    def intro(self) -> str:
        """The introduction (paragraphs before the first heading), one paragraph per line."""
        return "\n".join(p.text for p in self.paragraphs if p.section == "")


def finish_text(text: str) -> str:
    """Decodes entities, drops ``<nowiki/>`` marks and empty anchors, and collapses whitespace.

    Entities are decoded last on purpose: ``&#91;`` from a ``<nowiki>`` must stay a literal ``[``.
    """
    if "&" in text:
        text = html.unescape(text)
    if NOWIKI_MARK in text:
        text = text.replace(NOWIKI_MARK, "")
    text = " ".join(text.split())  # str.split() also splits on \xa0 (from &nbsp;) and other Unicode spaces
    if "(" in text:
        text = _PAREN_LEAD.sub(" (", text)
        if any(hint in text for hint in _PAREN_TRAIL_HINTS):
            text = _PAREN_TRAIL.sub(")", text)
        text = _EMPTY_PARENS.sub("", text)
    if " ," in text or " ;" in text or " ." in text:
        text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    if "> </e>" in text:
        text = " ".join(_EMPTY_ANCHOR.sub("", text).split())
    return text


def _heading_text(raw: str) -> str:
    text = finish_text(raw)
    text = _ANCHOR.sub(r"\1", text) if "<e: " in text else text
    return text.strip("= ")


def _paragraphs(body: str) -> list[Paragraph]:
    """Cuts converted text into (section, paragraph) pairs; see the module docstring for the rules."""
    paragraphs: list[Paragraph] = []
    section = ""
    block: list[str] = []

    def add(text: str) -> None:
        text = finish_text(text)
        if text and _WORD.search(text):
            paragraphs.append(Paragraph(section, text))

    for line in body.split("\n"):
        line = line.strip()
        if not line:
            if block:
                add(" ".join(block))
                block = []
            continue
        first = line[0]
        if first == "=":
            heading = _HEADING.match(line)
            if heading and len(heading.group(2).strip("= ")) > 0:
                if block:
                    add(" ".join(block))
                    block = []
                section = _heading_text(heading.group(2))
                continue
        elif first in "*#:;":
            if block:
                add(" ".join(block))
                block = []
            add(line.lstrip("*#:;"))
            continue
        elif first == "-" and line.startswith("----"):
            if block:
                add(" ".join(block))
                block = []
            line = line.lstrip("-")
            if not line.strip():
                continue
        block.append(line)
    if block:
        add(" ".join(block))
    return paragraphs


def _unique_images(images: list[tuple[str, str]]) -> list[ImageRef]:
    seen: set[str] = set()
    unique = []
    for name, source in images:
        if name not in seen:
            seen.add(name)
            unique.append(ImageRef(name, source))
    return unique


def parse_wikitext(text: str) -> ParsedArticle:
    """Parses an article's wikitext; never raises on malformed markup.

    Empty text and redirect pages (``#REDIRECT [[...]]``) give an empty :class:`ParsedArticle`.
    """
    if not text or not text.strip() or _REDIRECT.match(text):
        return ParsedArticle()
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        stripped = prestrip(text)
        paragraphs = _paragraphs(convert_inline(stripped.text))
    except Exception:  # a converter bug must cost one page, not a whole dump shard
        logger.exception("wikitext conversion failed on a %d-char page; page left empty", len(text))
        return ParsedArticle()
    return ParsedArticle(paragraphs, _unique_images(stripped.images), stripped.is_disambiguation)
