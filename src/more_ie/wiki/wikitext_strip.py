"""Fast pre-pass over raw wikitext: removes what never becomes article text, and records images.

Why a pre-pass: ``mwparserfromhell.parse`` builds a Python node tree for the whole page, which is
several times slower than the throughput the corpus build needs (it was measured at about 70
pages/s on the sample dump, against a target of at least 126 pages/s for the full conversion).
Comments, ``<ref>``s, templates and tables are most of that cost and none of them is text we keep,
so they are cut out here by ``re``/``bisect`` driven scanners whose Python loops run once per
*markup token* (a brace run, a tag), never once per character.

The order of the steps follows MediaWiki's own preprocessor, so that markup hidden inside another
construct is treated the way MediaWiki treats it:

1. HTML comments (they may hide any other markup);
2. extension tags (``<ref>``, ``<math>``, ``<gallery>``, ``<nowiki>``, ...), whose content is opaque:
   a ``}}`` inside ``<math>`` must not close a template;
3. templates and template arguments (``{{...}}``, ``{{{...}}}``), matched like MediaWiki does;
4. tables (``{| ... |}``), which only exist at the start of a line once templates are gone.

Images are recorded during step 2, while templates (and their ``| image = ...`` fields),
galleries and file links are all still in the text, so that one left-to-right pass yields them in
page order.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from more_ie.wiki.titles import is_image_file, normalize_filename

# A private-use character stands in for ``<nowiki/>``: it must survive the later steps without
# being mistaken for text (it stops a link trail, as ``<nowiki/>`` does in MediaWiki) and is
# deleted when the paragraph text is finalized.
NOWIKI_MARK = "\ue000"

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)

# Extension tags whose content is never article text.
_DROPPED_TAGS = (
    "ref",
    "references",
    "math",
    "score",
    "timeline",
    "syntaxhighlight",
    "source",
    "graph",
    "chem",
    "ce",
    "hiero",
    "mapframe",
    "maplink",
    "templatedata",
    "inputbox",
    "categorytree",
    "includeonly",
    "section",
    "indicator",
    "charinsert",
    "templatestyles",
    "phonos",
    "talkpage",
    "imagemap",
    "gallery",
)
# Extension tags whose content is literal text (no markup inside).
_LITERAL_TAGS = ("nowiki", "pre")
_ELEMENT_NAMES = "|".join(_DROPPED_TAGS + _LITERAL_TAGS)
_ELEMENT_SET = frozenset(_DROPPED_TAGS + _LITERAL_TAGS)
# Any tag name, checked against _ELEMENT_SET in Python: an alternation of 30 names would be tried
# at every "<" of the page, which is slow on text full of "<" (measured 1.2 s on 5 MB of them).
_ELEMENT_OPEN = re.compile(r"<([A-Za-z][A-Za-z0-9]*)(?=[\s/>])([^<>]*?)(/?)>")
_ELEMENT_CLOSE = re.compile(rf"</({_ELEMENT_NAMES})\s*>", re.I)

# Characters that would be read as markup later; inside <nowiki>/<pre> they are replaced by
# numeric entities, which the final html.unescape turns back into the literal characters. "&" is
# not among them: MediaWiki decodes entities inside <nowiki> too.
_LITERAL_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "[]{}|'<>=:*#_~-"})

# Image references outside extension tags: a file link, or an image-like template field.
# Field keys: one of / starting with image, logo, flag, cover, photo, map_image, or ending with
# _image (image1, image_flag, image_map, image_skyline, logo, cover, ...). Values come in several
# shapes in the dump: "X.jpg", "File:X.jpg", "[[File:X.jpg|200px]]", "X.jpg|200px", "X_y.jpg".
_IMAGE_REF = re.compile(
    r"\[\[[ \t]*(?:file|image)[ \t]*:(?P<link>[^|\]\[\n{}]*)"
    r"|\|[ \t]*(?P<key>(?:image|logo|flag|cover|photo|map[ _]image)[\w \t]*?|[\w \t]*?_image)[ \t]*="
    r"[ \t]*\n?[ \t]*(?:\[\[[ \t]*(?:file|image)[ \t]*:[ \t]*)?(?P<value>[^|\n{}\[\]<]*)",
    re.I,
)

_DISAMBIGUATION = re.compile(
    r"\{\{\s*(?:template\s*:\s*)?"
    r"(?:[\w ,-]*?\bdisambiguation(?:[ _]cleanup)?|disambig|disamb|dab|dbig|hndis|geodis|numberdis"
    r"|schooldis|letter-numbercombdisambig|letter-number combination disambiguation|mathdab)"
    r"\s*(?:\||\}\})",
    re.I,
)

_BRACES = re.compile(r"\{\{+|\}\}+")
_TABLE_TOKEN = re.compile(r"^[ \t:]*(\{\||\|\})", re.M)


@dataclass
class Stripped:
    """Result of :func:`prestrip`: the remaining wikitext and what was read out of the removed parts."""

    text: str
    images: list[tuple[str, str]] = field(default_factory=list)  # (file, source) in page order
    is_disambiguation: bool = False


def splice(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without the (sorted, non-overlapping) ``spans``."""
    if not spans:
        return text
    pieces = []
    last = 0
    for start, end in spans:
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _add_image(images: list[tuple[str, str]], raw: str, source: str) -> None:
    name = normalize_filename(raw)
    if name and is_image_file(name):
        images.append((name, source))


def _images_in(text: str, images: list[tuple[str, str]]) -> None:
    """Records file links and image-like template fields of a piece of wikitext."""
    for m in _IMAGE_REF.finditer(text):
        link = m.group("link")
        if link is not None:
            _add_image(images, link, "link")
        else:
            _add_image(images, m.group("value"), "infobox")


def _gallery_images(inner: str, images: list[tuple[str, str]], source: str) -> None:
    """One image per non-empty line, ``[File:]name|caption|params``; the namespace is optional."""
    for line in inner.split("\n"):
        line = line.strip().lstrip("[").strip()
        if line:
            _add_image(images, line.split("|", 1)[0], source)


def _strip_elements(text: str, images: list[tuple[str, str]]) -> str:
    """Removes extension-tag elements, escapes literal ones, and records images in page order.

    Like MediaWiki, an opening tag is closed by the *next* closing tag of the same name, and an
    opening tag that is never closed is left as text (the tag itself is removed later). The next
    close is found by bisecting a list built once, so unclosed tags cost O(log n), not a rescan.
    """
    closes: dict[str, list[tuple[int, int]]] = {}
    for m in _ELEMENT_CLOSE.finditer(text):
        closes.setdefault(m.group(1).lower(), []).append((m.start(), m.end()))
    close_starts = {name: [s for s, _ in spans] for name, spans in closes.items()}

    pieces: list[str] = []
    last = 0
    for m in _ELEMENT_OPEN.finditer(text):
        if m.start() < last:  # inside an element already consumed
            continue
        name = m.group(1).lower()
        if name not in _ELEMENT_SET:
            continue
        if m.group(3):  # self-closing: <ref name="x"/>, <nowiki/>
            inner, end = "", m.end()
        else:
            starts = close_starts.get(name)
            i = bisect_left(starts, m.end()) if starts else 0
            if not starts or i == len(starts):
                continue  # never closed: literal text, like MediaWiki
            inner, end = text[m.end() : starts[i]], closes[name][i][1]
        before = text[last : m.start()]
        _images_in(before, images)
        pieces.append(before)
        if name == "gallery":
            _gallery_images(inner, images, "gallery")
        elif name == "imagemap":  # its first line is the image, like a file link
            _gallery_images(inner.strip().split("\n", 1)[0], images, "link")
        elif name == "nowiki":
            pieces.append(inner.translate(_LITERAL_ESCAPES) if inner else NOWIKI_MARK)
        elif name == "pre":
            pieces.append(inner.translate(_LITERAL_ESCAPES))
        last = end
    rest = text[last:]
    _images_in(rest, images)
    pieces.append(rest)
    return "".join(pieces)


def strip_templates(text: str) -> str:
    """Removes templates and template arguments, matching braces the way MediaWiki does.

    A run of ``{`` opens, a run of ``}`` closes; a closing run matches the innermost open run three
    braces at a time when both have three (an argument ``{{{x}}}``), else two (a template). A lone
    leftover brace is literal. Unclosed openings stay as text, so one missing ``}}`` does not eat
    the rest of the page.
    """
    stack: list[list[int]] = []  # [start, braces still open]
    spans: list[tuple[int, int]] = []
    for m in _BRACES.finditer(text):
        run = m.group()
        if run[0] == "{":
            stack.append([m.start(), len(run)])
            continue
        left, end = len(run), m.start()
        while left >= 2 and stack:
            top = stack[-1]
            k = 3 if top[1] >= 3 and left >= 3 else 2
            top[1] -= k
            left -= k
            end += k
            if top[1] < 2:
                start = stack.pop()[0]
                if not stack:
                    spans.append((start, end))
    if stack:
        return _strip_inside_unclosed(text, spans, stack)
    return splice(text, spans)


def _strip_inside_unclosed(text: str, spans: list[tuple[int, int]], unclosed: list[list[int]]) -> str:
    """:func:`strip_templates` for a text with openings that are never closed.

    Templates closed inside an unclosed opening were not top-level spans, so each stretch between
    two unclosed openings is stripped on its own. The braces of an unclosed run that were not
    matched stay literal (MediaWiki shows them as text); the rest of the run belongs to the
    templates inside it.
    """
    first = unclosed[0][0]
    pieces = [splice(text[:first], [s for s in spans if s[1] <= first])]
    for i, (start, left) in enumerate(unclosed):
        stop = unclosed[i + 1][0] if i + 1 < len(unclosed) else len(text)
        pieces.append(text[start : start + left])
        pieces.append(strip_templates(text[start + left : stop]))
    return "".join(pieces)


def strip_tables(text: str) -> str:
    """Removes ``{| ... |}`` tables (nested ones too); an unclosed table runs to the end, as in MediaWiki."""
    depth = 0
    start = 0
    spans = []
    for m in _TABLE_TOKEN.finditer(text):
        if m.group(1) == "{|":
            if depth == 0:
                start = m.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                spans.append((start, m.end()))
    if depth:
        spans.append((start, len(text)))
    return splice(text, spans)


def prestrip(text: str) -> Stripped:
    """Comments, extension tags, templates and tables out; images and the disambiguation flag read."""
    if "<!--" in text:
        text = _COMMENT.sub("", text)
    images: list[tuple[str, str]] = []
    text = _strip_elements(text, images)
    is_dab = "{{" in text and _DISAMBIGUATION.search(text) is not None
    if "{{" in text:
        text = strip_templates(text)
    if "{|" in text:
        text = strip_tables(text)
    return Stripped(text, images, is_dab)
