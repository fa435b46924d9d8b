"""A MediaWiki XML dump in Wikimedia's *multistream* layout, with its offset index.

Layout, as in ``enwiki-YYYYMMDD-pages-articles-multistream.xml.bz2``:

* the file is a concatenation of independent bz2 streams;
* stream 1 holds only the ``<mediawiki ...>`` opening tag and ``<siteinfo>``;
* each following stream holds ``pages_per_stream`` whole ``<page>`` elements;
* the last stream holds only ``</mediawiki>``.

The index (``...-multistream-index.txt.bz2``) has one line per page, ``offset:page_id:title``,
where ``offset`` is the byte offset of the bz2 stream holding the page: a reader can seek there
and decompress one stream to get the page without reading the rest of the file.
"""
from __future__ import annotations

import bz2
import datetime as dt
import hashlib
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from more_ie.demo.pages import SITE_NAME
from more_ie.demo.wikitext import Page
from more_ie.utils.atomic import atomic_open

log = logging.getLogger(__name__)

DB_NAME = "demowiki"
DUMP_DATE = "20260101"
XML_NAME = f"{DB_NAME}-{DUMP_DATE}-pages-articles-multistream.xml.bz2"
INDEX_NAME = f"{DB_NAME}-{DUMP_DATE}-pages-articles-multistream-index.txt.bz2"
EXPORT_NS = "http://www.mediawiki.org/xml/export-0.10/"
NAMESPACES = ((-2, "Media"), (-1, "Special"), (0, ""), (1, "Talk"), (2, "User"), (3, "User talk"),
              (4, SITE_NAME), (5, f"{SITE_NAME} talk"), (6, "File"), (7, "File talk"), (8, "MediaWiki"),
              (9, "MediaWiki talk"), (10, "Template"), (11, "Template talk"), (12, "Help"), (13, "Help talk"),
              (14, "Category"), (15, "Category talk"), (828, "Module"), (829, "Module talk"))
_EDITORS = (("Quillwright", 4401), ("Harbour Lamp", 58812), ("Thistlebot", 771203), ("Ember-Reader", 90311))
_ENTITIES = {'"': "&quot;"}  # real dumps escape double quotes in text, not apostrophes


def mw_sha1(text: str) -> str:
    """MediaWiki's revision sha1: SHA-1 of the UTF-8 text in base 36, zero-padded to 31 characters."""
    n = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out.rjust(31, "0")


def header_xml() -> str:
    ns_lines = "\n".join(
        f'      <namespace key="{k}" case="first-letter" />' if not name
        else f'      <namespace key="{k}" case="first-letter">{escape(name)}</namespace>'
        for k, name in NAMESPACES)
    return (f'<mediawiki xmlns="{EXPORT_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{EXPORT_NS} http://www.mediawiki.org/xml/export-0.10.xsd" version="0.10" '
            f'xml:lang="en">\n  <siteinfo>\n    <sitename>{SITE_NAME}</sitename>\n'
            f"    <dbname>{DB_NAME}</dbname>\n"
            f"    <base>https://demo.example.org/wiki/Main_Page</base>\n"
            f"    <generator>MediaWiki 1.46.0-wmf.1 (more_ie demo generator)</generator>\n"
            f"    <case>first-letter</case>\n    <namespaces>\n{ns_lines}\n    </namespaces>\n"
            "  </siteinfo>\n")


@dataclass
class Revision:
    rev_id: int
    parent_id: int
    timestamp: str
    contributor: tuple[str, int] | str  # (username, user id) or an IP address
    comment: str | None


def page_xml(page: Page, page_id: int, rev: Revision) -> str:
    lines = ["  <page>", f"    <title>{escape(page.title)}</title>", f"    <ns>{page.ns}</ns>",
             f"    <id>{page_id}</id>"]
    if page.redirect is not None:
        lines.append(f"    <redirect title={quoteattr(page.redirect)} />")
    lines += ["    <revision>", f"      <id>{rev.rev_id}</id>", f"      <parentid>{rev.parent_id}</parentid>",
              f"      <timestamp>{rev.timestamp}</timestamp>", "      <contributor>"]
    if isinstance(rev.contributor, str):
        lines.append(f"        <ip>{rev.contributor}</ip>")
    else:
        lines += [f"        <username>{escape(rev.contributor[0])}</username>",
                  f"        <id>{rev.contributor[1]}</id>"]
    lines.append("      </contributor>")
    if rev.comment:
        lines.append(f"      <comment>{escape(rev.comment, _ENTITIES)}</comment>")
    lines += ["      <model>wikitext</model>", "      <format>text/x-wiki</format>"]
    n_bytes = len(page.text.encode("utf-8"))
    if page.text:
        body = escape(page.text, _ENTITIES)
        lines.append(f'      <text bytes="{n_bytes}" xml:space="preserve">{body}</text>')
    else:  # how dumps write an empty revision
        lines.append('      <text bytes="0" xml:space="preserve" />')
    lines += [f"      <sha1>{mw_sha1(page.text)}</sha1>", "    </revision>", "  </page>"]
    return "\n".join(lines) + "\n"


def _revision(rng: random.Random, rev_id: int) -> Revision:
    start = dt.datetime(2019, 1, 1, tzinfo=dt.timezone.utc)
    when = start + dt.timedelta(seconds=rng.randint(0, 7 * 365 * 86400 - 1))
    contributor: tuple[str, int] | str = rng.choice(_EDITORS)
    if rng.random() < 0.15:
        contributor = f"203.0.113.{rng.randint(1, 254)}"  # TEST-NET-3: never a real address
    comment = rng.choice((None, "copyedit", "/* History */ add [[WP:RS|source]]", "fix \"quote\" & <ref>"))
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Revision(rev_id, rev_id - rng.randint(1, 5000), stamp, contributor, comment)


@dataclass
class DumpInfo:
    xml_path: Path
    index_path: Path
    n_pages: int
    n_streams: int  # including the header and footer streams
    page_ids: dict[str, int]  # title -> page id


def write_multistream(pages: list[Page], out_dir: Path, rng: random.Random,
                      pages_per_stream: int) -> DumpInfo:
    """Assign page ids (increasing, with gaps as in real dumps) and write the dump and its index."""
    page_ids: dict[str, int] = {}
    page_id, rev_id = 10, 1_000_000
    blocks: list[bytes] = [bz2.compress(header_xml().encode("utf-8"))]
    index_lines: list[str] = []
    offset = len(blocks[0])
    for start in range(0, len(pages), pages_per_stream):
        chunk = pages[start:start + pages_per_stream]
        parts = []
        for page in chunk:
            page_id += rng.randint(1, 9)
            rev_id += rng.randint(100, 90_000)
            page_ids[page.title] = page_id
            parts.append(page_xml(page, page_id, _revision(rng, rev_id)))
            index_lines.append(f"{offset}:{page_id}:{page.title}\n")
        block = bz2.compress("".join(parts).encode("utf-8"))
        blocks.append(block)
        offset += len(block)
    blocks.append(bz2.compress(b"</mediawiki>\n"))

    xml_path, index_path = out_dir / XML_NAME, out_dir / INDEX_NAME
    with atomic_open(xml_path, "wb") as fh:
        for block in blocks:
            fh.write(block)
    with atomic_open(index_path, "wb") as fh:
        fh.write(bz2.compress("".join(index_lines).encode("utf-8")))
    log.info("dump: %d pages in %d bz2 streams -> %s", len(pages), len(blocks), xml_path)
    return DumpInfo(xml_path, index_path, len(pages), len(blocks), page_ids)
