"""Streaming reader for MediaWiki XML dumps: plain ``.xml``, ``.xml.bz2`` and multistream ``.bz2``.

Pages are yielded one at a time and their elements cleared, so memory stays flat whatever the
dump's size. A multistream dump is a concatenation of independent bz2 streams (the first holds the
``<siteinfo>`` header, then 100 pages per stream); its index lists each page's stream offset. That
lets a shard seek to its own streams and decompress only those, so N shards run as N jobs.
Export schemas 0.8 to 0.11 differ only in the namespace URI and a few optional elements; tags are
matched on their local name.
"""

from __future__ import annotations

import bisect
import bz2
import io
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

logger = logging.getLogger(__name__)

READ_CHUNK = 1 << 20
_REDIRECT_TEXT = re.compile(r"^\s*#\s*REDIRECT\s*:?\s*\[\[([^\]|]+)", re.IGNORECASE)


class DumpError(ValueError):
    """A dump (or its index) is corrupt or malformed; the message names the file and position."""


@dataclass(frozen=True)
class RawPage:
    page_id: int
    title: str
    ns: int
    redirect: str | None  # the raw redirect target title, or None for an ordinary page
    text: str


@dataclass(frozen=True)
class ByteRange:
    """``[start, end)`` of the dump file; ``end`` is None for "to the end of the file"."""

    start: int
    end: int | None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# ---------------------------------------------------------------------------------------------
# Multistream index and shard planning
# ---------------------------------------------------------------------------------------------


def read_stream_offsets(index_path: str | Path) -> list[int]:
    """Sorted distinct stream offsets from a multistream index (``offset:page_id:title`` lines)."""
    offsets: set[int] = set()
    opener = bz2.open if str(index_path).endswith(".bz2") else open
    try:
        with opener(index_path, "rt", encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                head, sep, _ = line.partition(":")
                if not sep or not head.isdigit():
                    raise DumpError(
                        f"{index_path}:{line_no}: not an 'offset:page_id:title' line: {line[:80]!r}"
                    )
                offsets.add(int(head))
    except (OSError, EOFError) as err:
        raise DumpError(f"{index_path}: cannot read multistream index: {err}") from err
    if not offsets:
        raise DumpError(f"{index_path}: multistream index is empty")
    return sorted(offsets)


def plan_shards(offsets: list[int], file_size: int, n_shards: int) -> list[list[ByteRange]]:
    """Split the page streams into ``n_shards`` contiguous groups of about equal compressed bytes.

    Each shard gets one :class:`ByteRange` (a run of whole streams). The header stream
    ``[0, offsets[0])`` is read by every shard separately. A shard may be empty when there are
    fewer streams than shards.
    """
    if n_shards < 1:
        raise ValueError(f"n_shards must be >= 1, got {n_shards}")
    bounds = offsets + [file_size]
    first, last = bounds[0], bounds[-1]
    shards: list[list[ByteRange]] = []
    start_idx = 0
    for k in range(1, n_shards + 1):
        target = first + (last - first) * k // n_shards
        # the first stream boundary at or after the byte target
        end_idx = len(bounds) - 1 if k == n_shards else bisect.bisect_left(bounds, target, lo=start_idx)
        end_idx = max(end_idx, start_idx)
        if end_idx > start_idx:
            shards.append([ByteRange(bounds[start_idx], bounds[end_idx])])
        else:
            shards.append([])
        start_idx = end_idx
    return shards


# ---------------------------------------------------------------------------------------------
# Byte streams -> XML bytes
# ---------------------------------------------------------------------------------------------


def is_bz2(path: str | Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(3) == b"BZh"


def _decompress_range(handle: BinaryIO, rng: ByteRange, path: Path) -> Iterator[bytes]:
    """Decompress the concatenated bz2 streams in ``rng`` of an open dump file.

    Raises :class:`DumpError` on corrupt data or when the range ends inside a stream (truncation).
    """
    handle.seek(rng.start)
    pos = rng.start  # file offset of the next byte to read
    stream_start = rng.start
    decomp: bz2.BZ2Decompressor | None = None
    while rng.end is None or pos < rng.end:
        chunk = handle.read(READ_CHUNK if rng.end is None else min(READ_CHUNK, rng.end - pos))
        if not chunk:
            break
        chunk_pos = pos
        pos += len(chunk)
        while chunk:
            if decomp is None:
                decomp = bz2.BZ2Decompressor()
                stream_start = chunk_pos
            try:
                out = decomp.decompress(chunk)
            except OSError as err:
                raise DumpError(f"{path}: corrupt bz2 stream starting at byte {stream_start}: {err}") from err
            if out:
                yield out
            if decomp.eof:  # the next stream starts right after this one
                rest = decomp.unused_data
                chunk_pos += len(chunk) - len(rest)
                chunk = rest
                decomp = None
            else:
                chunk = b""
    if decomp is not None:
        raise DumpError(
            f"{path}: truncated bz2 data: the stream starting at byte {stream_start} "
            f"has no end-of-stream marker (input ends at byte {pos})"
        )


def _read_plain(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(READ_CHUNK):
        yield chunk


class _ChunkReader(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks (what ``iterparse`` reads from)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


# ---------------------------------------------------------------------------------------------
# Shards and pages
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DumpShard:
    """One job's share of a dump.

    Multistream: ``ranges`` are this shard's page streams and ``header`` the siteinfo stream.
    Otherwise (plain or single-stream files cannot be seeked into) every shard reads the whole
    file but keeps only pages whose sequence number is ``index`` modulo ``count``: XML parsing is
    cheap next to the wikitext conversion that the other pages skip.
    """

    path: Path
    index: int
    count: int
    ranges: tuple[ByteRange, ...] | None = None
    header: ByteRange | None = None

    @property
    def multistream(self) -> bool:
        return self.ranges is not None


def make_shard(path: str | Path, index_path: str | Path | None, shard: int, n_shards: int) -> DumpShard:
    path = Path(path)
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is outside 0..{n_shards - 1}")
    if not path.exists():
        raise DumpError(f"{path}: dump file not found")
    if index_path is None:
        return DumpShard(path, shard, n_shards)
    if not is_bz2(path):
        raise DumpError(f"{path}: a multistream index was given but the dump is not bz2-compressed")
    offsets = read_stream_offsets(index_path)
    size = path.stat().st_size
    if offsets[-1] >= size:
        raise DumpError(f"{index_path}: offset {offsets[-1]} lies beyond the end of {path} ({size} bytes)")
    plan = plan_shards(offsets, size, n_shards)
    return DumpShard(path, shard, n_shards, tuple(plan[shard]), ByteRange(0, offsets[0]))


def _xml_chunks(shard: DumpShard, handle: BinaryIO) -> Iterator[bytes]:
    if not shard.multistream:
        yield from (
            _decompress_range(handle, ByteRange(0, None), shard.path)
            if is_bz2(shard.path)
            else _read_plain(handle)
        )
        return
    assert shard.header is not None and shard.ranges is not None
    header = b"".join(_decompress_range(handle, shard.header, shard.path))
    yield header
    size = shard.path.stat().st_size
    reaches_end = False
    for rng in shard.ranges:
        yield from _decompress_range(handle, rng, shard.path)
        reaches_end = rng.end is None or rng.end >= size
    if not reaches_end:  # the final stream with </mediawiki> belongs to the last shard only
        yield b"</mediawiki>\n"


def _redirect_from_text(text: str) -> str | None:
    match = _REDIRECT_TEXT.match(text)
    return match.group(1).strip() if match else None


def iter_pages(shard: DumpShard) -> Iterator[RawPage]:
    """Yield the shard's pages in dump order, clearing each element once read."""
    where = f"{shard.path} (shard {shard.index}/{shard.count})"
    last_title = None
    sequence = 0
    with open(shard.path, "rb") as handle:
        context = ET.iterparse(_ChunkReader(_xml_chunks(shard, handle)), events=("start", "end"))
        root = None
        try:
            for event, elem in context:
                if root is None:
                    root = elem
                    if _local(elem.tag) != "mediawiki":
                        raise DumpError(f"{where}: root element is <{_local(elem.tag)}>, not <mediawiki>")
                    continue
                if event != "end" or _local(elem.tag) != "page":
                    continue
                take = shard.multistream or sequence % shard.count == shard.index
                sequence += 1
                if take:
                    page = _page_from_element(elem, where)
                    last_title = page.title
                    yield page
                root.clear()  # drop the finished page: memory stays flat
        except ET.ParseError as err:
            line, column = err.position
            after = f" after page {last_title!r}" if last_title else ""
            raise DumpError(
                f"{where}: malformed XML at line {line}, column {column} of the XML text{after}: {err}"
            ) from err


def _page_from_element(elem: ET.Element, where: str) -> RawPage:
    fields: dict[str, str] = {}
    redirect: str | None = None
    text = ""
    for child in elem:
        name = _local(child.tag)
        if name == "redirect":
            redirect = child.get("title") or ""
        elif name == "revision":
            for rev_child in child:
                if _local(rev_child.tag) == "text":
                    text = rev_child.text or ""
        else:
            fields[name] = child.text or ""
    title = fields.get("title", "")
    try:
        page_id = int(fields["id"])
    except (KeyError, ValueError) as err:
        raise DumpError(f"{where}: page {title!r} has no valid <id>") from err
    ns = int(fields["ns"]) if fields.get("ns", "").strip().lstrip("-").isdigit() else _ns_from_title(title)
    if redirect == "":  # schemas before 0.8 write an empty <redirect/>: read the target from the text
        redirect = _redirect_from_text(text) or ""
    return RawPage(page_id=page_id, title=title, ns=ns, redirect=redirect, text=text)


def _ns_from_title(title: str) -> int:
    # Only needed for very old exports without <ns>; anything with a known prefix is not an article.
    prefix = title.split(":", 1)[0].lower() if ":" in title else ""
    return (
        0
        if prefix
        not in {
            "file",
            "image",
            "template",
            "category",
            "wikipedia",
            "help",
            "portal",
            "user",
            "talk",
            "mediawiki",
            "module",
            "draft",
        }
        else -1
    )
